"""Real HTTP servers for the gateway's tests and benchmark: an ASGI app under uvicorn on 127.0.0.1, in the
caller's event loop, that can be stopped and started again on the same port (a service going down and back)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import uvicorn
from starlette.types import ASGIApp


def _bound_socket(port: int = 0) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    return sock


@dataclass
class LiveServer:
    app: ASGIApp
    lifespan: str = "off"
    port: int = 0
    _server: uvicorn.Server | None = field(default=None, repr=False)
    _task: asyncio.Task[None] | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        sock = _bound_socket(self.port)
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(self.app, lifespan=self.lifespan, log_level="warning", access_log=False)  # type: ignore[arg-type]
        self._server = uvicorn.Server(config)
        self._task = asyncio.create_task(self._server.serve(sockets=[sock]))
        while not self._server.started:
            if self._task.done():
                await self._task  # it failed to start: raise why
            await asyncio.sleep(0.01)

    async def stop(self) -> None:
        if self._server is None or self._task is None:
            return
        self._server.should_exit = True
        await self._task
        self._server = self._task = None


@contextlib.asynccontextmanager
async def live(app: ASGIApp, lifespan: str = "off") -> AsyncIterator[LiveServer]:
    server = LiveServer(app, lifespan)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()
