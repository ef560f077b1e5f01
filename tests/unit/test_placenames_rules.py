"""Place-name rules, pure: policy by region and date, name keys and pinyin, the notice period and what it allows,
division adjustments (merge, orphans, order, levels) and as-of queries, door numbers along a road."""

from __future__ import annotations

from datetime import date

import pytest

from services.placenames import rules
from services.placenames.rules import (
    Adjustment,
    CaseStatus,
    DivisionVersion,
    Level,
    Parameter,
    Policy,
    RuleBroken,
    Side,
)

POLICY = Policy(
    [
        Parameter("000000", "naming_notice_days", date(2022, 5, 1), 30, "national"),
        Parameter("371000", "naming_notice_days", date(2022, 5, 1), 20, "Weihai"),
        Parameter("371000", "naming_notice_days", date(2027, 1, 1), 15, "Weihai, later"),
    ]
)


def test_the_most_specific_region_and_latest_date_win() -> None:
    assert POLICY.value("naming_notice_days", "371002", date(2026, 6, 1)) == 20
    assert POLICY.value("naming_notice_days", "371002", date(2027, 1, 1)) == 15
    assert POLICY.value("naming_notice_days", "330683", date(2026, 6, 1)) == 30
    with pytest.raises(LookupError):
        POLICY.value("naming_notice_days", "330683", date(2020, 1, 1))
    assert rules.regions_upwards("371002001") == ["371002", "371000", "370000", "000000"]


def test_names_compare_without_spaces_and_full_width_forms() -> None:
    assert rules.name_key(" 新 华路 ") == rules.name_key("新华路")
    assert rules.name_key("Ｘ路") == "X路"


def test_pinyin_is_one_syllable_per_character_and_gives_initials() -> None:
    assert rules.check_name("新华路", "Xīn Huá Lù") == ("新华路", "xinhualu")
    assert rules.initials("xin hua lu") == "xhl"
    assert rules.pinyin_syllables("Lǚ'ān") == ["lu", "an"]
    with pytest.raises(RuleBroken) as wrong:
        rules.check_name("新华路", "xinhua lu")
    assert (wrong.value.kind, wrong.value.field) == ("pinyin-does-not-match-name", "pinyin")
    with pytest.raises(RuleBroken) as bad:
        rules.check_name("新华路", "新 华 路")
    assert bad.value.kind == "pinyin-not-valid"


def test_no_two_standard_names_alike_in_one_division() -> None:
    rules.check_not_standard_already("新华路", "371002", None)
    with pytest.raises(RuleBroken) as exc:
        rules.check_not_standard_already("新华路", "371002", "371002-R1")
    assert (exc.value.kind, exc.value.field) == ("name-already-standard", "name")


PERIOD = rules.notice_period(date(2026, 6, 15), 20)


def test_the_notice_period_counts_its_first_day() -> None:
    assert (PERIOD.first_day, PERIOD.last_day) == (date(2026, 6, 15), date(2026, 7, 4))


def test_objections_until_the_last_day_and_not_after() -> None:
    rules.check_objection_allowed(CaseStatus.IN_NOTICE, PERIOD, date(2026, 7, 4))
    with pytest.raises(RuleBroken) as late:
        rules.check_objection_allowed(CaseStatus.IN_NOTICE, PERIOD, date(2026, 7, 5))
    assert late.value.kind == "public-notice-over"
    with pytest.raises(RuleBroken) as closed:
        rules.check_objection_allowed(CaseStatus.AWAITING_DECISION, PERIOD, date(2026, 7, 5))
    assert closed.value.kind == "public-notice-over"
    with pytest.raises(RuleBroken) as early:
        rules.check_objection_allowed(CaseStatus.PROPOSED, None, date(2026, 6, 1))
    assert early.value.kind == "not-in-public-notice"


def test_no_decision_and_so_no_publication_before_the_notice_ends() -> None:
    with pytest.raises(RuleBroken) as exc:
        rules.check_decision_allowed(CaseStatus.IN_NOTICE, PERIOD, date(2026, 7, 4))
    assert (exc.value.kind, exc.value.field) == ("public-notice-not-over", "decision")
    rules.check_decision_allowed(CaseStatus.IN_NOTICE, PERIOD, date(2026, 7, 5))
    rules.check_decision_allowed(CaseStatus.AWAITING_DECISION, PERIOD, date(2026, 7, 5))
    with pytest.raises(RuleBroken):
        rules.check_decision_allowed(CaseStatus.PROPOSED, None, date(2026, 7, 5))
    with pytest.raises(RuleBroken):
        rules.check_decision_allowed(CaseStatus.EFFECTIVE, PERIOD, date(2026, 8, 1))


def test_notice_needs_the_expert_review_and_decisions_need_reasons() -> None:
    with pytest.raises(RuleBroken) as exc:
        rules.check_notice_may_start(CaseStatus.PROPOSED, 1, 2)
    assert exc.value.kind == "expert-review-incomplete"
    rules.check_notice_may_start(CaseStatus.PROPOSED, 2, 2)
    with pytest.raises(RuleBroken):
        rules.check_reasons(False, " ", 0)
    with pytest.raises(RuleBroken) as unanswered:
        rules.check_reasons(True, "", 1)
    assert unanswered.value.kind == "objections-unanswered"
    rules.check_reasons(True, "", 0)


def test_a_decision_takes_effect_today_or_later_and_the_job_applies_it_once_due() -> None:
    today = date(2026, 7, 5)
    assert rules.effective_date(today, None) == today
    with pytest.raises(RuleBroken):
        rules.effective_date(today, date(2026, 7, 4))
    assert not rules.due(CaseStatus.APPROVED, date(2026, 7, 10), today)
    assert rules.due(CaseStatus.APPROVED, date(2026, 7, 10), date(2026, 7, 10))
    assert not rules.due(CaseStatus.EFFECTIVE, date(2026, 7, 10), date(2026, 7, 11))


D0 = date(2000, 1, 1)
TREE = [
    DivisionVersion("370000", "山东省", Level.PROVINCE, None, D0),
    DivisionVersion("371000", "威海市", Level.CITY, "370000", D0),
    DivisionVersion("371002", "环翠区", Level.COUNTY, "371000", D0),
    DivisionVersion("371002002", "鲸园街道", Level.TOWNSHIP, "371002", D0),
    DivisionVersion("371002003", "竹岛街道", Level.TOWNSHIP, "371002", D0),
    DivisionVersion("371002003001", "竹岛社区", Level.COMMUNITY, "371002003", D0),
]
MERGE_DAY = date(2026, 1, 1)


def test_a_merge_ends_one_street_and_moves_its_community() -> None:
    moved = DivisionVersion("371002003001", "竹岛社区", Level.COMMUNITY, "371002002", MERGE_DAY)
    plan = rules.plan_adjustment(TREE, Adjustment(MERGE_DAY, ["371002003"], [moved]))
    assert plan.closed == ["371002003", "371002003001"]
    assert plan.opened == [moved]


def test_a_merge_that_leaves_children_without_a_parent_is_refused() -> None:
    with pytest.raises(RuleBroken) as exc:
        rules.plan_adjustment(TREE, Adjustment(MERGE_DAY, ["371002003"], []))
    assert (exc.value.kind, exc.value.field) == ("orphaned-divisions", "ends")


def test_adjustments_are_checked_for_order_existence_and_level() -> None:
    with pytest.raises(RuleBroken) as unknown:
        rules.plan_adjustment(TREE, Adjustment(MERGE_DAY, ["371002009"], []))
    assert (unknown.value.kind, unknown.value.field) == ("unknown-division", "ends.0")
    with pytest.raises(RuleBroken) as order:
        rules.plan_adjustment(TREE, Adjustment(date(1999, 1, 1), ["371002003001"], []))
    assert order.value.kind == "adjustments-out-of-order"
    wrong = DivisionVersion("371002004", "新街道", Level.COMMUNITY, "371002", MERGE_DAY)
    with pytest.raises(RuleBroken) as level:
        rules.plan_adjustment(TREE, Adjustment(MERGE_DAY, [], [wrong]))
    assert (level.value.kind, level.value.field) == ("wrong-level", "versions.0.level")


def test_as_of_a_date_and_the_path_to_the_province() -> None:
    ended = [v if v.code != "371002003" else DivisionVersion(**{**vars(v), "valid_until": MERGE_DAY}) for v in TREE]
    assert "371002003" in rules.as_of(ended, date(2025, 12, 31))
    assert "371002003" not in rules.as_of(ended, MERGE_DAY)
    path = rules.path_to_root(rules.as_of(TREE, MERGE_DAY), "371002003001")
    assert [d.name for d in path] == ["山东省", "威海市", "环翠区", "竹岛街道", "竹岛社区"]
    assert [rules.division_prefix(c) for c in ("370000", "371000", "371002", "371002003")] == [
        "37",
        "3710",
        "371002",
        "371002003",
    ]


def test_door_numbers_go_along_one_side_of_the_road() -> None:
    assert rules.next_number([], Side.ODD) == 1
    assert rules.next_number([], Side.EVEN) == 2
    assert rules.next_number([1, 3, 2, 12], Side.ODD) == 5
    assert rules.next_number([1, 3, 2, 12], Side.EVEN) == 14
    with pytest.raises(RuleBroken) as side:
        rules.check_number(12, Side.ODD)
    assert (side.value.kind, side.value.field) == ("door-number-wrong-side", "number")
    assert rules.address_of("新华路", 12) == "新华路12号"
    assert rules.address_of("新华路", 12, "1") == "新华路12-1号"
    with pytest.raises(RuleBroken) as bridge:
        rules.check_road_may_carry_plates("bridge", "standard")
    assert bridge.value.kind == "not-a-road"


def test_a_name_is_indexed_by_each_character_and_each_neighbouring_pair() -> None:
    assert rules.search_grams("新华 路") == {"新", "华", "路", "新华", "华路"}
    assert rules.search_grams("ＣＢＤ大道") >= {"cb", "bd", "d大", "大道"}, "full-width folded, lower case"
    assert rules.query_grams("华") == {"华"}
    assert rules.query_grams("新华路") == {"新华", "华路"}
    assert rules.query_grams("新华路") <= rules.search_grams("新华路")


def test_prefix_bounds_cover_exactly_the_strings_with_the_prefix() -> None:
    low, high = rules.prefix_bounds("xinhua")
    assert all(low <= s < high for s in ("xinhua", "xinhualu", "xinhuaz"))
    assert not any(low <= s < high for s in ("xinhu", "xinhub", "xinhva"))
