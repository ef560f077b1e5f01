"""The place-name office's calendar: "today" in China Standard Time, whatever the server's zone.

Replaceable per app (``build_app(clock=...)``) so that tests move through a public notice period without waiting.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import Depends, FastAPI, Request

OFFICE_ZONE = ZoneInfo("Asia/Shanghai")

Clock = Callable[[], date]


def office_today() -> date:
    return datetime.now(OFFICE_ZONE).date()


def clock_of(app: FastAPI) -> Clock:
    clock: Clock = getattr(app.state, "placenames_clock", office_today)
    return clock


def today(request: Request) -> date:
    return clock_of(request.app)()


Today = Annotated[date, Depends(today)]
