"""What a request must pass before a route acts on it: who may ask (the Host allow-list on
loopback, the token off it), what a post may carry (its content type, which is also what
stops cross-site pages, and its size). The routes in server.py read bodies through
``body_json`` and ``body_bytes``; ``guard`` wraps the whole app.
"""
from __future__ import annotations

import contextlib
import hmac
import ipaddress
import json
from http.cookies import CookieError, SimpleCookie
from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.responses import JSONResponse

from ..errors import GanforgeError

MAX_JSON = 1 << 20  # bytes of a JSON request (a drawn set of points, a batch of latents)
MAX_UPLOAD = 2 << 20  # bytes of an uploaded CSV of points
DRAIN = 64 << 20  # an oversized body is read and dropped up to this size before the 413
COOKIE = "ganforge_token"


class BadRequest(GanforgeError):
    status = 400


class TooLarge(GanforgeError):
    status = 413


class Unsupported(GanforgeError):
    status = 415


# ------------------------------------------------------------------------------ bodies

async def body_bytes(request: Request, limit: int) -> bytes:
    size = request.headers.get("content-length")
    if size is not None and not size.isdigit():
        raise BadRequest(f"Content-Length {size!r} is not a number")
    chunks, n, stream = [], 0, request.stream()
    async for chunk in stream:
        n += len(chunk)
        if n > limit:
            # Read the rest (up to DRAIN bytes) and drop it, so that the client, still sending,
            # gets the 413 instead of a broken connection.
            async for rest in stream:
                n += len(rest)
                if n > DRAIN:
                    break
            raise TooLarge(f"request body of {size or 'over ' + str(limit)} bytes: the limit is {limit:,} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def require_type(request: Request, expected: str) -> None:
    """A cross-site page can POST text/plain without asking; application/json and text/csv
    need a CORS preflight, which this server never grants: requiring them stops such requests."""
    got = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if got != expected:
        raise Unsupported(f"Content-Type {got or '(none)'!r}: this endpoint takes {expected}")


async def body_json(request: Request) -> dict:
    require_type(request, "application/json")
    raw = await body_bytes(request, MAX_JSON)
    try:
        body = json.loads(raw or b"null")
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise BadRequest(f"the request body is not valid JSON: {e}") from None
    if not isinstance(body, dict):
        raise BadRequest(f"expected a JSON object as the request body, got {type(body).__name__}")
    return body


# ------------------------------------------------------------------------------ who may ask

def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def guard(app, token: str | None):
    """The app behind its gate: the token when there is one (a server reachable from other
    machines), else the loopback Host names."""
    return TokenGate(app, token) if token else LoopbackHosts(app)


class LoopbackHosts:
    """Without a token the server is for this machine only: a request must name it as
    localhost, 127.0.0.1 or [::1] (a web page that rebinds its own name to 127.0.0.1 cannot)."""

    ALLOWED = ("localhost", "127.0.0.1", "[::1]")

    def __init__(self, app):
        self.app, self.state = app, app.state

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http":
            host = dict(scope.get("headers", [])).get(b"host", b"").decode("latin-1")
            name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
            if name.lower() not in self.ALLOWED:
                response = JSONResponse({"error": f"Host {host!r}: this server answers to localhost, 127.0.0.1 or [::1] "
                                                  "only (serve with --host for other names)"}, status_code=403)
                return await response(scope, receive, send)
        return await self.app(scope, receive, send)


class TokenGate:
    """Every request must carry the token: ?token=... (the printed URL), then a cookie."""

    def __init__(self, app, token: str):
        self.app, self.token = app, token
        self.state = getattr(app, "state", None)

    async def __call__(self, scope, receive, send):
        if scope["type"] not in ("http", "websocket"):
            return await self.app(scope, receive, send)
        given = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("token", [None])[0]
        from_query = given is not None
        if given is None:
            given = self.from_headers(dict(scope.get("headers", [])))
        if given is None or not hmac.compare_digest(given.encode("utf-8", "replace"), self.token.encode()):
            response = JSONResponse({"error": "this server needs its token: open the URL it printed (…/?token=...)"},
                                    status_code=401)
            return await response(scope, receive, send)

        async def send_cookie(message):
            if from_query and message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] = list(message["headers"]) + [
                    (b"set-cookie", f"{COOKIE}={self.token}; HttpOnly; SameSite=Strict; Path=/".encode())]
            await send(message)

        return await self.app(scope, receive, send_cookie)

    @staticmethod
    def from_headers(headers: dict) -> str | None:
        """The token from the cookie the first visit set, or from an X-Ganforge-Token header."""
        cookie = SimpleCookie()
        with contextlib.suppress(CookieError):  # a malformed cookie is no token, not a crash
            cookie.load(headers.get(b"cookie", b"").decode("latin-1"))
        return cookie[COOKIE].value if COOKIE in cookie else headers.get(b"x-ganforge-token", b"").decode("latin-1") or None
