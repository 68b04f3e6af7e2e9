"""``ganforge serve``: the workbench in the browser, a client of the library.

Starlette routes over three parts: the playground (playground.py: a GAN on 2-D points
trained in a thread, frames streamed as server-sent events), the dashboard (runs_view.py:
run directories read, never written) and the latent explorer (explorer.py: a run's
generator through the safe checkpoint loader). What a request must pass first (the Host
or the token, a post's content type and size) is in gates.py. Every error is a JSON object
naming what was wrong; the server keeps running.
"""
from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import socket
import sys
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
from .playground import Playground

STATIC = Path(__file__).parent / "static"
STREAM_POLL = 1 / 100  # seconds between looks for a new frame


def status_of(e: Exception) -> int:
    if isinstance(e, runs_view.NotFound):
        return 404
    if isinstance(e, runs_view.Forbidden):
        return 403
    return getattr(e, "status", 400)


def api(handler):
    """Run a handler; any failure becomes {"error": ...} with a fitting status."""
    async def endpoint(request: Request):
        try:
            return await handler(request)
        except HTTPException:
            raise
        except (GanforgeError, CheckpointError) as e:
            return JSONResponse({"error": str(e)}, status_code=status_of(e))
        except Exception as e:  # a bug: say so, keep serving
            print(f"ganforge serve: error in {request.url.path}: {type(e).__name__}: {e}", file=sys.stderr)
            return JSONResponse({"error": f"internal error in {request.url.path}: {type(e).__name__}: {e}"}, status_code=500)
    return endpoint


def query(request: Request, key: str) -> str:
    v = request.query_params.get(key)
    if not v:
        raise BadRequest(f"missing query parameter {key!r}")
    return v


def query_int(request: Request, key: str, default: int) -> int:
    v = request.query_params.get(key)
    if v is None:
        return default
    if not v.isdigit():
        raise BadRequest(f"query parameter {key} = {v!r}: expected a non-negative integer")
    return int(v)


# ------------------------------------------------------------------------------ playground

async def pg_state(request: Request):
    pg: Playground = request.app.state.playground
    return JSONResponse({**pg.state(), "objectives": objectives.OBJECTIVES.names(), "datasets": pg.datasets()})


async def pg_control(request: Request):
    body = await body_json(request)
    action = body.get("action")
    if not isinstance(action, str):
        raise BadRequest("expected {\"action\": \"play\"} (play, pause, slow, fast, reset, step, d_step, g_step)")
    return JSONResponse(await run_in_threadpool(request.app.state.playground.control, action))


async def pg_settings(request: Request):
    body = await body_json(request)
    return JSONResponse(await run_in_threadpool(request.app.state.playground.update, body))


async def pg_points(request: Request):
    body = await body_json(request)
    pts = body.get("points")
    if not isinstance(pts, list) or not all(isinstance(p, list) and len(p) == 2 and all(
            isinstance(c, (int, float)) and not isinstance(c, bool) for c in p) for p in pts):
        raise BadRequest("points: expected a list of [x, y] number pairs")
    import numpy as np

    return JSONResponse(await run_in_threadpool(request.app.state.playground.set_points, np.array(pts, dtype=float).reshape(-1, 2)))


async def pg_upload(request: Request):
    """A CSV of x,y rows as the request body (text/csv)."""
    import tempfile

    from ..data.toy2d import read_points_csv

    require_type(request, "text/csv")
    raw = await body_bytes(request, MAX_UPLOAD)
    with tempfile.TemporaryDirectory() as tmp:
        p = Path(tmp) / "upload.csv"
        p.write_bytes(raw)
        try:
            pts = read_points_csv(p)
        except GanforgeError as e:
            raise BadRequest(str(e).replace(str(p), "the uploaded CSV")) from None
    return JSONResponse(await run_in_threadpool(request.app.state.playground.set_points, pts.numpy()))


async def pg_save(request: Request):
    body = await body_json(request)
    name = body.get("name") or "playground"
    if not isinstance(name, str) or not all(c.isalnum() or c in "-_." for c in name) or name.startswith("."):
        raise BadRequest(f"name {name!r}: use letters, digits, '-', '_' and '.' (not starting with '.')")
    root = request.app.state.runs
    run = await run_in_threadpool(request.app.state.playground.save_run, root, name)
    return JSONResponse({"run": run.relative_to(root).as_posix(), "path": str(run)})


async def pg_stream(request: Request):
    """Server-sent events: each new frame, with the curve rows and health events since the last."""
    pg: Playground = request.app.state.playground

    async def events():
        last, gen, rows_at, events_at = -1, -1, 0, 0
        yield "retry: 1000\n\n"
        while not pg.stopped:
            if pg.frame_id != last:
                if pg.generation != gen:  # a reset: the page starts its curves again
                    gen, rows_at, events_at = pg.generation, pg.rows_base, 0
                last, frame, t = pg.frame_id, pg.frame, pg.frame_time
                rows, base = pg.rows, pg.rows_base
                new_rows = rows[max(rows_at - base, 0):]
                rows_at = base + len(rows)
                new_events = pg.events[events_at:]
                events_at += len(new_events)
                state = json.dumps({**pg.state(), "generation": gen, "t": t})
                yield (f'data: {{"state":{state},"frame":{frame},"rows":{json.dumps(new_rows)},'
                       f'"events":{json.dumps(new_events)}}}\n\n')
            await asyncio.sleep(STREAM_POLL)

    return StreamingResponse(events(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


# ------------------------------------------------------------------------------- dashboard

async def runs_list(request: Request):
    root = request.app.state.runs
    return JSONResponse({"root": str(root), "runs": await run_in_threadpool(runs_view.list_runs, root)})


async def run_detail(request: Request):
    name, since = query(request, "name"), query_int(request, "since", 0)
    return JSONResponse(await run_in_threadpool(runs_view.detail, request.app.state.runs, name, since))


async def run_file(request: Request):
    """A file inside the runs directory (a sample grid, a plot); nothing outside it."""
    rel = query(request, "path")
    p = runs_view.inside(request.app.state.runs, rel)
    if not p.is_file():
        raise runs_view.NotFound(f"path {rel!r}: no such file in the runs directory")
    if p.suffix.lower() not in (".png", ".gif", ".jpg", ".yaml", ".jsonl", ".json", ".html", ".txt", ".csv"):
        raise runs_view.Forbidden(f"path {rel!r}: only pictures and text files are served, not {p.suffix or 'files without a suffix'}")
    return FileResponse(p)


# -------------------------------------------------------------------------------- explorer

async def ex_info(request: Request):
    explorer = request.app.state.explorer
    return JSONResponse(await run_in_threadpool(explorer.info, query(request, "run"), 16, query_int(request, "seed", 0)))


def ex_post(method: str):
    async def endpoint(request: Request):
        body = await body_json(request)
        run = body.get("run")
        if not isinstance(run, str) or not run:
            raise BadRequest("run: name the run whose generator to use (\"run\": \"NAME\")")
        fn = getattr(request.app.state.explorer, method)
        out = await run_in_threadpool(fn, run, body)
        if isinstance(out, bytes):
            return Response(out, media_type="application/zip",
                            headers={"Content-Disposition": 'attachment; filename="ganforge-latents.zip"'})
        return JSONResponse(out)
    return endpoint


# -------------------------------------------------------------------------------- the app

async def index(request: Request):
    return FileResponse(STATIC / "index.html")


async def not_found(request: Request, exc: HTTPException):
    return JSONResponse({"error": f"{request.method} {request.url.path}: {exc.detail}"}, status_code=exc.status_code)


def create_app(runs: str | Path = "runs", token: str | None = None, threads: int = 1) -> Starlette:
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
          for m in ("render", "interpolate", "arithmetic", "download")],
        Mount("/static", StaticFiles(directory=STATIC)),
    ]
    app = Starlette(routes=routes, lifespan=lifespan, exception_handlers={HTTPException: not_found})
    app.state.runs = runs
    app.state.explorer = Explorer(runs)
    return guard(app, token)


def serve(runs: str | Path = "runs", host: str = "127.0.0.1", port: int = 8765, threads: int = 1) -> None:
    """Run the server until Ctrl-C; prints its URL (with the token off loopback)."""
    import uvicorn

    token = None if is_loopback(host) else secrets.token_urlsafe(16)
    if token:
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
    print(f"ganforge serve: runs from {Path(runs).resolve()}\n  http://{shown}:{bound}/" + (f"?token={token}" if token else ""),
          flush=True)
    app = create_app(runs, token, threads)

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

