"""The app served in a thread of this process, for what drives the pages from Python: the
web tests, the playground benchmark and the script that takes the README's pictures."""
from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

from .playground import Playground
from .server import create_app


class BackgroundServer:
    """create_app(...) served by uvicorn on a free loopback port in a daemon thread:
    ``.url``, ``.app``, ``.playground``, ``.stop()``."""

    def __init__(self, runs: str | Path, token: str | None = None, threads: int = 1, timeout: float = 60):
        import uvicorn

        self.app = create_app(runs, token, threads=threads)
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        self.server = uvicorn.Server(uvicorn.Config(self.app, log_level="warning", timeout_graceful_shutdown=1))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [sock]}, daemon=True)
        self.thread.start()
        deadline = time.time() + timeout
        while not self.server.started:
            if time.time() > deadline or not self.thread.is_alive():
                raise RuntimeError(f"the server for {runs} did not start")
            time.sleep(0.05)

    @property
    def playground(self) -> Playground:
        return self.app.state.playground

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)
