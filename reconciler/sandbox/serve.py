"""Serve the sandbox on loopback, for any HTTP client (curl, the carriers' official SDKs)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn

from . import Sandbox

LOOPBACK = "127.0.0.1"


def serve(sandbox: Sandbox, *, port: int, host: str = LOOPBACK) -> None:
    """Serve until interrupted. Only loopback addresses are accepted."""
    if not host.startswith("127.") and host not in ("localhost", "::1"):
        raise ValueError(f"the sandbox serves on loopback only, not {host!r}")
    uvicorn.run(sandbox.app, host=host, port=port, log_level="warning", lifespan="off")


@contextmanager
def served(sandbox: Sandbox) -> Iterator[str]:
    """Serve on a free loopback port in a background thread; yields ``http://127.0.0.1:PORT``."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((LOOPBACK, 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(sandbox.app, log_level="warning", lifespan="off", access_log=False)
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("sandbox server did not start")
        time.sleep(0.01)
    try:
        yield f"http://{LOOPBACK}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
