"""Serving the console: the socket bound first (so a busy port is an error the caller sees), then uvicorn,
in the foreground for ``onthedot ui`` or in a thread beside the local cloud."""

from __future__ import annotations

import ipaddress
import socket
import threading
import time
from dataclasses import dataclass

import uvicorn
from starlette.types import ASGIApp

from onthedot.ui.options import LOOPBACK

__all__ = ["LOOPBACK", "Background", "bind", "is_loopback", "run", "start", "url_of"]

START_SECONDS = 10.0


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port``; raises OSError (port taken, address not ours)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host.strip("[]"), port))
        sock.listen(128)
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


def url_of(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}/"


def _server(app: ASGIApp) -> uvicorn.Server:
    config = uvicorn.Config(
        app, log_level="warning", access_log=False, lifespan="off", server_header=False, proxy_headers=False
    )
    return uvicorn.Server(config)


def run(app: ASGIApp, sock: socket.socket) -> None:
    """Serve until Ctrl-C (uvicorn's own signal handling)."""
    _server(app).run(sockets=[sock])


@dataclass
class Background:
    url: str
    server: uvicorn.Server
    thread: threading.Thread

    def stop(self, timeout: float = 5.0) -> None:
        self.server.should_exit = True
        self.thread.join(timeout)


def start(app: ASGIApp, sock: socket.socket) -> Background:
    """Serve in a daemon thread; returns once it accepts requests."""
    server = _server(app)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="onthedot-ui", daemon=True)
    thread.start()
    deadline = time.monotonic() + START_SECONDS
    while not server.started and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.02)
    if not server.started:
        server.should_exit = True
        raise RuntimeError("the console did not start")
    return Background(url_of(sock), server, thread)
