"""A household benefit depends on the household's means only: ``assess`` and ``assess_household`` of the means a
batch sums in fen give the same assessment, reasons and all, for households of every shape."""

from __future__ import annotations

import itertools
from datetime import date
from decimal import Decimal

import pytest

from civic.money import from_fen
from services.assistance import rules
from services.assistance.policy_store import fixture_parameters
from services.assistance.rules import Area, BenefitKind, Claim, Household, Means, Member, Money, Parameter, Per

ON = date(2020, 12, 15)
POLICY = rules.Policy(
    [
        *fixture_parameters(),
        # an asset limit, so that the assets' part of the decision is exercised too
        Parameter("371000", "all", "dibao_asset_limit_months", date(2020, 1, 1), "24", Per.RATIO),
    ]
)


def shaped(incomes: list[int], deductions: list[int], assets: list[int], died: list[date | None]) -> Household:
    members = tuple(Member(f"m{i}", "self", date(1980, 1, 1), died_on=d) for i, d in enumerate(died))
    money = [Money(f"m{i % len(died)}", "wages", from_fen(f)) for i, f in enumerate(incomes)]
    outgoing = [Money(f"m{i % len(died)}", "medical", from_fen(f)) for i, f in enumerate(deductions)]
    owned = [Money(f"m{i % len(died)}", "savings", from_fen(f)) for i, f in enumerate(assets)]
    return Household("371002", Area.URBAN, members, tuple(money), tuple(outgoing), tuple(owned))


def fen_means(h: Household, on: date) -> Means:
    """What a batch sums: members counted, and their money in fen (assets of the whole household)."""
    counted = {m.resident_id for m in h.members if rules.counted_in(m.died_on, on)}

    def fen(items: tuple[Money, ...], only_counted: bool = True) -> int:
        return sum(int(i.monthly * 100) for i in items if not only_counted or i.resident_id in counted)

    return Means.of_fen(h.region_code, h.area, len(counted), fen(h.incomes), fen(h.deductions), fen(h.assets, False))


Shape = tuple[list[int], list[int], list[int], list[date | None]]
SHAPES: list[Shape] = list(
    itertools.product(
        ([], [40_000], [40_000, 35_050], [120_000, 99_999, 1]),  # incomes in fen
        ([], [5_000]),  # deductions
        ([], [1_000_000], [90_000_000]),  # assets: none, within the limit, above it
        ([None], [None, None], [None, date(2020, 10, 3)], [date(2020, 5, 1)], [None, None, date(2021, 1, 9)]),
    )
)


@pytest.mark.parametrize("benefit", [BenefitKind.DIBAO, BenefitKind.DIBAO_EDGE])
def test_assess_and_assess_household_agree_on_every_shape(benefit: BenefitKind) -> None:
    claim = Claim(benefit)
    for incomes, deductions, assets, died in SHAPES:
        h = shaped(incomes, deductions, assets, died)
        means = fen_means(h, ON)
        assert means == rules.means_of(h, ON)
        assert rules.assess_household(claim, means, POLICY, ON) == rules.assess(claim, h, POLICY, ON), (
            incomes,
            deductions,
            assets,
            died,
        )


def test_means_in_fen_read_like_the_members_money() -> None:
    assert Means.of_fen("371002", Area.URBAN, 2, 80_000, 0, 0).gross == Decimal("800.00")
    assert str(Means.of_fen("371002", Area.URBAN, 0, 0, 0, 0).assets) == str(rules.ZERO)
    assert Means.of_fen("371002", Area.URBAN, 3, 120_000, 30_000, 0).per_capita == Decimal("300.00")


def test_a_personal_benefit_is_not_assessed_from_means() -> None:
    with pytest.raises(ValueError):
        rules.assess_household(Claim(BenefitKind.TEKUN), Means.of_fen("371002", Area.URBAN, 1, 0, 0, 0), POLICY, ON)


def test_weihai_figure_through_the_means() -> None:
    """The issue's example: 3 members at 400 each under the 690 standard get 870."""
    result = rules.assess_household(Claim(BenefitKind.DIBAO), Means.of_fen("371002", Area.URBAN, 3, 120_000, 0, 0),
                                    POLICY, ON)  # fmt: skip
    assert (result.eligible, result.monthly_amount) == (True, Decimal("870.00"))
