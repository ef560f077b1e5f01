"""The services' calendar: China Standard Time, moved forward on a local system by a file of days."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from civic.clock import china_today, clock_for, move_forward
from civic.config import Settings


def test_without_a_clock_file_today_is_the_date_in_china() -> None:
    assert clock_for(Settings()) is china_today


def test_a_clock_file_moves_today_forward_and_a_missing_file_moves_nothing(tmp_path: Path) -> None:
    path = tmp_path / "clock-offset-days"
    clock = clock_for(Settings(clock_offset_file=path))
    assert clock() == china_today()
    assert move_forward(path, 31) == 31
    assert clock() == china_today() + timedelta(days=31)
    assert move_forward(path, 30) == 61, "moves add up, as a test goes through two periods"
    assert clock() == china_today() + timedelta(days=61)


def test_a_clock_file_that_is_not_a_number_of_days_is_named(tmp_path: Path) -> None:
    path = tmp_path / "clock-offset-days"
    path.write_text("next week")
    with pytest.raises(ValueError, match="CIVIC_CLOCK_OFFSET_FILE"):
        clock_for(Settings(clock_offset_file=path))()


def test_production_refuses_a_movable_clock(tmp_path: Path) -> None:
    settings = Settings(environment="production", database_url="postgresql+asyncpg://civic@db/civic",
                        pseudonym_key="p" * 40, internal_key="i" * 40,
                        clock_offset_file=tmp_path / "clock-offset-days")  # fmt: skip
    with pytest.raises(RuntimeError, match="CIVIC_CLOCK_OFFSET_FILE"):
        settings.refuse_development_secrets()
