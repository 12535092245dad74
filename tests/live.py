"""Run ASGI apps with uvicorn on loopback ports inside the test's event loop."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from typing import AsyncIterator, Callable

import uvicorn
from starlette.types import ASGIApp


def bind_loopback() -> socket.socket:
    """Return a listening-ready socket on 127.0.0.1 with a free port."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


def url_of(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://{host}:{port}"


@contextlib.asynccontextmanager
async def serve(app: ASGIApp, sock: socket.socket) -> AsyncIterator[str]:
    """Serve ``app`` with uvicorn on ``sock`` until the block ends; yield its base URL."""
    config = uvicorn.Config(app, lifespan="on", log_level="warning", access_log=False)
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    for _ in range(500):
        if server.started or task.done():
            break
        await asyncio.sleep(0.01)
    if task.done():
        task.result()
        raise RuntimeError("uvicorn exited before it started")
    try:
        yield url_of(sock)
    finally:
        server.should_exit = True
        await task


async def wait_for(condition: Callable[[], object], timeout: float = 10.0, interval: float = 0.05) -> object:
    """Poll ``condition`` (sync or async) until it returns a truthy value, or fail after ``timeout`` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        value = condition()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        if loop.time() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        await asyncio.sleep(interval)
