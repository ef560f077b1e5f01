"""The registry's calendar: "today" is the date in China Standard Time, whatever the server's zone.

The clock is replaceable per app (``build_app(clock=...)``) so that tests can move time through the 30 + 30 days
of a divorce application without waiting for them.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import Depends, Request

REGISTRY_ZONE = ZoneInfo("Asia/Shanghai")

Clock = Callable[[], date]


def registry_today() -> date:
    return datetime.now(REGISTRY_ZONE).date()


def today(request: Request) -> date:
    clock: Clock = getattr(request.app.state, "marriage_clock", registry_today)
    return clock()


Today = Annotated[date, Depends(today)]
