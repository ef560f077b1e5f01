"""临时救助 rules: caps and the paperwork deadline come from policy data; figures the sources do not give are not
in force until a region sets them."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from services.assistance import rules
from services.assistance.policy_store import FIXTURE, fixture_parameters, read_fixture
from services.assistance.rules import Parameter, Per, Policy, TemporaryKind

ON = date(2026, 3, 10)
SEED = fixture_parameters()


# Local figures a caseworker would set (test values: the sources give none).
WEIHAI_PARAMETERS = [
    *SEED,
    Parameter("371000", "all", "temporary_emergency_advance_cap", date(2026, 1, 1), "1000", Per.ONCE),
    Parameter("371000", "all", "temporary_emergency_paperwork_days", date(2026, 1, 1), "10", Per.DAYS),
    Parameter("371000", "all", "temporary_expenditure_cap", date(2026, 1, 1), "20000", Per.ONCE),
]
WEIHAI = Policy(WEIHAI_PARAMETERS)


def test_the_figures_the_sources_do_not_give_are_documented_and_not_loaded() -> None:
    rows = FIXTURE.read_text(encoding="utf-8")
    for name in ("temporary_emergency_advance_cap", "temporary_emergency_paperwork_days", "temporary_expenditure_cap"):
        assert f"{name},2000-01-01,,once" in rows or f"{name},2000-01-01,,days" in rows
        assert not [p for p in SEED if p.name == name], f"{name} is not invented"
    assert [p.value for p in SEED if p.name == "temporary_emergency_response_hours"] == ["24"]
    assert (
        read_fixture("region_code,area,parameter,effective_from,value,per,source\n000000,all,x,2000-01-01,,once,s\n")
        == []
    )


def test_without_a_local_cap_no_advance_is_granted() -> None:
    with pytest.raises(rules.MissingPolicy) as missing:
        rules.grant_temporary(TemporaryKind.EMERGENCY, Decimal("500"), [], "371002", "urban", Policy(SEED), ON)
    assert missing.value.name == "temporary_emergency_advance_cap"


def test_an_emergency_advance_within_the_cap_is_paid_at_once_with_a_paperwork_deadline() -> None:
    decision = rules.grant_temporary(TemporaryKind.EMERGENCY, Decimal("800"), [], "371002", "urban", WEIHAI, ON,
                                     hours_since_report=Decimal("3.5"))  # fmt: skip
    assert decision.stages == ((ON, Decimal("800.00")),)
    assert decision.paperwork_due == date(2026, 3, 20)
    assert any("within the 24 hours" in r for r in decision.reasons)
    assert any("temporary_emergency_advance_cap = 1000.00 yuan" in r for r in decision.reasons)
    with pytest.raises(rules.Refused) as above:
        rules.grant_temporary(TemporaryKind.EMERGENCY, Decimal("1000.01"), [], "371002", "urban", WEIHAI, ON)
    assert above.value.field == "amount"


def test_a_cap_raised_from_a_date_applies_from_that_date() -> None:
    raised = Policy([*WEIHAI_PARAMETERS, Parameter("371000", "all", "temporary_emergency_advance_cap",
                                                   date(2026, 7, 1), "2000", Per.ONCE)])  # fmt: skip
    with pytest.raises(rules.Refused):
        rules.grant_temporary(TemporaryKind.EMERGENCY, Decimal("1500"), [], "371002", "urban", raised, ON)
    later = rules.grant_temporary(TemporaryKind.EMERGENCY, Decimal("1500"), [], "371002", "urban", raised,
                                  date(2026, 7, 1))  # fmt: skip
    assert later.amount == Decimal("1500.00")


def test_expenditure_is_approved_once_and_paid_in_stages_that_add_up() -> None:
    stages = [(date(2026, 3, 10), Decimal("4000")), (date(2026, 4, 10), Decimal("3000")),
              (date(2026, 5, 10), Decimal("3000"))]  # fmt: skip
    decision = rules.grant_temporary(TemporaryKind.EXPENDITURE, Decimal("10000"), stages, "371002", "rural",
                                     WEIHAI, ON)  # fmt: skip
    assert [a for _, a in decision.stages] == [Decimal("4000.00"), Decimal("3000.00"), Decimal("3000.00")]
    assert decision.paperwork_due is None
    refusals = {
        "stages": (Decimal("10000"), stages[:2]),
        "stages[0].due_on": (Decimal("10000"), [(date(2026, 3, 9), Decimal("10000"))]),
        "stages[1].due_on": (Decimal("6000"), [stages[1], (date(2026, 3, 10), Decimal("3000"))]),
        "amount": (Decimal("20000.01"), [(ON, Decimal("20000.01"))]),
    }
    for field, (amount, given) in refusals.items():
        with pytest.raises(rules.Refused) as refused:
            rules.grant_temporary(TemporaryKind.EXPENDITURE, amount, given, "371002", "rural", WEIHAI, ON)
        assert refused.value.field == field


def test_an_advance_is_overdue_the_day_after_its_paperwork_was_due() -> None:
    due = date(2026, 3, 20)
    assert not rules.advance_overdue(due, False, due)
    assert rules.advance_overdue(due, False, date(2026, 3, 21))
    assert not rules.advance_overdue(due, True, date(2026, 4, 1))
