"""What a request must pass before a route acts on it, in the order ``guard`` stacks them:
every response's security headers; no other site's page (Origin, Sec-Fetch-Site); on
loopback, a Host that names this machine; the token (the printed URL once, then a cookie);
then, in the routes, a post's content type and size (``body_json``, ``body_bytes``).
"""
from __future__ import annotations

import hmac
import ipaddress
import json
from urllib.parse import parse_qsl, urlencode

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ..errors import GanforgeError

MAX_JSON = 1 << 20  # bytes of a JSON request (a drawn set of points, a batch of latents)
MAX_UPLOAD = 2 << 20  # bytes of an uploaded CSV of points
DRAIN = 64 << 20  # an oversized body is read and dropped up to this size before the 413
TOKEN_HEADER = "x-ganforge-token"  # for scripts; a page on another site cannot send it without a preflight

# The pages load their scripts, styles and pictures from this server only; pictures the
# explorer makes arrive as data: URLs, downloads as blob: URLs. No page may frame them.
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; connect-src 'self'; "
       "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
HEADERS = {"content-security-policy": CSP, "x-content-type-options": "nosniff", "referrer-policy": "no-referrer",
           "x-frame-options": "DENY", "cross-origin-resource-policy": "same-origin",
           "cross-origin-opener-policy": "same-origin"}
# Reading these does no work and reveals nothing: a link from another site may open the page.
PUBLIC = ("/", "/favicon.ico")


class BadRequest(GanforgeError):
    status = 400


class Refused(GanforgeError):
    status = 403


class Busy(GanforgeError):
    status = 409


class TooLarge(GanforgeError):
    status = 413


class Unsupported(GanforgeError):
    status = 415


class TooMany(GanforgeError):
    status = 429


def cookie_name(port) -> str:
    """Browsers share cookies between the ports of one host: each server keeps its own."""
    return f"ganforge_token_{port}"


# ------------------------------------------------------------------------------ bodies

async def body_bytes(request: Request, limit: int) -> bytes:
    size = request.headers.get("content-length")
    if size is not None and not (size.isascii() and size.isdigit()):
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


def _no_constants(name: str):
    raise BadRequest(f"the request body is not valid JSON: {name} is not a number in JSON; send finite numbers")


async def body_json(request: Request) -> dict:
    require_type(request, "application/json")
    raw = await body_bytes(request, MAX_JSON)
    try:
        body = json.loads(raw or b"null", parse_constant=_no_constants)
    except RecursionError:
        raise BadRequest("the request body nests too deeply") from None
    except ValueError as e:  # malformed JSON, bad UTF-8, an integer of thousands of digits
        raise BadRequest(f"the request body is not valid JSON: {str(e)[:200]}") from None
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


def guard(app, token: str | None, loopback: bool = True):
    """The app behind its gates (outermost first): headers, same origin, the loopback Host
    names (when listening on loopback), the token (unless there is none: --no-token)."""
    if token:
        app = TokenGate(app, token)
    if loopback:
        app = LoopbackHosts(app)
    return SecurityHeaders(SameOrigin(app))


async def _refuse(scope, receive, send, status: int, message: str, headers: dict | None = None):
    await JSONResponse({"error": message}, status_code=status, headers=headers)(scope, receive, send)


class _Gate:
    def __init__(self, app):
        self.app = app
        self.state = getattr(app, "state", None)  # BackgroundServer reads app.state through the gates


class SecurityHeaders(_Gate):
    """Every response, errors and redirects included, carries HEADERS (unless it set its own)."""

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                have = {k.lower() for k, _ in message.get("headers", [])}
                extra = [(k.encode(), v.encode()) for k, v in HEADERS.items() if k.encode() not in have]
                message = {**message, "headers": list(message.get("headers", [])) + extra}
            await send(message)

        return await self.app(scope, receive, send_with_headers)


class SameOrigin(_Gate):
    """Another site's page can make the browser send GETs (an image tag) and some POSTs here;
    the browser says so in Origin and Sec-Fetch-Site, and such requests are refused."""

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["path"] in PUBLIC or scope["path"].startswith("/static/"):
            return await self.app(scope, receive, send)
        headers = dict(scope.get("headers", []))
        site, origin = headers.get(b"sec-fetch-site"), headers.get(b"origin")
        host = headers.get(b"host", b"").decode("latin-1").lower()
        if site is not None and site not in (b"same-origin", b"none"):
            return await _refuse(scope, receive, send, 403, f"a request from another site ({site.decode('latin-1')}) "
                                 "is refused: open the page from this server")
        if origin is not None and origin.decode("latin-1").lower() != f"http://{host}":
            return await _refuse(scope, receive, send, 403, "a request from another origin is refused: open the page "
                                 "from this server")
        return await self.app(scope, receive, send)


class LoopbackHosts(_Gate):
    """On loopback, a request must name this machine as localhost, 127.0.0.1 or [::1]: a web
    page that rebinds its own name to 127.0.0.1 cannot."""

    ALLOWED = ("localhost", "127.0.0.1", "[::1]")

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http":
            host = dict(scope.get("headers", [])).get(b"host", b"").decode("latin-1")
            name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
            if name.lower() not in self.ALLOWED:
                return await _refuse(scope, receive, send, 403, f"Host {host[:100]!r}: this server answers to localhost, "
                                     "127.0.0.1 or [::1] only (serve with --host for other names)")
        return await self.app(scope, receive, send)


class TokenGate(_Gate):
    """Every request must carry the token: the printed URL's ?token= once, which sets an
    HttpOnly, SameSite=Strict cookie for this port and sends the browser to the same address
    without the token; then the cookie (or, from scripts, the X-Ganforge-Token header)."""

    def __init__(self, app, token: str):
        super().__init__(app)
        self.token = token.encode()

    def ok(self, given: str | None) -> bool:
        return given is not None and hmac.compare_digest(given.encode("utf-8", "replace"), self.token)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = dict(scope.get("headers", []))
        name = cookie_name((scope.get("server") or ("", 0))[1])
        query = parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
        given = next((v for k, v in query if k == "token"), None)
        held = self.ok(self.from_cookie(headers, name)) or self.ok(headers.get(TOKEN_HEADER.encode(), b"").decode("latin-1") or None)
        if not (held or self.ok(given)):
            return await _refuse(scope, receive, send, 401, "this server needs its token: open the URL it printed (…/?token=...)")
        if given is not None and scope["method"] in ("GET", "HEAD"):
            # The token leaves the address bar (and the history); a good cookie is kept, never
            # replaced by a stale ?token= from an old link.
            rest = [(k, v) for k, v in query if k != "token"]
            path = "/" + scope.get("raw_path", scope["path"].encode()).decode("latin-1").lstrip("/\\")
            out = {"location": path + ("?" + urlencode(rest) if rest else ""), "cache-control": "no-store"}
            if not held:
                out["set-cookie"] = f"{name}={self.token.decode()}; HttpOnly; SameSite=Strict; Path=/"
            return await Response(status_code=303, headers=out)(scope, receive, send)
        return await self.app(scope, receive, send)

    @staticmethod
    def from_cookie(headers: dict, name: str) -> str | None:
        """Our cookie among any others (other local servers' cookies, however malformed)."""
        for part in headers.get(b"cookie", b"").decode("latin-1").split(";"):
            key, _, value = part.strip().partition("=")
            if key == name:
                return value.strip('"')
        return None
