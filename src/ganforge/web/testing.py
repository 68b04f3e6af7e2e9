"""The app served in a thread of this process, for what drives the pages from Python: the
web tests, the playground benchmark and the script that takes the README's pictures."""
from __future__ import annotations

import secrets
import socket
import threading
import time
from pathlib import Path

from .gates import TOKEN_HEADER
from .playground import Playground
from .server import create_app


class BackgroundServer:
    """create_app(...) served by uvicorn on a free loopback port in a daemon thread:
    ``.url``, ``.app``, ``.playground``, ``.stop()``.

    As ``ganforge serve``, it has a token unless ``no_token``: a random one, or ``token``.
    A browser opens ``.login(fragment)`` first (the printed URL: it sets the cookie and sends
    the page on without the token); a script sends ``.headers`` with each request."""

    def __init__(self, runs: str | Path, token: str | None = None, threads: int = 1, timeout: float = 60,
                 no_token: bool = False):
        import uvicorn

        self.token = None if no_token else (token or secrets.token_urlsafe(16))
        self.headers = {TOKEN_HEADER: self.token} if self.token else {}
        self.app = create_app(runs, self.token, threads=threads)
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

    def login(self, fragment: str = "") -> str:
        """The URL to open first in a browser: the page (``fragment``: "#/runs/NAME"...), with the token."""
        return f"{self.url}/" + (f"?token={self.token}" if self.token else "") + fragment

    @property
    def playground(self) -> Playground:
        return self.app.state.playground

    def stop(self) -> None:
        self.playground.request_stop()  # the frame streams end first, as under ganforge serve's Ctrl-C
        self.server.should_exit = True
        self.thread.join(timeout=30)
