"""The device registry's pure rules: whose home a device was in on a given day, and which moves and retirements
may be recorded."""

from __future__ import annotations

from datetime import date

import pytest

from services.eldercare import rules
from services.eldercare.rules import Installation

WANG, LI = "110101194001010011", "110101194202020022"
HISTORY = [Installation(WANG, date(2026, 1, 10), date(2026, 6, 1)), Installation(LI, date(2026, 6, 1), None)]


@pytest.mark.parametrize(
    ("on", "who"),
    [(date(2026, 1, 10), WANG), (date(2026, 5, 31), WANG), (date(2026, 6, 1), LI), (date(2030, 1, 1), LI)],
)
def test_the_installation_in_force_on_a_day_with_a_move_day_belonging_to_the_new_elder(on: date, who: str) -> None:
    assert rules.installation_on(HISTORY, on).resident_id == who


def test_before_the_first_installation_and_after_retirement_the_device_watched_nobody() -> None:
    with pytest.raises(rules.DeviceNotInstalled) as early:
        rules.installation_on(HISTORY, date(2026, 1, 9))
    assert not early.value.retired
    retired = [HISTORY[0], Installation(LI, date(2026, 6, 1), date(2026, 9, 1))]
    assert rules.installation_on(retired, date(2026, 8, 31)).resident_id == LI, "an alarm from before retirement"
    with pytest.raises(rules.DeviceNotInstalled) as late:
        rules.installation_on(retired, date(2026, 9, 1))
    assert late.value.retired and "2026-09-01" in str(late.value)


def test_a_move_undone_the_same_day_leaves_an_empty_span_that_matches_no_day() -> None:
    same_day = [Installation(WANG, date(2026, 1, 10), date(2026, 3, 3)), Installation(LI, date(2026, 3, 3),
                date(2026, 3, 3)), Installation(WANG, date(2026, 3, 3), None)]  # fmt: skip
    assert rules.installation_on(same_day, date(2026, 3, 3)).resident_id == WANG


def test_moves_and_retirements_are_dated_within_the_present_installation_and_not_ahead() -> None:
    current = Installation(LI, date(2026, 6, 1), None)
    rules.check_device_change(current, date(2026, 6, 1), date(2026, 7, 1), WANG)
    for on, new, why in ((date(2026, 5, 31), WANG, "installed"), (date(2026, 7, 2), WANG, "future"),
                         (date(2026, 6, 5), LI, "already")):  # fmt: skip
        with pytest.raises(rules.DeviceChangeError, match=why):
            rules.check_device_change(current, on, date(2026, 7, 1), new)
