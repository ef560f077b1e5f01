"""Correction of historical records, pure: which values the register can hold, and which it refuses."""

from __future__ import annotations

from datetime import date

import pytest

from services.marriage import rules
from services.marriage.policy_store import fixture_parameters
from services.marriage.rules import CorrectedRecord, RuleBroken, Span
from tests.factories import resident_id

TODAY = date(2026, 6, 15)
RECORD = CorrectedRecord(
    ended_on=None,
    first_divorce_applied_on=None,
    births=(date(1980, 1, 1), date(1982, 5, 5)),
    # one party was married before, from 2001 to 2005 (divorced on 2005-03-01), and that was all
    other_marriages=(Span(date(2001, 1, 1), date(2005, 3, 1)),),
)


@pytest.mark.parametrize(
    ("value", "record", "kind"),
    [
        ("2026-06-16", RECORD, "date-in-the-future"),
        ("1982-05-04", RECORD, "before-birth"),
        ("15/06/2026", RECORD, "invalid-date"),
        ("2003-01-01", RECORD, "overlaps-another-marriage"),
        ("2001-01-01", RECORD, "overlaps-another-marriage"),
        ("2005-02-28", RECORD, "overlaps-another-marriage"),  # the day before the earlier marriage ended
        ("2010-01-01", CorrectedRecord(date(2009, 12, 31), None, RECORD.births, ()), "after-marriage-ended"),
        ("2010-01-01", CorrectedRecord(None, date(2009, 6, 1), RECORD.births, ()), "after-divorce-application"),
    ],
)
def test_registration_dates_the_register_cannot_hold(value: str, record: CorrectedRecord, kind: str) -> None:
    with pytest.raises(RuleBroken) as caught:
        rules.corrected_registration_date(value, TODAY, record)
    assert (caught.value.kind, caught.value.field) == (kind, "new_value")


@pytest.mark.parametrize(
    ("value", "record"),
    [
        ("2026-06-15", RECORD),  # today
        ("2005-03-01", RECORD),  # the day the earlier marriage ended: a new one may be registered that day
        ("1999-01-01", CorrectedRecord(date(2001, 1, 1), None, RECORD.births, RECORD.other_marriages)),
    ],
)
def test_registration_dates_it_can(value: str, record: CorrectedRecord) -> None:
    assert rules.corrected_registration_date(value, TODAY, record) == date.fromisoformat(value)


def test_a_marriage_that_never_ended_cannot_begin_before_another_one() -> None:
    with pytest.raises(RuleBroken) as caught:
        rules.corrected_registration_date("1999-01-01", TODAY, RECORD)
    assert caught.value.kind == "overlaps-another-marriage"


def test_spans_overlap_on_half_open_days() -> None:
    earlier = Span(date(2001, 1, 1), date(2005, 3, 1))
    assert not Span(date(2005, 3, 1), None).overlaps(earlier)
    assert Span(date(2005, 2, 28), None).overlaps(earlier)
    assert Span(date(1999, 1, 1), date(2001, 1, 2)).overlaps(earlier)
    assert not Span(date(1999, 1, 1), date(2001, 1, 1)).overlaps(earlier)
    assert Span(date(1999, 1, 1), None).overlaps(Span(date(2010, 1, 1), None))


@pytest.mark.parametrize(
    ("check", "value", "kind"),
    [
        (rules.corrected_name, "", "invalid-name"),
        (rules.corrected_name, "  ", "invalid-name"),
        (rules.corrected_name, "张" * 51, "invalid-name"),
        (rules.corrected_name, "张\n伟", "invalid-name"),
        (rules.corrected_office_code, "012345", "invalid-office-code"),
        (rules.corrected_office_code, "33068", "invalid-office-code"),
        (rules.corrected_office_code, "３３０６８３", "invalid-office-code"),  # fullwidth digits
    ],
)
def test_names_and_offices_refused(check: object, value: str, kind: str) -> None:
    assert callable(check)
    with pytest.raises(RuleBroken) as caught:
        check(value)
    assert caught.value.kind == kind


def test_names_are_trimmed_and_a_change_must_change_something() -> None:
    assert rules.corrected_name(" 张玮 ") == "张玮"
    assert rules.corrected_office_code("110105") == "110105"
    with pytest.raises(RuleBroken) as caught:
        rules.check_changed("张玮", "张玮")
    assert caught.value.kind == "no-change"


# -- a party's mistyped resident ID ------------------------------------------------------------------------------

POLICY = rules.Policy(fixture_parameters())
REGISTERED = date(2026, 6, 15)
HUSBAND = resident_id(date(1990, 1, 1))
MISTYPED = resident_id(date(1992, 2, 2), female=True)


def corrected(value: str) -> str:
    return rules.corrected_party_id(value, MISTYPED, HUSBAND, REGISTERED, TODAY, POLICY, "330683")


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        (MISTYPED[:17] + ("0" if MISTYPED[17] != "0" else "1"), "invalid-resident-id"),  # check character
        ("33068319920202", "invalid-resident-id"),
        (MISTYPED.lower(), "no-change"),  # normalised first: the same ID
        (HUSBAND, "same-person"),
        (resident_id(date(2006, 6, 16), female=True), "under-legal-age"),  # 20 the day after the registration
        (resident_id(date(2004, 6, 16)), "under-legal-age"),  # a man needs 22: the age follows the corrected sex
    ],
)
def test_a_corrected_id_the_registration_would_have_refused(value: str, kind: str) -> None:
    with pytest.raises(RuleBroken) as caught:
        corrected(value)
    assert (caught.value.kind, caught.value.field) == (kind, "new_value")


def test_a_corrected_id_of_age_on_the_registration_day() -> None:
    meant = resident_id(date(2006, 6, 15), female=True)  # 20 on the registration day
    assert corrected(meant) == meant


def test_no_other_marriage_while_this_one_lasted() -> None:
    this = Span(date(2010, 1, 1), None)
    rules.check_no_other_marriage(this, [Span(date(2005, 1, 1), date(2010, 1, 1))])  # ended the day it began
    with pytest.raises(RuleBroken) as caught:
        rules.check_no_other_marriage(this, [Span(date(2005, 1, 1), date(2010, 1, 2))])
    assert caught.value.kind == "already-married"
