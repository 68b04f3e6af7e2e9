"""Shared by the web tests: a real uvicorn server in a thread, runs to show, and HTTP calls."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
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


_TOKENS: dict[str, str] = {}  # a server's base URL -> its token: call() sends it for that server


def ServerThread(runs: Path, token: str | None = None, no_token: bool = False):
    """The app on a free loopback port, in a thread (ganforge.web.testing.BackgroundServer),
    with a token as ``ganforge serve`` has (``call`` sends it) unless ``no_token``."""
    from ganforge.web.testing import BackgroundServer

    s = BackgroundServer(runs, token, no_token=no_token)
    if s.token:
        _TOKENS[s.url] = s.token
    return s


def call(url: str, body=None, raw: bytes | None = None, headers: dict | None = None, method: str | None = None,
         auth: bool = True):
    """(status, parsed JSON or bytes) without raising on HTTP errors. The token of the test
    server the URL names goes along as X-Ganforge-Token unless ``auth`` is False."""
    data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
    token = next((t for base, t in _TOKENS.items() if url.startswith(base + "/")), None) if auth else None
    sent = {"Content-Type": "application/json", **({"X-Ganforge-Token": token} if token else {}), **(headers or {})}
    req = urllib.request.Request(url, data=data, headers=sent, method=method)
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


def start_serve(runs_dir, *extra: str) -> tuple[subprocess.Popen, str]:
    """``ganforge serve`` in a process of its own: the process, and the line where it printed its
    URL (the process is ended if it never does)."""
    p = subprocess.Popen([sys.executable, "-m", "ganforge", "serve", "--runs", str(runs_dir), "--port", "0", *extra],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = ""
    try:
        while "http://" not in line:
            line = p.stdout.readline()
            assert line or p.poll() is None, p.stderr.read()
        # Answering, so uvicorn's signal handlers are in: a process started with SIGINT ignored
        # (pytest-xdist's workers pass that on) would otherwise drop a Ctrl-C sent before them.
        url, deadline = line[line.index("http://"):].strip(), time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(url, timeout=10).close()
                break
            except urllib.error.HTTPError:
                break  # a refusal (no token) is an answer too
            except OSError:
                assert time.monotonic() < deadline and p.poll() is None, "ganforge serve printed its URL but never answered"
                time.sleep(0.1)
    except BaseException:
        p.kill()
        raise
    return p, line
