"""Funeral administration's pure rules, with the figures of the policy fixture the service loads."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from services.funeral import rules
from services.funeral.policy_store import fixture_parameters
from services.funeral.rules import BurialType, DeathSource, Difficulty, FuneralBenefitKind, Policy, ReportMatch
from tests.factories import resident_id

POLICY = Policy(fixture_parameters())
WEIHAI_HUANCUI, SHENGZHOU, ELSEWHERE = "371002", "330683", "110105"


@pytest.mark.parametrize(
    ("burial_type", "amount"),
    [
        (BurialType.SEA, "800.00"),
        (BurialType.TREE, "800.00"),
        (BurialType.WALL, "800.00"),
        (BurialType.LAWN, "800.00"),
        (BurialType.NO_ASHES_KEPT, "1000.00"),
    ],
)
def test_weihai_eco_burial_subsidy_by_type(burial_type: BurialType, amount: str) -> None:
    parameter = rules.eco_burial_subsidy(burial_type, WEIHAI_HUANCUI, date(2026, 11, 10), POLICY)
    assert parameter.value == Decimal(amount)
    assert parameter.region_code == "371000", "a county inherits its city's figure"


def test_no_eco_burial_subsidy_where_or_when_no_policy_is_in_force() -> None:
    with pytest.raises(rules.RuleBroken) as elsewhere:
        rules.eco_burial_subsidy(BurialType.SEA, ELSEWHERE, date(2026, 11, 10), POLICY)
    assert (elsewhere.value.kind, elsewhere.value.field) == ("no-eco-burial-subsidy", "burial_type")
    with pytest.raises(rules.RuleBroken):
        rules.eco_burial_subsidy(BurialType.SEA, WEIHAI_HUANCUI, date(2019, 12, 31), POLICY)


def test_a_later_figure_applies_from_its_date_and_a_county_figure_beats_the_citys() -> None:
    policy = Policy(
        [
            *fixture_parameters(),
            rules.Parameter("371000", "eco_burial_subsidy_sea", date(2027, 1, 1), Decimal("900.00")),
            rules.Parameter("371082", "eco_burial_subsidy_sea", date(2020, 1, 1), Decimal("1200.00")),
        ]
    )
    assert rules.eco_burial_subsidy(BurialType.SEA, "371002", date(2026, 12, 31), policy).value == Decimal("800.00")
    assert rules.eco_burial_subsidy(BurialType.SEA, "371002", date(2027, 1, 1), policy).value == Decimal("900.00")
    assert rules.eco_burial_subsidy(BurialType.SEA, "371082", date(2027, 1, 1), policy).value == Decimal("1200.00")


DIBAO = Difficulty("dibao", "case-1", date(2025, 1, 1), None)


def test_a_deceased_in_difficulty_gets_the_basic_services_free() -> None:
    decision = rules.decide_funeral_benefit([DIBAO], date(2026, 11, 2), WEIHAI_HUANCUI, POLICY)
    assert decision.kind is FuneralBenefitKind.FREE_BASIC_SERVICES
    assert (decision.amount, decision.in_kind) == (Decimal("1200.00"), True)
    assert "dibao" in decision.reason and "case-1" in decision.reason


def test_someone_else_in_weihai_gets_nothing_and_in_shengzhou_the_standard_benefit() -> None:
    weihai = rules.decide_funeral_benefit([], date(2026, 11, 2), WEIHAI_HUANCUI, POLICY)
    assert (weihai.kind, weihai.amount) == (None, Decimal("0.00"))
    shengzhou = rules.decide_funeral_benefit([], date(2026, 11, 2), SHENGZHOU, POLICY)
    assert shengzhou.kind is FuneralBenefitKind.STANDARD
    assert (shengzhou.amount, shengzhou.in_kind) == (Decimal("835.21"), False)
    poor_in_shengzhou = rules.decide_funeral_benefit([DIBAO], date(2026, 11, 2), SHENGZHOU, POLICY)
    assert poor_in_shengzhou.kind is FuneralBenefitKind.FREE_BASIC_SERVICES


@pytest.mark.parametrize(
    ("difficulty", "free"),
    [
        (Difficulty("dibao", "c", date(2025, 1, 1), date(2026, 12, 1)), True),  # stopped after the death
        (Difficulty("dibao", "c", date(2025, 1, 1), date(2026, 11, 2)), False),  # ended on the day of death
        (Difficulty("tekun", "c", date(2026, 11, 2), None), True),
        (Difficulty("dibao_edge", "c", date(2020, 1, 1), None), True),
        (Difficulty("dibao", "c", date(2026, 11, 3), None), False),  # approved after the death
        (Difficulty("disability_living", "c", date(2020, 1, 1), None), False),  # not a difficulty benefit
    ],
)
def test_in_difficulty_means_on_the_day_of_death(difficulty: Difficulty, free: bool) -> None:
    decision = rules.decide_funeral_benefit([difficulty], date(2026, 11, 2), WEIHAI_HUANCUI, POLICY)
    assert (decision.kind is FuneralBenefitKind.FREE_BASIC_SERVICES) is free


def test_in_difficulty_where_no_figure_exists_is_left_to_a_caseworker() -> None:
    decision = rules.decide_funeral_benefit([DIBAO], date(2026, 11, 2), ELSEWHERE, POLICY)
    assert decision.kind is None and "caseworker" in decision.reason


def test_second_reports_are_the_same_death_unless_the_date_or_certificate_differs() -> None:
    registered = rules.ReportedFacts(date(2026, 11, 2), "MC-1")
    assert rules.compare_reports(registered, rules.ReportedFacts(date(2026, 11, 2), None)) == (
        ReportMatch.SAME_DEATH,
        [],
    )
    assert (
        rules.compare_reports(registered, rules.ReportedFacts(date(2026, 11, 2), "MC-1"))[0] is ReportMatch.SAME_DEATH
    )
    assert rules.compare_reports(registered, rules.ReportedFacts(date(2026, 11, 3), "MC-2")) == (
        ReportMatch.CONFLICTING,
        ["date_of_death", "medical_certificate_number"],
    )
    assert rules.compare_reports(rules.ReportedFacts(date(2026, 11, 2), None), rules.ReportedFacts(
        date(2026, 11, 2), "MC-9"))[0] is ReportMatch.SAME_DEATH  # fmt: skip


@pytest.mark.parametrize(
    ("relation", "declared", "source"),
    [
        ("医院", None, DeathSource.HOSPITAL),
        ("派出所", None, DeathSource.POLICE),
        ("村委会", None, DeathSource.COMMUNITY),
        ("殡仪馆", None, DeathSource.FUNERAL_HOME),
        ("子女", None, DeathSource.FAMILY),
        ("子女", DeathSource.COMMUNITY, DeathSource.COMMUNITY),
    ],
)
def test_the_source_of_a_report(relation: str, declared: DeathSource | None, source: DeathSource) -> None:
    assert rules.source_of(relation, declared) is source


def test_a_date_of_death_is_neither_in_the_future_nor_before_birth() -> None:
    rid = resident_id(date(1950, 3, 1))
    rules.check_date_of_death(rid, date(1950, 3, 1), date(2026, 11, 20))
    with pytest.raises(rules.ImpossibleDeathDate):
        rules.check_date_of_death(rid, date(2026, 11, 21), date(2026, 11, 20))
    with pytest.raises(rules.ImpossibleDeathDate):
        rules.check_date_of_death(rid, date(1950, 2, 28), date(2026, 11, 20))


def test_burial_and_cremation_dates() -> None:
    rules.check_burial_date(date(2026, 11, 5), date(2026, 11, 2), date(2026, 11, 20))
    for burial in (date(2026, 11, 1), date(2026, 11, 21)):
        with pytest.raises(rules.RuleBroken):
            rules.check_burial_date(burial, date(2026, 11, 2), date(2026, 11, 20))
    with pytest.raises(rules.RuleBroken) as early:
        rules.check_cremation(date(2026, 11, 1), date(2026, 11, 2), date(2026, 11, 20))
    assert early.value.kind == "cremation-before-death"


def test_grave_codes_and_eco_graves() -> None:
    assert rules.plot_code("WH01", "A", 3, 7) == "WH01-A-03-007"
    assert rules.is_eco_plot("tree") and not rules.is_eco_plot("traditional")


def test_cremation_rate() -> None:
    assert rules.cremation_rate(0, 0) is None
    assert rules.cremation_rate(3, 3) == Decimal("100.0")
    assert rules.cremation_rate(2, 3) == Decimal("66.7")


def test_the_fixture_names_a_source_for_every_figure() -> None:
    parameters = fixture_parameters()
    assert parameters and all(p.source for p in parameters)
    assert len({(p.region_code, p.name, p.effective_from) for p in parameters}) == len(parameters)
