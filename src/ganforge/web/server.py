"""``ganforge serve``: the workbench in the browser, a client of the library.

Starlette routes over three parts: the playground (playground.py: a GAN on 2-D points
trained in a thread, frames streamed as server-sent events), the dashboard (runs_view.py:
run directories read, never written) and the latent explorer (explorer.py: a run's
generator through the safe checkpoint loader). What a request must pass first (headers,
same origin, the Host, the token, a post's content type and size) is in gates.py; the
bounds of every value a page sends, in inputs.py and knobs.py. Every error is a JSON object
with a sentence about the request (4xx), never a path of this machine or a traceback; a
bug answers 500 with a sentence and leaves its traceback in the server's log.
"""
from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import secrets
import socket
import sys
import threading
import time
import traceback
from pathlib import Path

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from .. import objectives
from ..errors import CheckpointError, GanforgeError
from . import runs_view
from .explorer import Explorer
from .gates import MAX_UPLOAD, BadRequest, body_bytes, body_json, guard, is_loopback, require_type
from .inputs import MAX_SEED, Limit
from .inputs import query_int as bounded_query
from .playground import Playground

STATIC = Path(__file__).parent / "static"
STREAM_POLL = 1 / 100  # seconds between looks for a new frame
MAX_STREAMS = 8  # frame streams open at once (a page holds one)
STREAM_SECONDS = 600  # a stream's lifetime: then it ends, and the page's EventSource reconnects
# What /api/file serves, and as what: pictures as pictures, text as plain text, arrays as
# downloads; never HTML or SVG, which a browser would run as a page of this server.
FILE_TYPES = {".png": "image/png", ".gif": "image/gif", ".jpg": "image/jpeg", ".jpeg": "image/jpeg",
              ".json": "application/json", ".jsonl": "text/plain; charset=utf-8", ".yaml": "text/plain; charset=utf-8",
              ".txt": "text/plain; charset=utf-8", ".csv": "text/plain; charset=utf-8", ".npz": "application/octet-stream"}
FILE_CSP = "default-src 'none'; sandbox"  # a file opened on its own is inert


class SafeJSON(JSONResponse):
    """JSON that never fails on what a run's files may hold: NaN and Inf become null."""

    def render(self, content) -> bytes:
        # ASCII: a lone surrogate from a request ("\ud800") is echoed as an escape, not a crash
        return json.dumps(runs_view.json_safe(content), ensure_ascii=True, allow_nan=False,
                          separators=(",", ":")).encode("ascii")


def status_of(e: Exception) -> int:
    if isinstance(e, runs_view.NotFound):
        return 404
    if isinstance(e, runs_view.Forbidden):
        return 403
    return getattr(e, "status", 400)


_PATH = re.compile(r"(?<![\w.:/])/(?:[^\s'\"(),:;]+/)+([^\s'\"(),:;/]*)")


def scrub(message: str, root: Path) -> str:
    """An error's words without this machine's paths: a run's files by their names in
    --runs, any other absolute path by its last part."""
    message = message.replace(str(root) + "/", "").replace(str(root), "the runs directory")
    return _PATH.sub(lambda m: m.group(1) or "a folder", message)[:1000]


def api(handler):
    """Run a handler; any failure becomes {"error": ...} with a fitting status."""
    async def endpoint(request: Request):
        try:
            return await handler(request)
        except HTTPException:
            raise
        except (GanforgeError, CheckpointError) as e:
            return SafeJSON({"error": scrub(str(e), request.app.state.runs)}, status_code=status_of(e))
        except RecursionError:
            return SafeJSON({"error": "the request or the run's data nests too deeply"}, status_code=422)
    return endpoint


async def internal_error(request: Request, exc: Exception):
    """A bug: the page gets a sentence, the server's log the traceback."""
    print(f"ganforge serve: error in {request.method} {request.url.path}:", file=sys.stderr)
    traceback.print_exception(type(exc), exc, exc.__traceback__, file=sys.stderr)
    return JSONResponse({"error": "internal error while answering this request; the server's log has the details"},
                        status_code=500)


def query(request: Request, key: str) -> str:
    v = request.query_params.get(key)
    if not v:
        raise BadRequest(f"missing query parameter {key!r}")
    return v


def query_int(request: Request, key: str, default: int, hi: int = 10**9) -> int:
    return bounded_query(request.query_params, key, default, hi)


# ------------------------------------------------------------------------------ playground

async def pg_state(request: Request):
    pg: Playground = request.app.state.playground
    return SafeJSON({**pg.state(), "objectives": objectives.OBJECTIVES.names(), "datasets": pg.datasets()})


async def pg_control(request: Request):
    body = await body_json(request)
    action = body.get("action")
    if not isinstance(action, str):
        raise BadRequest("expected {\"action\": \"play\"} (play, pause, slow, fast, reset, step, d_step, g_step)")
    return SafeJSON(await run_in_threadpool(request.app.state.playground.control, action))


async def pg_settings(request: Request):
    body = await body_json(request)
    return SafeJSON(await run_in_threadpool(request.app.state.playground.update, body))


async def pg_points(request: Request):
    body = await body_json(request)
    pts = body.get("points")
    if not isinstance(pts, list) or not all(isinstance(p, list) and len(p) == 2 and all(
            isinstance(c, (int, float)) and not isinstance(c, bool) and abs(c) < 1e300 for c in p) for p in pts):
        raise BadRequest("points: expected a list of [x, y] number pairs (finite numbers)")
    import numpy as np

    return SafeJSON(await run_in_threadpool(request.app.state.playground.set_points, np.array(pts, dtype=float).reshape(-1, 2)))


async def pg_upload(request: Request):
    """A CSV of x,y rows as the request body (text/csv)."""
    import tempfile

    from ..data.toy2d import read_points_csv

    require_type(request, "text/csv")
    raw = await body_bytes(request, MAX_UPLOAD)
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        raise BadRequest("the uploaded CSV is not UTF-8 text") from None
    with tempfile.TemporaryDirectory() as tmp:
        p = Path(tmp) / "upload.csv"
        p.write_bytes(raw)
        try:
            pts = read_points_csv(p)
        except GanforgeError as e:
            raise BadRequest(str(e).replace(str(p), "the uploaded CSV")) from None
    return SafeJSON(await run_in_threadpool(request.app.state.playground.set_points, pts.numpy()))


async def pg_save(request: Request):
    body = await body_json(request)
    name = body.get("name") or "playground"
    if not isinstance(name, str) or len(name) > 100 or not all(c.isascii() and (c.isalnum() or c in "-_.") for c in name) \
            or name.startswith("."):
        raise BadRequest(f"name {str(name)[:40]!r}: up to 100 letters, digits, '-', '_' and '.' (not starting with '.')")
    root = request.app.state.runs
    run = await run_in_threadpool(request.app.state.playground.save_run, root, name)
    return SafeJSON({"run": run.relative_to(root).as_posix()})


async def pg_stream(request: Request):
    """Server-sent events: each new frame, with the curve rows and health events since the
    last (the first message of a stream says "first": the page starts its curves again).
    At most MAX_STREAMS at once, each for STREAM_SECONDS; the page reconnects by itself."""
    pg: Playground = request.app.state.playground
    app = request.app
    if app.state.streams >= MAX_STREAMS:
        raise Limit(f"{MAX_STREAMS} frame streams are open already; close a playground tab")
    app.state.streams += 1

    async def events():
        last, gen, rows_at, events_at, first = -1, -1, 0, 0, True
        end = time.monotonic() + STREAM_SECONDS
        try:
            yield "retry: 1000\n\n"
            while not pg.stopped and time.monotonic() < end:
                if pg.frame_id != last:
                    if pg.generation != gen:  # a reset: the page starts its curves again
                        gen, rows_at, events_at = pg.generation, pg.rows_base, pg.events_base
                    last, frame, t = pg.frame_id, pg.frame, pg.frame_time
                    rows, base = pg.rows, pg.rows_base
                    new_rows = rows[max(rows_at - base, 0):]
                    rows_at = base + len(rows)
                    events, ebase = pg.events, pg.events_base
                    new_events = events[max(events_at - ebase, 0):]
                    events_at = ebase + len(events)
                    state = json.dumps(runs_view.json_safe({**pg.state(), "generation": gen, "t": t, "first": first}))
                    first = False
                    yield (f'data: {{"state":{state},"frame":{frame},"rows":{json.dumps(runs_view.json_safe(new_rows))},'
                           f'"events":{json.dumps(runs_view.json_safe(new_events))}}}\n\n')
                await asyncio.sleep(STREAM_POLL)
        finally:
            app.state.streams -= 1

    return StreamingResponse(events(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


# ------------------------------------------------------------------------------- dashboard

async def runs_list(request: Request):
    root = request.app.state.runs
    return SafeJSON({"root": str(root), "runs": await run_in_threadpool(runs_view.list_runs, root)})


async def run_detail(request: Request):
    name, since = query(request, "name"), query_int(request, "since", 0)
    return SafeJSON(await run_in_threadpool(runs_view.detail, request.app.state.runs, name, since))


async def run_file(request: Request):
    """A file inside the runs directory (a sample grid, a plot); nothing outside it."""
    rel = query(request, "path")
    p = runs_view.inside(request.app.state.runs, rel)
    kind = FILE_TYPES.get(p.suffix.lower())
    if kind is None:
        raise runs_view.Forbidden(f"path {rel[:200]!r}: only pictures, text and arrays are served "
                                  f"({', '.join(FILE_TYPES)}), not {p.suffix[:20] or 'files without a suffix'}")
    if not p.is_file():
        raise runs_view.NotFound(f"path {rel[:200]!r}: no such file in the runs directory")
    how = "attachment" if kind == "application/octet-stream" else "inline"
    return FileResponse(p, media_type=kind, content_disposition_type=how, filename=p.name,
                        headers={"Content-Security-Policy": FILE_CSP})


# -------------------------------------------------------------------------------- explorer

async def ex_info(request: Request):
    explorer = request.app.state.explorer
    seed = query_int(request, "seed", 0, MAX_SEED)
    return SafeJSON(await run_in_threadpool(explorer.info, query(request, "run"), 16, seed))


def ex_post(method: str):
    async def endpoint(request: Request):
        body = await body_json(request)
        run = body.get("run")
        if not isinstance(run, str) or not run:
            raise BadRequest("run: name the run whose generator to use (\"run\": \"NAME\")")
        out = await run_in_threadpool(request.app.state.explorer.work, method, run, body)
        if isinstance(out, bytes):
            return Response(out, media_type="application/zip",
                            headers={"Content-Disposition": 'attachment; filename="ganforge-latents.zip"'})
        return SafeJSON(out)
    return endpoint


# -------------------------------------------------------------------------------- the app

async def index(request: Request):
    return FileResponse(STATIC / "index.html")


async def not_found(request: Request, exc: HTTPException):
    return JSONResponse({"error": f"{request.method} {request.url.path[:200]}: {exc.detail}"}, status_code=exc.status_code)


def create_app(runs: str | Path = "runs", token: str | None = None, threads: int = 1, loopback: bool = True) -> Starlette:
    """The app behind its gates; ``token`` None serves without one (--no-token), ``loopback``
    keeps the Host allow-list (a server listening on 127.0.0.1)."""
    runs = Path(runs).resolve()

    @contextlib.asynccontextmanager
    async def lifespan(app):
        app.state.playground = Playground(threads=threads)
        try:
            yield
        finally:
            app.state.playground.stop()  # the training thread ends before the server does

    routes = [
        Route("/", index),
        Route("/favicon.ico", lambda request: Response(status_code=204)),
        Route("/api/playground", api(pg_state)),
        Route("/api/playground/stream", api(pg_stream)),
        Route("/api/playground/control", api(pg_control), methods=["POST"]),
        Route("/api/playground/settings", api(pg_settings), methods=["POST"]),
        Route("/api/playground/points", api(pg_points), methods=["POST"]),
        Route("/api/playground/upload", api(pg_upload), methods=["POST"]),
        Route("/api/playground/save", api(pg_save), methods=["POST"]),
        Route("/api/runs", api(runs_list)),
        Route("/api/run", api(run_detail)),
        Route("/api/file", api(run_file)),
        Route("/api/explore/info", api(ex_info)),
        *[Route(f"/api/explore/{m}", api(ex_post(m)), methods=["POST"])
          for m in ("render", "interpolate", "arithmetic", "download", "project", "directions")],
        Mount("/static", StaticFiles(directory=STATIC)),
    ]
    app = Starlette(routes=routes, lifespan=lifespan,
                    exception_handlers={HTTPException: not_found, Exception: internal_error})
    app.state.runs = runs
    app.state.explorer = Explorer(runs)
    app.state.streams = 0
    return guard(app, token, loopback)


def serve(runs: str | Path = "runs", host: str = "127.0.0.1", port: int = 8765, threads: int = 1,
          no_token: bool = False) -> None:
    """Run the server until Ctrl-C; prints its URL, which carries the token (unless ``no_token``)."""
    import uvicorn

    loopback = is_loopback(host)
    if no_token and not loopback:
        raise GanforgeError(f"--no-token with --host {host}: a server reachable from other machines needs its token; "
                            "drop --no-token, or listen on 127.0.0.1")
    token = None if no_token else secrets.token_urlsafe(16)
    if no_token:
        print("ganforge serve: warning: --no-token: every user and program on this machine can use this server "
              "(train, read and write runs under --runs) as you", file=sys.stderr)
    elif not loopback:
        print(f"ganforge serve: warning: listening on {host}, reachable from other machines; every request "
              "must carry the token in the URL below. Bind 127.0.0.1 (the default) to keep it local.", file=sys.stderr)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as e:
        raise GanforgeError(f"--host {host} --port {port}: cannot listen there ({e.strerror or e})") from None
    bound = sock.getsockname()[1]
    shown = f"[{host}]" if ":" in host else host
    app = create_app(runs, token, threads, loopback)  # before the URL: a user (or a test) who sees it may use it or press Ctrl-C
    print(f"ganforge serve: runs from {Path(runs).resolve()}\n  http://{shown}:{bound}/" + (f"?token={token}" if token else ""),
          flush=True)

    class Server(uvicorn.Server):
        def handle_exit(self, sig, frame):
            # Ctrl-C: end the frame streams first, so open pages do not hold the shutdown up
            pg = getattr(app.state, "playground", None)
            if pg is not None:
                pg.request_stop()
            super().handle_exit(sig, frame)

    server = Server(uvicorn.Config(app, log_level="warning", timeout_graceful_shutdown=5))
    try:
        server.run(sockets=[sock])  # Ctrl-C: uvicorn shuts down (the lifespan stops training), then re-raises
    except KeyboardInterrupt:
        pass
    print("ganforge serve: stopped", flush=True)
    _leave()


def _leave(grace: float = 5.0) -> None:
    """A request still computing in a worker thread (which Python waits for at exit) gets a
    few seconds; then the process ends anyway: Ctrl-C always ends the server."""
    deadline = time.monotonic() + grace
    for t in threading.enumerate():
        if t is not threading.current_thread() and not t.daemon:
            t.join(max(0.0, deadline - time.monotonic()))
    if any(t.is_alive() and not t.daemon for t in threading.enumerate() if t is not threading.current_thread()):
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)
