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


STOP_WAIT_S = 10.0


def periodic(
    name: str, job: Callable[[FastAPI], Awaitable[None]], interval_s: float | Callable[[FastAPI], float]
) -> Resource:
    """A start-up resource (``create_app(resources=[...])``) that runs ``job(app)`` now and every ``interval_s``
    (a number, or read from the app: a setting, or a test's shorter interval). A failed run is logged and tried
    again at the next interval; the app keeps serving.

    At shutdown a run in hand may finish (up to ``STOP_WAIT_S``) before the loop stops: a job cut off in the middle
    of a database call (its transaction rolls back) could leave the driver's connection waiting on a pool the
    app is closing at that moment."""

    @contextlib.asynccontextmanager
    async def running(app: FastAPI) -> AsyncIterator[None]:
        stopping = asyncio.Event()

        async def loop() -> None:
            while not stopping.is_set():
                interval = interval_s(app) if callable(interval_s) else interval_s
                try:
                    await job(app)
                except Exception:
                    log.exception("%s failed; it runs again in %.0f s", name, interval)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stopping.wait(), timeout=interval)

        task = asyncio.create_task(loop(), name=name)
        try:
            yield
        finally:
            stopping.set()
            try:
                await asyncio.wait_for(asyncio.shield(task), timeout=STOP_WAIT_S)
            except TimeoutError:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)

    return running
