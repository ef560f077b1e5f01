"""Marriage registration's pure rules: legal age on the boundary day, the art. 1077 timeline, policy lookup."""

from __future__ import annotations

from datetime import date

import pytest

from services.marriage import rules
from services.marriage.policy_store import fixture_holidays, fixture_parameters
from services.marriage.rules import DivorcePhase, HolidayCalendar, Parameter, Policy
from tests.factories import resident_id

POLICY = Policy(fixture_parameters())
CALENDAR = HolidayCalendar(fixture_holidays())
OFFICE = "330683"


def test_the_fixture_holds_the_civil_code_figures() -> None:
    on = date(2026, 5, 1)
    assert POLICY.value("minimum_marriage_age_male", on) == 22
    assert POLICY.value("minimum_marriage_age_female", on) == 20
    assert POLICY.value("divorce_cooling_off_days", on) == 30
    assert POLICY.value("divorce_certificate_window_days", on) == 30
    assert "1047" in POLICY.parameter("minimum_marriage_age_male", on).source


@pytest.mark.parametrize(
    ("born", "female", "on", "allowed"),
    [
        (date(2004, 6, 15), False, date(2026, 6, 14), False),  # man, the day before his 22nd birthday
        (date(2004, 6, 15), False, date(2026, 6, 15), True),  # man, on his 22nd birthday
        (date(2006, 6, 15), True, date(2026, 6, 14), False),  # woman, the day before her 20th birthday
        (date(2006, 6, 15), True, date(2026, 6, 15), True),  # woman, on her 20th birthday
        (date(2004, 6, 15), True, date(2026, 6, 14), True),  # a woman of 21 is old enough
        (date(2004, 2, 29), False, date(2026, 2, 28), False),  # born on 29 February: 22 only on 1 March
        (date(2004, 2, 29), False, date(2026, 3, 1), True),
    ],
)
def test_legal_age_on_the_boundary_day(born: date, female: bool, on: date, allowed: bool) -> None:
    party = resident_id(born, female=female)
    if allowed:
        rules.check_marriageable(party, "resident_id", on, POLICY, OFFICE)
    else:
        with pytest.raises(rules.RuleBroken) as caught:
            rules.check_marriageable(party, "spouse_resident_id", on, POLICY, OFFICE)
        assert caught.value.kind == "under-legal-age"
        assert caught.value.field == "spouse_resident_id"
        assert "1047" in caught.value.detail


def test_a_regional_figure_overrides_the_nationwide_one_from_its_date() -> None:
    local = Parameter("330600", "divorce_cooling_off_days", date(2030, 1, 1), 45, "hypothetical local rule")
    policy = Policy([*fixture_parameters(), local])
    assert policy.value("divorce_cooling_off_days", date(2029, 12, 31), "330683") == 30
    assert policy.value("divorce_cooling_off_days", date(2030, 1, 1), "330683") == 45
    assert policy.value("divorce_cooling_off_days", date(2030, 1, 1), "110105") == 30


def test_no_figure_before_the_rule_existed() -> None:
    with pytest.raises(rules.NoPolicy):
        POLICY.value("divorce_cooling_off_days", date(2020, 12, 31))


def test_a_person_cannot_marry_themselves() -> None:
    party = resident_id(date(1990, 1, 1))
    with pytest.raises(rules.RuleBroken) as caught:
        rules.check_two_people(party, party)
    assert caught.value.kind == "same-person"


# Every day 30 and day 60 below is a working day, so these are plain calendar days (rest days: test_marriage_holidays).
@pytest.mark.parametrize(
    ("applied", "last_withdraw", "first_certificate", "last_certificate"),
    [
        (date(2026, 3, 9), date(2026, 4, 8), date(2026, 4, 9), date(2026, 5, 8)),
        # month ends: the period counts days, not months
        (date(2026, 1, 31), date(2026, 3, 2), date(2026, 3, 3), date(2026, 4, 1)),
        (date(2028, 1, 31), date(2028, 3, 1), date(2028, 3, 2), date(2028, 3, 31)),  # leap year
        (date(2026, 12, 14), date(2027, 1, 13), date(2027, 1, 14), date(2027, 2, 12)),  # over the new year
        (date(2026, 2, 28), date(2026, 3, 30), date(2026, 3, 31), date(2026, 4, 29)),
    ],
)
def test_divorce_timeline(applied: date, last_withdraw: date, first_certificate: date, last_certificate: date) -> None:
    timeline = rules.divorce_timeline(applied, POLICY, OFFICE, CALENDAR)
    assert timeline.last_day_to_withdraw == last_withdraw
    assert timeline.first_day_for_certificate == first_certificate
    assert timeline.last_day_for_certificate == last_certificate


def test_days_30_31_60_61() -> None:
    applied = date(2026, 6, 15)  # day 30 (15 July) and day 60 (14 August) are working days: nothing moves
    timeline = rules.divorce_timeline(applied, POLICY, OFFICE, CALENDAR)

    def day(n: int) -> date:
        return date.fromordinal(applied.toordinal() + n)

    assert timeline.phase(day(0)) is DivorcePhase.COOLING_OFF
    assert timeline.phase(day(30)) is DivorcePhase.COOLING_OFF
    rules.check_withdrawal(timeline, day(30))
    with pytest.raises(rules.RuleBroken) as late:
        rules.check_withdrawal(timeline, day(31))
    assert late.value.kind == "cooling-off-period-over"
    with pytest.raises(rules.RuleBroken) as early:
        rules.check_certificate_request(timeline, day(30))
    assert early.value.kind == "still-in-cooling-off-period"
    rules.check_certificate_request(timeline, day(31))
    rules.check_certificate_request(timeline, day(60))
    assert timeline.phase(day(61)) is DivorcePhase.LAPSED
    with pytest.raises(rules.RuleBroken) as lapsed:
        rules.check_certificate_request(timeline, day(61))
    assert lapsed.value.kind == "certificate-window-closed"


def test_certificate_numbers_name_kind_office_and_year() -> None:
    assert rules.certificate_number("marriage", "330683", 2026, "ab12") == "J330683-2026-AB12"
    assert rules.certificate_number("divorce", "330683", 2026, "ab12") == "L330683-2026-AB12"
