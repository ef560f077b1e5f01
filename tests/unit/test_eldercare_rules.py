"""Eldercare's pure rules: the GB/T 42195-2022 grading, birthdays (29 February), policy look-ups, bed ratios."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from services.eldercare import rules
from services.eldercare.policy_store import assessment_scale, fixture_rates
from services.eldercare.rules import AllowanceKind, BedKind, Findings, Level

SCALE = assessment_scale()


def scores(total_loss: int = 0) -> dict[str, int]:
    """Full marks everywhere, then ``total_loss`` points taken off item by item."""
    out = {item: top for item, (_dim, top) in SCALE.items.items()}
    for item in out:
        take = min(out[item], total_loss)
        out[item] -= take
        total_loss -= take
    return out


def test_the_scale_has_26_items_in_four_indicators_and_a_total_of_90() -> None:
    assert set(SCALE.dimensions) == {"self_care", "basic_motor", "mental_state", "perception_social"}
    assert len(SCALE.items) == 26
    assert sum(top for _d, top in SCALE.items.values()) == 90


@pytest.mark.parametrize(
    ("loss", "level"),
    [(0, Level.INTACT), (1, Level.MILD), (24, Level.MILD), (25, Level.MODERATE), (44, Level.MODERATE),
     (45, Level.SEVERE), (60, Level.SEVERE), (61, Level.COMPLETE), (90, Level.COMPLETE)],
)  # fmt: skip
def test_total_score_bands(loss: int, level: Level) -> None:
    result = rules.grade(scores(loss), Findings(), SCALE)
    assert result.total == 90 - loss
    assert result.level is level
    assert sum(result.by_dimension.values()) == result.total


def test_coma_is_complete_impairment_whatever_the_scores() -> None:
    assert rules.grade(scores(0), Findings(comatose=True), SCALE).level is Level.COMPLETE


@pytest.mark.parametrize(
    "findings",
    [Findings(dementia_diagnosed=True), Findings(mental_disorder_diagnosed=True), Findings(care_risk_events_30_days=2)],
)
def test_diagnoses_and_repeated_care_risk_events_raise_one_level(findings: Findings) -> None:
    result = rules.grade(scores(10), findings, SCALE)
    assert result.level is Level.MODERATE and "raised one level" in result.reasons[-1]
    assert rules.grade(scores(90), findings, SCALE).level is Level.COMPLETE, "nothing above complete"


def test_one_care_risk_event_does_not_raise() -> None:
    assert rules.grade(scores(10), Findings(care_risk_events_30_days=1), SCALE).level is Level.MILD


@pytest.mark.parametrize(
    ("change", "item"),
    [({"eating": 5}, "eating"), ({"aggression": 2}, "aggression"), ({"sight": -1}, "sight"),
     ({"flying": 1}, "flying")],
)  # fmt: skip
def test_out_of_range_or_unknown_scores_name_the_item(change: dict[str, int], item: str) -> None:
    with pytest.raises(rules.ScoreError) as err:
        rules.grade({**scores(), **change}, Findings(), SCALE)
    assert err.value.item == item


def test_a_missing_item_is_an_error() -> None:
    partial = scores()
    del partial["memory"]
    with pytest.raises(rules.ScoreError) as err:
        rules.grade(partial, Findings(), SCALE)
    assert err.value.item == "memory"


def test_turning_80_and_leap_day_births() -> None:
    assert rules.turns(date(1946, 5, 6), 80) == date(2026, 5, 6)
    # born 29 Feb 1944: 2024 is a leap year, so the 80th birthday is the 29th; in a common year it is 1 March
    assert rules.turns(date(1944, 2, 29), 80) == date(2024, 2, 29)
    assert rules.birthday_in(date(1944, 2, 29), 2025) == date(2025, 3, 1)
    assert rules.age_on(date(1944, 2, 29), date(2024, 2, 28)) == 79
    assert rules.age_on(date(1944, 2, 29), date(2024, 2, 29)) == 80
    assert rules.age_on(date(1945, 2, 28), date(2025, 2, 28)) == 80
    assert rules.latest_birth_for_age(date(2024, 2, 29), 80) == date(1944, 2, 29)
    assert rules.latest_birth_for_age(date(2100, 2, 28), 80) == date(2020, 2, 28)


def test_allowance_months() -> None:
    assert rules.age_allowance_from(date(1946, 5, 31)) == date(2026, 5, 1)
    assert rules.allowance_stops_after_death(date(2026, 12, 31)) == date(2027, 1, 1)
    assert rules.months_from(date(2026, 11, 15), date(2027, 2, 1)) == [date(2026, 11, 1), date(2026, 12, 1),
                                                                      date(2027, 1, 1)]  # fmt: skip
    assert rules.reassessment_due(date(2024, 2, 29), 12) == date(2025, 2, 28)
    assert rules.last_day_of_month(date(2024, 2, 3)) == date(2024, 2, 29)
    with pytest.raises(rules.UnderAge):
        rules.check_age_allowance(date(1946, 5, 6), date(2026, 5, 5))
    rules.check_age_allowance(date(1946, 5, 6), date(2026, 5, 6))


def test_rates_by_region_age_band_and_effective_date() -> None:
    rates = fixture_rates()
    banan = rules.monthly_rate(rates, AllowanceKind.AGE, "500113", 91, date(2026, 1, 1))
    assert (banan.region_code, banan.min_age) == ("500113", 90)
    before = rules.monthly_rate(rates, AllowanceKind.AGE, "500113", 91, date(2020, 12, 31))
    assert before.region_code == rules.NATIONAL, "Banan's rates are not in force before their date"
    assert rules.monthly_rate(rates, AllowanceKind.AGE, "371002", 80, date(2026, 1, 1)).min_age == 80
    later = [*rates, rules.Rate("371000", "age", 80, date(2027, 1, 1), 15000)]
    assert rules.monthly_rate(later, AllowanceKind.AGE, "371002", 85, date(2026, 12, 1)).monthly_fen == 10000
    assert rules.monthly_rate(later, AllowanceKind.AGE, "371002", 85, date(2027, 1, 1)).monthly_fen == 15000
    with pytest.raises(rules.MissingPolicy):
        rules.monthly_rate(rates, AllowanceKind.AGE, "371002", 79, date(2026, 1, 1))


def test_difficult_elderly_members_per_policy() -> None:
    members = [("a", date(1950, 1, 1)), ("b", date(1990, 1, 1)), ("c", date(1966, 6, 2))]
    assert rules.difficult_elderly_members(members, "dibao", ["dibao", "tekun"], 60, date(2026, 6, 1)) == ["a"]
    assert rules.difficult_elderly_members(members, "dibao", ["dibao"], 60, date(2026, 6, 2)) == ["a", "c"]
    assert rules.difficult_elderly_members(members, "temporary", ["dibao"], 60, date(2026, 6, 2)) == []


def test_nursing_bed_ratio() -> None:
    ratio = rules.nursing_bed_ratio([BedKind.NURSING, BedKind.DEMENTIA, BedKind.ORDINARY, BedKind.ORDINARY],
                                    Decimal("0.55"))  # fmt: skip
    assert (ratio.beds, ratio.nursing_type_beds, ratio.ratio, ratio.meets_target) == (4, 2, Decimal("0.5000"), False)
    assert rules.nursing_bed_ratio([], Decimal("0.55")).ratio is None


def test_an_address_is_composed_from_the_door_plate_as_place_names_composes_it() -> None:
    assert rules.address_text("新华路", 12) == "新华路12号"
    assert rules.address_text("新华路", 12, "1", "3单元201室") == "新华路12-1号3单元201室"


def test_the_next_visit_is_due_an_interval_after_the_last_or_after_the_elder_became_known() -> None:
    assert rules.visit_due(None, date(2026, 11, 1), 7) == date(2026, 11, 8)
    assert rules.visit_due(date(2026, 11, 20), date(2026, 11, 1), 7) == date(2026, 11, 27)
    assert rules.days_overdue(date(2026, 11, 8), date(2026, 11, 8)) == 0, "due today is not overdue"
    assert rules.days_overdue(date(2026, 11, 8), date(2026, 11, 11)) == 3
    assert rules.visit_interval_parameter("alone") == "visit_interval_days_alone"
    assert "with_family" not in rules.VISITED


def test_a_follow_up_task_is_acknowledged_once_and_closed_once() -> None:
    assert rules.task_after("open", "acknowledge") == "acknowledged"
    assert rules.task_after("acknowledged", "close") == "closed"
    assert rules.task_after("open", "close") == "closed"
    for status, action in (("acknowledged", "acknowledge"), ("closed", "acknowledge"), ("closed", "close")):
        with pytest.raises(rules.TaskTransitionError):
            rules.task_after(status, action)


def test_time_bank_hours_are_whole_minutes_and_a_spend_never_makes_the_balance_negative() -> None:
    assert rules.minutes_of(Decimal("1.25")) == 75
    assert rules.hours_of(75) == Decimal("1.25")
    with pytest.raises(ValueError):
        rules.minutes_of(Decimal("0.001"))
    assert rules.check_spend(90, 90) == 0
    with pytest.raises(rules.BalanceExceeded, match=r"exceeds the balance of 1\.50 hours"):
        rules.check_spend(90, 91)


def test_a_home_care_bed_needs_an_assessment_in_force_with_enough_impairment() -> None:
    on, assessed, due = date(2026, 11, 1), date(2026, 6, 1), date(2027, 6, 1)
    rules.check_home_care_bed("severe", assessed, due, "moderate", on)
    rules.check_home_care_bed("moderate", assessed, due, "moderate", on)
    for level, reassess_by in ((None, None), ("mild", due), ("severe", date(2026, 10, 31))):
        with pytest.raises(rules.NotEligible):
            rules.check_home_care_bed(level, assessed if level else None, reassess_by, "moderate", on)
