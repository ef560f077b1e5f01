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


def test_nursing_bed_ratio_targets_are_the_cities_own_by_year_and_the_national_one_says_it_is_borrowed() -> None:
    params = fixture_parameters()
    name = "nursing_bed_ratio_target"
    dinghai, huancui, banan, elsewhere = "330902", "371002", "500113", "110105"
    by_day = {day: rules.parameter(params, name, dinghai, day)
              for day in (date(2020, 6, 1), date(2022, 1, 1), date(2024, 12, 31), date(2025, 1, 1))}  # fmt: skip
    assert by_day == {date(2020, 6, 1): "0.51", date(2022, 1, 1): "0.55", date(2024, 12, 31): "0.55",
                      date(2025, 1, 1): "0.58"}, "Zhoushan: 2020 actual, then its 2022 and 2025 targets"  # fmt: skip
    assert rules.parameter(params, name, huancui, date(2025, 1, 1)) == "0.60", "Weihai's 2025 target"
    assert rules.parameter(params, name, banan, date(2025, 1, 1)) == "0.60", "Banan's 2025 target"
    assert rules.parameter(params, name, huancui, date(2024, 12, 31)) == "0.55", "the fallback before then"
    [national] = [p for p in params if p.name == name and p.region_code == "000000"]
    assert national.value == rules.parameter(params, name, elsewhere, date(2026, 1, 1)) == "0.55"
    assert national.source.startswith("assumption") and "Zhoushan" in national.source, "borrowed, and says so"
    zhoushan = {p.value: p.source for p in params if p.name == name and p.region_code == "330900"}
    assert "2020年实际值 51" in zhoushan["0.51"] and "not a target" in zhoushan["0.51"]
    assert "2022年目标值 55" in zhoushan["0.55"] and "2025年目标值 58" in zhoushan["0.58"]


def test_no_regional_figure_is_an_assumption() -> None:
    """A figure for a named region is that region's policy: it comes from a document, never made up to show one."""
    regional = [p for p in fixture_parameters() if p.region_code != "000000"]
    assert regional and all(p.source.startswith("seed") and "assumption" not in p.source for p in regional)
