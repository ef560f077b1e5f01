"""Funeral administration's calendar: "today" is the date in China Standard Time, whatever the server's zone.

Replaceable per app (``build_app(clock=...)``) so that tests can say what day it is.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import Depends, Request

ZONE = ZoneInfo("Asia/Shanghai")

Clock = Callable[[], date]


def local_today() -> date:
    return datetime.now(ZONE).date()


def today(request: Request) -> date:
    clock: Clock = getattr(request.app.state, "funeral_clock", local_today)
    return clock()


Today = Annotated[date, Depends(today)]
