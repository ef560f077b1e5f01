"""Eldercare's calendar: "today" as the service counts ages (60 to be registered, 80 for the age allowance),
visits due, and what may not be recorded ahead of time.

The calendar is the kernel's (``civic.clock``: China Standard Time, moved forward on a local system when
``CIVIC_CLOCK_OFFSET_FILE`` says so); replaceable per app (``build_app(clock=...)``, or ``app.state.eldercare_clock``)
so that tests choose the day an elder turns 80 or a visit falls due without waiting for it.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated

from fastapi import Depends, FastAPI, Request

from civic.clock import CHINA, Clock, china_today, clock_for

__all__ = ["CHINA", "Clock", "Today", "china_date_of", "china_today", "clock_of", "today"]


def clock_of(app: FastAPI) -> Clock:
    clock: Clock | None = getattr(app.state, "eldercare_clock", None)
    return clock if clock is not None else clock_for(app.state.service.settings)


async def today(request: Request) -> date:  # async: no worker-thread hop per request
    return clock_of(request.app)()


Today = Annotated[date, Depends(today)]


def china_date_of(at: datetime) -> date:
    """The day in China on which ``at`` happened. Timestamps are stored in UTC and come back from the database
    without a zone; the UTC date of one taken before 08:00 in China is the day before."""
    return (at if at.tzinfo is not None else at.replace(tzinfo=UTC)).astimezone(CHINA).date()
