"""Divorce deadlines moved past rest days (Civil Code art. 203, 民发〔2020〕116号) on the national holiday calendar:
a weekend end moves to Monday, an end in a holiday to the first working day after it, an adjusted working weekend
day (调休上班) does not move, the window runs from the moved cooling-off end, and a year missing from the calendar
falls back to weekends only (and says so)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from services.marriage import rules
from services.marriage.policy_store import fixture_holidays, fixture_parameters
from services.marriage.rules import CalendarDay, DayKind, DivorcePhase, DivorceTimeline, HolidayCalendar, Policy

POLICY = Policy(fixture_parameters())
CALENDAR = HolidayCalendar(fixture_holidays())
OFFICE = "330683"


def timeline(applied: date, calendar: HolidayCalendar = CALENDAR) -> DivorceTimeline:
    return rules.divorce_timeline(applied, POLICY, OFFICE, calendar)


def test_the_fixture_holds_the_notices_of_2025_and_2026() -> None:
    days = fixture_holidays()
    assert CALENDAR.covers(2025) and CALENDAR.covers(2026) and not CALENDAR.covers(2027)
    assert len({d.day for d in days}) == len(days), "one row per day"
    assert all(d.day.weekday() >= 5 for d in days if d.kind is DayKind.WORKDAY), "调休上班 falls on weekends"
    assert all(f"{d.day.year}年部分节假日安排的通知" in d.source for d in days), "each row names its notice"
    holidays = {y: sum(d.kind is DayKind.HOLIDAY and d.day.year == y for d in days) for y in (2025, 2026)}
    workdays = {y: sum(d.kind is DayKind.WORKDAY and d.day.year == y for d in days) for y in (2025, 2026)}
    assert holidays == {2025: 28, 2026: 33} and workdays == {2025: 5, 2026: 6}
    assert CALENDAR.is_rest_day(date(2026, 10, 7)) and not CALENDAR.is_rest_day(date(2026, 10, 8))
    assert not CALENDAR.is_rest_day(date(2026, 2, 28)) and CALENDAR.is_rest_day(date(2026, 3, 1))


def test_no_shift_when_both_ends_are_working_days() -> None:
    t = timeline(date(2026, 6, 15))
    assert (t.last_day_to_withdraw, t.first_day_for_certificate, t.last_day_for_certificate) == (
        date(2026, 7, 15),
        date(2026, 7, 16),
        date(2026, 8, 14),
    )
    assert t.deemed_withdrawn_on == date(2026, 8, 15)
    assert t.notes == ()


def test_a_cooling_off_end_on_a_saturday_moves_to_monday() -> None:
    t = timeline(date(2026, 6, 18))  # day 30 is Saturday 18 July
    assert t.last_day_to_withdraw == date(2026, 7, 20)
    assert t.first_day_for_certificate == date(2026, 7, 21)
    assert t.last_day_for_certificate == date(2026, 8, 19), "the window runs 30 days from the moved end"
    assert t.phase(date(2026, 7, 20)) is DivorcePhase.COOLING_OFF
    assert len(t.notes) == 1 and "2026-07-18" in t.notes[0] and "Saturday" in t.notes[0] and "203" in t.notes[0]


def test_an_end_inside_national_day_2026_moves_to_8_october_and_the_window_end_moves_too() -> None:
    t = timeline(date(2026, 9, 3))  # day 30 is 3 October
    assert t.last_day_to_withdraw == date(2026, 10, 8)
    assert t.first_day_for_certificate == date(2026, 10, 9)
    # 30 days after 8 October is Saturday 7 November: the window closes on Monday 9 November
    assert t.last_day_for_certificate == date(2026, 11, 9)
    assert t.deemed_withdrawn_on == date(2026, 11, 10)
    assert "国庆节" in t.notes[0]


@pytest.mark.parametrize(
    ("applied", "expected_withdraw", "expected_certificate"),
    [
        (date(2026, 1, 29), date(2026, 2, 28), date(2026, 3, 30)),  # day 30 is Sat 28 Feb, a 春节 working day
        (date(2026, 8, 11), date(2026, 9, 10), date(2026, 10, 10)),  # day 60 is Sat 10 Oct, a 国庆 working day
    ],
)
def test_an_adjusted_working_saturday_does_not_move(
    applied: date, expected_withdraw: date, expected_certificate: date
) -> None:
    t = timeline(applied)
    assert (t.last_day_to_withdraw, t.last_day_for_certificate) == (expected_withdraw, expected_certificate)
    assert t.notes == ()


def test_a_window_end_on_a_holiday_moves() -> None:
    t = timeline(date(2026, 3, 2))  # day 30 is Wed 1 April; day 60 is 1 May, 劳动节 (1–5 May)
    assert t.last_day_to_withdraw == date(2026, 4, 1)
    assert t.last_day_for_certificate == date(2026, 5, 6)
    assert t.phase(date(2026, 5, 6)) is DivorcePhase.CERTIFICATE_WINDOW
    assert t.phase(date(2026, 5, 7)) is DivorcePhase.LAPSED
    assert len(t.notes) == 1 and "劳动节" in t.notes[0]


def test_a_year_not_in_the_calendar_moves_past_weekends_only_and_says_so() -> None:
    saturday = timeline(date(2027, 9, 2))  # day 30 is Sat 2 October 2027: moved to Monday, not past 国庆
    assert saturday.last_day_to_withdraw == date(2027, 10, 4)
    friday = timeline(date(2027, 9, 1))  # day 30 is Fri 1 October 2027, a holiday the calendar does not know yet
    assert friday.last_day_to_withdraw == date(2027, 10, 1)
    assert any("2027 is not in the holiday calendar" in n for n in friday.notes)
    empty = timeline(date(2026, 6, 18), HolidayCalendar([]))
    assert empty.last_day_to_withdraw == date(2026, 7, 20)
    assert sum("not in the holiday calendar" in n for n in empty.notes) == 2


def test_a_deadline_once_announced_is_never_shortened() -> None:
    """Rows added later (a holiday the stored deadline did not know) lengthen; rows removed never shorten."""
    applied = date(2027, 9, 1)
    stored = timeline(applied)  # computed before the 2027 notice was loaded: ends Fri 1 October
    national_day_2027 = [
        CalendarDay(date(2027, 10, 1) + timedelta(days=i), DayKind.HOLIDAY, "国庆节", "a later notice")
        for i in range(7)
    ]
    later = timeline(applied, HolidayCalendar([*fixture_holidays(), *national_day_2027]))
    assert later.last_day_to_withdraw == date(2027, 10, 8)
    in_force = stored.at_least(later)
    assert in_force.last_day_to_withdraw == date(2027, 10, 8)
    assert in_force.last_day_for_certificate == max(stored.last_day_for_certificate, later.last_day_for_certificate)
    assert later.at_least(stored) == DivorceTimeline(
        applied,
        later.last_day_to_withdraw,
        later.first_day_for_certificate,
        later.last_day_for_certificate,
        later.notes,
    )
