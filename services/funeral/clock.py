"""Funeral administration's calendar: "today" as the service dates registrations and benefits.

The calendar is the kernel's (``civic.clock``: China Standard Time, moved forward on a local system when
``CIVIC_CLOCK_OFFSET_FILE`` says so); replaceable per app (``build_app(clock=...)``) so that tests can say what day it is.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import Depends, FastAPI, Request

from civic.clock import Clock, china_today, clock_for

__all__ = ["Clock", "Today", "china_today", "clock_of", "today"]


def clock_of(app: FastAPI) -> Clock:
    clock: Clock | None = getattr(app.state, "funeral_clock", None)
    return clock if clock is not None else clock_for(app.state.service.settings)


async def today(request: Request) -> date:  # async: no worker-thread hop per request
    return clock_of(request.app)()


Today = Annotated[date, Depends(today)]
