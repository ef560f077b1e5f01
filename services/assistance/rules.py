"""Social assistance's rules: pure functions, no I/O."""

from __future__ import annotations

from datetime import date


def first_day_of_next_month(day: date) -> date:
    return date(day.year + 1, 1, 1) if day.month == 12 else date(day.year, day.month + 1, 1)


def benefit_stops_after_death(date_of_death: date) -> date:
    """The month of death is paid in full; payment stops from the first day of the next month."""
    return first_day_of_next_month(date_of_death)
