"""The services' calendar: "today" is the date in China Standard Time, whatever the server's zone.

Civil-affairs periods are counted in days (a divorce's 30-day cooling-off, a name's public notice, an allowance
from the month someone turns 80), so a service asks this module what day it is rather than the operating system.

A local or test system can run ahead of the real date: with ``CIVIC_CLOCK_OFFSET_FILE`` set, the file holds a
number of days added to today (read on every call, so a test moves every running service of `civic up` forward
at once by writing the file). Production refuses the setting (``Settings.refuse_development_secrets``). Tests of
one service in-process replace the clock outright: ``build_app(clock=...)``, which sets ``app.state.clock``.

Routes take the day as ``today: Today``; jobs ask ``clock_of(app)()``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import Depends, FastAPI, Request

from civic.config import Settings

CHINA = ZoneInfo("Asia/Shanghai")

Clock = Callable[[], date]


def china_today() -> date:
    return datetime.now(CHINA).date()


def offset_days(path: Path) -> int:
    """The days written in ``path``; none while the file does not exist (nobody has moved the clock yet)."""
    try:
        text = path.read_text().strip()
    except FileNotFoundError:
        return 0
    try:
        return int(text or "0")
    except ValueError:
        raise ValueError(f"{path} (CIVIC_CLOCK_OFFSET_FILE) must hold a whole number of days, not {text!r}") from None


def clock_for(settings: Settings) -> Clock:
    """The clock a service runs on unless a test gives it another."""
    path = settings.clock_offset_file
    if path is None:
        return china_today
    moved_by = path

    def moved_today() -> date:
        return china_today() + timedelta(days=offset_days(moved_by))

    return moved_today


def move_forward(path: Path, days: int) -> int:
    """Run the calendar of every service reading ``path`` ``days`` further ahead; returns the new offset."""
    total = offset_days(path) + days
    path.write_text(f"{total}\n")
    return total


def clock_of(app: FastAPI) -> Clock:
    """The app's clock: the one a test gave it (``app.state.clock``), or the settings' (``clock_for``)."""
    clock: Clock | None = getattr(app.state, "clock", None)
    return clock if clock is not None else clock_for(app.state.service.settings)


async def today(request: Request) -> date:  # async: FastAPI runs a plain def dependency in a worker thread
    return clock_of(request.app)()


Today = Annotated[date, Depends(today)]


def china_date_of(at: datetime) -> date:
    """The day in China on which ``at`` happened. Timestamps are stored in UTC and come back from the database
    without a zone; the UTC date of one taken before 08:00 in China is the day before."""
    return (at if at.tzinfo is not None else at.replace(tzinfo=UTC)).astimezone(CHINA).date()
