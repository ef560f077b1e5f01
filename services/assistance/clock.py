"""Assistance's calendar: "today" as the service counts paperwork deadlines, payment months and effective dates.

The calendar is the kernel's (``civic.clock``: China Standard Time, moved forward on a local system when
``CIVIC_CLOCK_OFFSET_FILE`` says so); replaceable per app (``app.state.assistance_clock``) so that tests
move time through paperwork deadlines, payment stages and a new standard's effective date without waiting.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import Depends, FastAPI, Request

from civic.clock import Clock, china_today, clock_for

__all__ = ["Clock", "Today", "china_today", "clock_of", "today"]


def clock_of(app: FastAPI) -> Clock:
    clock: Clock | None = getattr(app.state, "assistance_clock", None)
    return clock if clock is not None else clock_for(app.state.service.settings)


async def today(request: Request) -> date:  # async: no worker-thread hop per request
    return clock_of(request.app)()


Today = Annotated[date, Depends(today)]
