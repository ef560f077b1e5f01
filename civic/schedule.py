"""Dated jobs inside a service: run at start-up (catching up on downtime), then at an interval, for as long as the
app runs. The jobs must be safe to run twice and from several replicas at once: every service's are (a grant,
a deadline or a recalculation already done is not done again), so no leader is needed."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable

from fastapi import FastAPI

from civic.app import Resource

log = logging.getLogger("civic.schedule")


def periodic(
    name: str, job: Callable[[FastAPI], Awaitable[None]], interval_s: float | Callable[[FastAPI], float]
) -> Resource:
    """A start-up resource (``create_app(resources=[...])``) that runs ``job(app)`` now and every ``interval_s``
    (a number, or read from the app: a setting, or a test's shorter interval). A failed run is logged and tried
    again at the next interval; the app keeps serving."""

    @contextlib.asynccontextmanager
    async def running(app: FastAPI) -> AsyncIterator[None]:
        async def loop() -> None:
            while True:
                interval = interval_s(app) if callable(interval_s) else interval_s
                try:
                    await job(app)
                except Exception:
                    log.exception("%s failed; it runs again in %.0f s", name, interval)
                await asyncio.sleep(interval)

        task = asyncio.create_task(loop(), name=name)
        try:
            yield
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    return running
