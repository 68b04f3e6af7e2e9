"""Shared by the web tests: a real uvicorn server in a thread, runs to show, and HTTP calls."""
from __future__ import annotations

import json
import os
import shutil
import socket
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from conftest import tiny

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def chromium_path() -> str | None:
    for p in (os.environ.get("GANFORGE_CHROMIUM"), "/usr/bin/chromium", "/usr/bin/chromium-browser"):
        if p and Path(p).exists():
            return p
    return shutil.which("chromium") or shutil.which("chromium-browser")


class ServerThread:
    """create_app(...) served by uvicorn on a free loopback port, in a thread."""

    def __init__(self, runs: Path, token: str | None = None):
        import uvicorn

        from ganforge.web.server import create_app

        self.app = create_app(runs, token)
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.server = uvicorn.Server(uvicorn.Config(self.app, log_level="warning", timeout_graceful_shutdown=1))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)
        self.thread.start()
        deadline = time.time() + 60
        while not self.server.started:
            if time.time() > deadline or not self.thread.is_alive():
                raise RuntimeError("the test server did not start")
            time.sleep(0.05)

    @property
    def playground(self):
        return self.app.state.playground

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)


def call(url: str, body=None, raw: bytes | None = None, headers: dict | None = None, method: str | None = None):
    """(status, parsed JSON or bytes) without raising on HTTP errors."""
    data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
    req = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json", **(headers or {})},
                                 method=method)
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            status, payload, ctype = r.status, r.read(), r.headers.get("Content-Type", "")
    except urllib.error.HTTPError as e:
        status, payload, ctype = e.code, e.read(), e.headers.get("Content-Type", "")
    return status, (json.loads(payload) if "json" in ctype else payload)


def make_runs(root: Path) -> Path:
    """Small real runs: 2-D points (ring8, with evaluations), images (digits) and a conditional
    generator (cdigits), for the dashboard and the explorer."""
    import ganforge
    from ganforge import config as C

    ganforge.train(C.from_dict(tiny({"data": {"name": "ring8"}, "model": {"family": "mlp", "nz": 2, "d_norm": "none"}},
                                    train={"steps": 40, "log_every": 5, "sample_every": 10, "ckpt_every": 20,
                                           "eval_every": 20, "eval_n": 200})),
                   out=root / "ring8")
    ganforge.train(C.from_dict(tiny({"data": {"name": "digits"}, "model": {"family": "dcgan"}},
                                    train={"steps": 6, "log_every": 2, "sample_every": 2, "ckpt_every": 3})),
                   out=root / "digits")
    ganforge.train(C.from_dict(tiny({"data": {"name": "digits"}, "model": {"family": "dcgan", "conditional": "concat"}},
                                    train={"steps": 2, "log_every": 1, "sample_every": 2, "ckpt_every": 2})),
                   out=root / "cdigits")
    return root


@pytest.fixture(scope="module")
def runs_dir(tmp_path_factory) -> Path:
    return make_runs(tmp_path_factory.mktemp("runs"))


@pytest.fixture(scope="module")
def server(runs_dir):
    s = ServerThread(runs_dir)
    yield s
    s.stop()
