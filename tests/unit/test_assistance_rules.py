"""Assistance rule tables from the seed figures in services/assistance/policy/parameters.csv."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest

from services.assistance import rules
from services.assistance.policy_store import fixture_parameters
from services.assistance.rules import (
    Area,
    BenefitKind,
    CareLevel,
    ChildCategory,
    Claim,
    Household,
    Member,
    Money,
    Parameter,
    Per,
    Policy,
    Setting,
)

WEIHAI = "371002"  # 环翠区, a district of Weihai: figures come from the city (371000)
ON = date(2020, 12, 15)
SEED = Policy(fixture_parameters())


def person(rid: str, born: date = date(1980, 1, 1), **flags: object) -> Member:
    return Member(resident_id=rid, relation="self", born=born, **flags)  # type: ignore[arg-type]


def household(n: int, income_each: str, region: str = WEIHAI, area: Area = Area.URBAN, **extra: object) -> Household:
    members = tuple(person(f"m{i}") for i in range(n))
    incomes = tuple(Money(m.resident_id, "wages", Decimal(income_each)) for m in members)
    return Household(region, area, members, incomes, **extra)  # type: ignore[arg-type]


def dibao(h: Household, on: date = ON, policy: Policy = SEED) -> rules.Assessment:
    return rules.assess(Claim(BenefitKind.DIBAO), h, policy, on)


def test_weihai_urban_2020_three_members_per_capita_400_get_870() -> None:
    result = dibao(household(3, "400"))
    assert result.eligible
    assert result.monthly_amount == Decimal("870.00")
    assert any("690" in r and "(region 371000, urban, from 2020-01-01)" in r for r in result.reasons)
    assert result.reasons[-1] == "低保 = (690.00 − 400.00) × 3 = 870.00"


@pytest.mark.parametrize(
    ("region", "area", "on", "standard"),
    [
        (WEIHAI, Area.URBAN, ON, "690.00"),
        (WEIHAI, Area.RURAL, ON, "530.00"),
        ("500113", Area.URBAN, date(2020, 6, 1), "620.00"),
        ("500113", Area.RURAL, date(2020, 6, 1), "496.00"),
        ("330683", Area.RURAL, date(2021, 6, 1), "890.00"),
        ("330683", Area.URBAN, date(2022, 6, 1), "1000.00"),  # 12,000/year
        ("330900", Area.URBAN, date(2020, 6, 1), "810.00"),  # 9,720/year
        ("330902", Area.URBAN, date(2023, 6, 1), "916.67"),  # 11,000/year, a district of Zhoushan
        ("330900", Area.RURAL, date(2025, 1, 1), "1166.67"),  # 14,000/year target
    ],
)
def test_seed_standards_by_region_area_and_date(region: str, area: Area, on: date, standard: str) -> None:
    single = Household(region, area, (person("a"),))
    assert dibao(single, on).monthly_amount == Decimal(standard)


def test_income_at_or_above_the_standard_is_not_eligible_and_says_why() -> None:
    result = dibao(household(2, "690"))
    assert not result.eligible
    assert result.monthly_amount == Decimal("0.00")
    assert result.reasons[-1].startswith("not eligible: 690.00 per person is not below 690.00")


def test_deductions_lower_the_counted_income() -> None:
    h = household(3, "400", deductions=(Money("m0", "employment_cost", Decimal("150")),))
    assert dibao(h).monthly_amount == Decimal("1020.00")


def test_assets_above_the_limit_refuse() -> None:
    # 24 months × 690 × 1 member = 16,560
    rich = household(1, "0", assets=(Money("m0", "deposits", Decimal("16560.01")),))
    assert not dibao(rich).eligible
    assert dibao(household(1, "0", assets=(Money("m0", "deposits", Decimal("16560")),))).eligible


def test_a_standard_that_changes_mid_year_applies_from_its_date() -> None:
    raised = Parameter("371000", "urban", "dibao_standard", date(2021, 7, 1), "750", Per.MONTH, "test")
    policy = Policy([*fixture_parameters(), raised])
    h = household(3, "400")
    assert dibao(h, date(2021, 6, 30), policy).monthly_amount == Decimal("870.00")
    assert dibao(h, date(2021, 7, 1), policy).monthly_amount == Decimal("1050.00")


def test_a_unified_standard_replaces_urban_and_rural_from_its_date() -> None:
    unified = Parameter("371000", "all", "dibao_standard", date(2023, 1, 1), "800", Per.MONTH, "test")
    policy = Policy([*fixture_parameters(), unified])
    rural = household(1, "0", area=Area.RURAL)
    assert dibao(rural, date(2022, 12, 1), policy).monthly_amount == Decimal("530.00")
    assert dibao(rural, date(2023, 1, 1), policy).monthly_amount == Decimal("800.00")


def test_a_dead_member_is_not_counted_from_the_month_after_death() -> None:
    members = (person("a"), person("b", died_on=date(2020, 11, 20)), person("c"))
    incomes = tuple(Money(m.resident_id, "wages", Decimal("400")) for m in members)
    h = Household(WEIHAI, Area.URBAN, members, incomes)
    assert dibao(h, date(2020, 11, 1)).monthly_amount == Decimal("870.00")
    assert dibao(h, date(2020, 12, 1)).monthly_amount == Decimal("580.00")


def test_marginal_low_income_k_is_1_5_and_2_0_in_shengzhou_2022() -> None:
    weihai = rules.assess(Claim(BenefitKind.DIBAO_EDGE), household(2, "1000"), SEED, ON)
    assert weihai.eligible  # 690 ≤ 1000 < 1035
    assert not rules.assess(Claim(BenefitKind.DIBAO_EDGE), household(2, "1035"), SEED, ON).eligible
    sz = household(2, "1900", region="330683")
    assert rules.assess(Claim(BenefitKind.DIBAO_EDGE), sz, SEED, date(2022, 3, 1)).eligible  # < 2 × 1000
    assert not rules.assess(Claim(BenefitKind.DIBAO_EDGE), sz, SEED, date(2021, 3, 1)).eligible  # k 1.5 × 890


def tekun_person(level: CareLevel | None, born: date = date(1950, 1, 1)) -> Household:
    m = person("t", born, work_capacity=False, legal_supporter=False, care_level=level)
    return Household(WEIHAI, Area.URBAN, (m,))


@pytest.mark.parametrize(("setting", "figure"), [(Setting.CONCENTRATED, "900"), (Setting.DISPERSED, "620")])
@pytest.mark.parametrize("area", [Area.URBAN, Area.RURAL])
def test_tekun_basic_living_is_at_least_1_3_times_the_standard(setting: Setting, figure: str, area: Area) -> None:
    h = Household(WEIHAI, area, tekun_person(None).members)
    result = rules.assess(Claim(BenefitKind.TEKUN, "t", setting), h, SEED, ON)
    standard = Decimal("690") if area is Area.URBAN else Decimal("530")
    assert result.eligible
    assert result.monthly_amount >= Decimal("1.3") * standard
    assert result.monthly_amount == max(Decimal(figure), Decimal("1.3") * standard)


@pytest.mark.parametrize(
    ("level", "care"),
    [(CareLevel.SELF_CARE, "274.75"), (CareLevel.SEMI_CARE, "457.92"), (CareLevel.FULL_CARE, "915.83")],
)
def test_tekun_care_allowance_weihai_by_self_care_level(level: CareLevel, care: str) -> None:
    result = rules.assess(Claim(BenefitKind.TEKUN, "t", Setting.CONCENTRATED), tekun_person(level), SEED, ON)
    assert result.monthly_amount == Decimal("900") + Decimal(care)


@pytest.mark.parametrize(
    ("level", "fraction"), [(CareLevel.SELF_CARE, 10), (CareLevel.SEMI_CARE, 6), (CareLevel.FULL_CARE, 3)]
)
def test_care_allowance_is_at_least_its_fraction_of_the_minimum_wage(level: CareLevel, fraction: int) -> None:
    # Seed figures are above the floors (1910 / 10 = 191 ...); a region paying 1 yuan is raised to the floor.
    low = [
        Parameter("371000", "all", f"tekun_care_{level}", date(2021, 1, 1), "1", Per.MONTH, "test"),
    ]
    policy = Policy([*fixture_parameters(), *low])
    result = rules.assess(
        Claim(BenefitKind.TEKUN, "t", Setting.CONCENTRATED), tekun_person(level), policy, ON.replace(2021)
    )
    care = result.monthly_amount - Decimal("900")
    floor = (Decimal(1910) / fraction).quantize(Decimal("0.01"), rounding="ROUND_CEILING")
    assert care == floor
    assert any("raised to the floor" in r for r in result.reasons)
    seed = rules.assess(Claim(BenefitKind.TEKUN, "t", Setting.CONCENTRATED), tekun_person(level), SEED, ON)
    assert seed.monthly_amount - Decimal("900") >= Decimal(1910) / fraction


def test_shengzhou_2022_dispersed_care_is_half_of_concentrated() -> None:
    m = person("t", date(1950, 1, 1), work_capacity=False, legal_supporter=False, care_level=CareLevel.FULL_CARE)
    h = Household("330683", Area.RURAL, (m,))
    on = date(2022, 5, 1)
    concentrated = rules.assess(Claim(BenefitKind.TEKUN, "t", Setting.CONCENTRATED), h, SEED, on)
    dispersed = rules.assess(Claim(BenefitKind.TEKUN, "t", Setting.DISPERSED), h, SEED, on)
    assert concentrated.monthly_amount == Decimal("1383") + Decimal("1656")
    assert dispersed.monthly_amount == Decimal("1383") + Decimal("828")


def test_tekun_refuses_someone_with_a_legal_supporter_or_work_capacity() -> None:
    supported = Household(WEIHAI, Area.URBAN, (person("t", work_capacity=False),))
    assert not rules.assess(Claim(BenefitKind.TEKUN, "t", Setting.DISPERSED), supported, SEED, ON).eligible
    able = Household(WEIHAI, Area.URBAN, (person("t", legal_supporter=False),))
    assert not rules.assess(Claim(BenefitKind.TEKUN, "t", Setting.DISPERSED), able, SEED, ON).eligible
    orphan = Household(WEIHAI, Area.URBAN, (person("t", date(2012, 1, 1), legal_supporter=False),))
    assert rules.assess(Claim(BenefitKind.TEKUN, "t", Setting.DISPERSED), orphan, SEED, ON).eligible


@pytest.mark.parametrize(
    ("category", "amount"),
    [
        (ChildCategory.ORPHAN_INSTITUTION, "1760.00"),
        (ChildCategory.ORPHAN_DISPERSED, "1400.00"),
        (ChildCategory.DEFACTO_UNSUPPORTED, "1400.00"),
        (ChildCategory.KEY_CHILD_DIFFICULTY, "980.00"),
    ],
)
def test_child_welfare_weihai_2020(category: ChildCategory, amount: str) -> None:
    child = Household(WEIHAI, Area.URBAN, (person("c", date(2015, 5, 5)),))
    result = rules.assess(Claim(BenefitKind.CHILD_WELFARE, "c", child_category=category), child, SEED, ON)
    assert result.monthly_amount == Decimal(amount)


def test_single_person_household_covers_a_severely_disabled_adult_alone() -> None:
    members = (person("d", severe_disability=True), person("p"))
    incomes = (Money("p", "wages", Decimal("1600")),)
    h = Household(WEIHAI, Area.URBAN, members, incomes)
    assert not dibao(h).eligible  # 800 per person: the household as a whole is not below 690
    single = rules.assess(Claim(BenefitKind.DIBAO_SINGLE, "d"), h, SEED, ON)
    assert single.eligible and single.monthly_amount == Decimal("690.00")


def test_a_region_without_the_figure_is_a_missing_policy_not_a_guess() -> None:
    with pytest.raises(rules.MissingPolicy):
        rules.assess(Claim(BenefitKind.DIBAO), household(1, "0", region="110105"), SEED, ON)
    h = Household(WEIHAI, Area.URBAN, (person("d", severe_disability=True),))
    with pytest.raises(rules.MissingPolicy):
        rules.assess(Claim(BenefitKind.DISABILITY_CARE, "d"), h, SEED, ON)


def test_a_dead_beneficiary_is_refused() -> None:
    h = Household(WEIHAI, Area.URBAN, (person("c", date(2015, 5, 5), died_on=date(2020, 10, 1)),))
    with pytest.raises(rules.Refused) as refused:
        rules.assess(Claim(BenefitKind.CHILD_WELFARE, "c", child_category=ChildCategory.ORPHAN_DISPERSED), h, SEED, ON)
    assert refused.value.field == "beneficiary"


def test_back_pay_is_per_month_what_was_due_and_not_paid() -> None:
    due = {date(2026, 1, 1): Decimal("870"), date(2026, 2, 1): Decimal("870"), date(2026, 3, 1): Decimal("870")}
    paid = {date(2026, 1, 1): Decimal("580")}
    assert rules.back_pay(due, paid) == {
        date(2026, 1, 1): Decimal("290.00"),
        date(2026, 2, 1): Decimal("870.00"),
        date(2026, 3, 1): Decimal("870.00"),
    }
    assert list(rules.months(date(2026, 11, 15), date(2027, 2, 1))) == [
        date(2026, 11, 1),
        date(2026, 12, 1),
        date(2027, 1, 1),
    ]


def test_a_member_counts_until_the_month_after_their_death() -> None:
    """``counted_in`` (and the date a query filters on) agrees with when a benefit stops after a death, for deaths
    around every month boundary of a year."""
    deaths = [date(2025, 12, 1) + timedelta(days=d) for d in range(400)]
    for on in (date(2026, 1, 1), date(2026, 2, 28), date(2026, 3, 15), date(2026, 12, 31)):
        for died in deaths:
            assert rules.counted_in(died, on) == (rules.benefit_stops_after_death(died) > rules.month_start(on))
            assert rules.counted_in(died, on) == (died >= rules.first_death_still_counted(on))
    assert rules.counted_in(None, ON)
