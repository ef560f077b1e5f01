"""Eldercare's policy fixtures: where a seed document gives a figure it is used, with its source, and every other
figure says plainly that it is an assumption."""

from __future__ import annotations

from datetime import date

from services.eldercare import rules
from services.eldercare.policy_store import fixture_parameters, fixture_rates


def test_zhoushan_visits_its_elders_living_alone_or_in_empty_nests_monthly_from_2022_as_its_plan_says() -> None:
    params = fixture_parameters()
    dinghai = "330902"  # 定海区, in 舟山市 (330900)
    for situation in ("alone", "empty_nest"):
        name = rules.visit_interval_parameter(situation)
        assert rules.parameter(params, name, dinghai, date(2022, 1, 1)) == "30"
        [row] = [p for p in params if p.name == name and p.region_code == "330900"]
        assert row.source.startswith("seed 000") and "月探访率达到100%" in row.source
    assert rules.parameter(params, "visit_interval_days_alone", dinghai, date(2021, 12, 31)) == "7", "before then"


def test_every_figure_names_a_source_and_the_unsourced_ones_say_they_are_assumptions() -> None:
    sources = [r.source for r in fixture_rates()] + [p.source for p in fixture_parameters()]
    assert all(sources)
    sourced = [s for s in sources if "assumption" not in s]
    assert all(s.startswith(("seed", "domain.md")) for s in sourced), sourced
