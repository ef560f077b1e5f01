"""Statistics, pure: periods of a registry date, the grouping asked for, and the tally of acts into groups."""

from __future__ import annotations

from datetime import date

import pytest

from services.marriage import rules
from services.marriage.rules import Act, RuleBroken


@pytest.mark.parametrize(
    ("day", "month", "quarter", "year"),
    [
        (date(2026, 1, 1), "2026-01", "2026-Q1", "2026"),
        (date(2026, 3, 31), "2026-03", "2026-Q1", "2026"),
        (date(2026, 4, 1), "2026-04", "2026-Q2", "2026"),
        (date(2026, 9, 30), "2026-09", "2026-Q3", "2026"),
        (date(2026, 10, 1), "2026-10", "2026-Q4", "2026"),
        (date(2026, 12, 31), "2026-12", "2026-Q4", "2026"),
    ],
)
def test_periods(day: date, month: str, quarter: str, year: str) -> None:
    assert (rules.period_of(day, "month"), rules.period_of(day, "quarter"), rules.period_of(day, "year")) == (
        month,
        quarter,
        year,
    )


@pytest.mark.parametrize(
    ("value", "expected"),
    [("office", ("office",)), ("month", ("month",)), (" office , quarter ", ("office", "quarter")), ("year,office",
     ("year", "office"))],
)  # fmt: skip
def test_grouping(value: str, expected: tuple[str, ...]) -> None:
    assert rules.parse_group_by(value) == expected


@pytest.mark.parametrize("value", ["", ",", "week", "month,quarter", "office,office", "office;month", "OFFICE"])
def test_groupings_refused(value: str) -> None:
    with pytest.raises(RuleBroken) as caught:
        rules.parse_group_by(value)
    assert (caught.value.kind, caught.value.field) == ("invalid-group-by", "group_by")


def test_a_period_that_ends_before_it_starts() -> None:
    rules.check_statistics_range(date(2026, 1, 1), date(2026, 1, 1))
    with pytest.raises(RuleBroken) as caught:
        rules.check_statistics_range(date(2026, 1, 2), date(2026, 1, 1))
    assert (caught.value.kind, caught.value.field) == ("invalid-period", "to")


ACTS = [
    Act("marriages", date(2026, 6, 15), "330683", 3),
    Act("remarriages", date(2026, 6, 15), "330683", 1),
    Act("marriages", date(2026, 7, 1), "330683", 2),
    Act("marriages", date(2026, 7, 1), "110105", 1),
    Act("divorces", date(2026, 7, 16), "330683", 1),
    # a couple's two certificates reissued on one day, and one of them again later: 3 reissues, 1 couple
    Act("marriage_certificate_reissues", date(2026, 6, 20), "330683", couple="m-1"),
    Act("marriage_certificate_reissues", date(2026, 6, 20), "330683", couple="m-1"),
    Act("marriage_certificate_reissues", date(2026, 7, 2), "330683", couple="m-1"),
    Act("divorce_certificate_reissues", date(2026, 7, 20), "110105", couple="m-2"),
    Act("revocations", date(2026, 7, 20), "110105"),
]


def counts(**values: int) -> dict[str, int]:
    return {**dict.fromkeys(rules.MEASURES, 0), **values}


def test_tally_by_office_and_month() -> None:
    assert rules.tally(ACTS, ("office", "month")) == {
        ("110105", "2026-07"): counts(marriages=1, divorce_certificate_reissues=1, revocations=1),
        ("330683", "2026-06"): counts(
            marriages=3, remarriages=1, marriage_certificate_reissues=2, marriage_certificate_reissue_couples=1
        ),
        ("330683", "2026-07"): counts(
            marriages=2, divorces=1, marriage_certificate_reissues=1, marriage_certificate_reissue_couples=1
        ),
    }


def test_couples_are_counted_once_per_group_and_totals_are_their_own_count() -> None:
    total = rules.tally(ACTS, ())
    assert total == {
        (None, None): counts(
            marriages=6,
            remarriages=1,
            divorces=1,
            marriage_certificate_reissues=3,
            marriage_certificate_reissue_couples=1,  # not 2, the sum of the months'
            divorce_certificate_reissues=1,
            revocations=1,
        )
    }
    quarters = rules.tally(ACTS, ("quarter",))
    assert list(quarters) == [(None, "2026-Q2"), (None, "2026-Q3")]
    assert quarters[(None, "2026-Q3")]["marriages"] == 3
    assert rules.tally([], ("office",)) == {}
