"""Assistance's calendar: "today" is the date in China Standard Time, whatever the server's zone.

Replaceable per app (``app.state.assistance_clock``) so that tests can move time through paperwork deadlines,
payment stages and the effective date of a new standard without waiting for them.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import Depends, FastAPI, Request

ZONE = ZoneInfo("Asia/Shanghai")

Clock = Callable[[], date]


def local_today() -> date:
    return datetime.now(ZONE).date()


def clock_of(app: FastAPI) -> Clock:
    clock: Clock = getattr(app.state, "assistance_clock", local_today)
    return clock


def today(request: Request) -> date:
    return clock_of(request.app)()


Today = Annotated[date, Depends(today)]
