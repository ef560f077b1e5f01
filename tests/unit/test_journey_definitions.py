"""The journey definitions as data: which events start them (with a filter on the data where one event type means
several things), and what each needs to complete."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import contracts  # noqa: F401 - fills the event registry
from civic.events import TYPE_PATTERN, Event
from contracts.eldercare import AllowanceGranted
from gateway.journeys.definitions import AWAITING_CONTRACTS, JOURNEYS
from gateway.journeys.definitions.assistance_application import ASSISTANCE_APPLICATION
from gateway.journeys.definitions.marriage_change import DIVORCE, MARRIAGE
from gateway.journeys.definitions.turning_80 import TURNING_80
from gateway.journeys.model import JourneyState, StepState
from gateway.journeys.progress import Seen, derive
from gateway.journeys.tracker import journey_handlers
from tests.factories import resident_id

T0 = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
# Outcomes other services are adding: a journey waiting on them is defined, not yet followed.
ANNOUNCED = {
    "civic.eldercare.household-elders-enrolled.v1",
    "civic.assistance.household-addresses-updated.v1",
    "civic.eldercare.elder-addresses-updated.v1",
    "civic.assistance.households-rechecked.v1",
}


def seen(type_: str, minute: int) -> Seen:
    return Seen(f"{type_}@{minute}", type_, T0 + timedelta(minutes=minute))


def grant(allowance: str) -> AllowanceGranted:
    return AllowanceGranted(resident_id=resident_id(date(1946, 1, 1)), allowance_id="a-1", allowance=allowance,
                            region_code="371002", monthly_amount=Decimal("100.00"), granted_from=date(2026, 1, 1),
                            cause="aged 80 on 2026-01-01")  # fmt: skip


def test_every_followed_journey_names_only_declared_events_and_kinds_are_unique() -> None:
    handled = {cls.type_name for cls in journey_handlers()}
    assert set().union(*(j.event_types() for j in JOURNEYS)) == handled
    kinds = [j.kind for j in (*JOURNEYS, *AWAITING_CONTRACTS)]
    assert len(kinds) == len(set(kinds))


def test_a_journey_not_yet_followed_waits_only_on_the_announced_events() -> None:
    for journey in AWAITING_CONTRACTS:
        types = journey.event_types()
        assert all(TYPE_PATTERN.match(t) for t in types)
        missing = {t for t in types if t not in Event.registry}
        assert missing and missing <= ANNOUNCED, f"{journey.kind} names undeclared events: {missing - ANNOUNCED}"


def test_only_the_age_allowance_starts_a_turning_80_journey() -> None:
    assert TURNING_80.starts("civic.eldercare.allowance-granted.v1", grant("age"))
    assert not TURNING_80.starts("civic.eldercare.allowance-granted.v1", grant("difficult_elderly"))
    assert not TURNING_80.starts("civic.eldercare.allowance-stopped.v1", grant("age"))
    assert MARRIAGE.starts("civic.marriage.marriage-registered.v1", None), "no filter: the type alone"


def test_the_age_allowance_grant_is_itself_the_turning_80_journeys_step() -> None:
    progress = derive(TURNING_80, [seen("civic.eldercare.allowance-granted.v1", 0)])
    assert progress.started and progress.state is JourneyState.COMPLETED
    assert progress.steps == {"allowance-granted": StepState.DONE}
    assert TURNING_80.one_per_start_event and TURNING_80.notice_zh


def test_an_approval_completes_assistance_once_every_department_has_answered() -> None:
    start = seen("civic.assistance.application-submitted.v1", 0)
    approved = seen("civic.assistance.benefit-approved.v1", 5)
    answers = [seen(t, 6 + i) for i, s in enumerate(ASSISTANCE_APPLICATION.steps[1:]) for t in s.done]
    assert derive(ASSISTANCE_APPLICATION, [start, approved]).state is JourneyState.IN_PROGRESS
    done = derive(ASSISTANCE_APPLICATION, [start, approved, *answers])
    assert done.state is JourneyState.COMPLETED
    assert "funeral-services-marked" in done.steps
    rejected = derive(ASSISTANCE_APPLICATION, [start, seen("civic.assistance.application-rejected.v1", 5)])
    assert rejected.state is JourneyState.ENDED
    assert rejected.reasons == {"decision": "civic.assistance.application-rejected.v1"}


def test_marriage_and_divorce_complete_when_the_households_are_rechecked() -> None:
    for journey in (MARRIAGE, DIVORCE):
        started = [seen(journey.starts_with, 0)]
        assert derive(journey, started).state is JourneyState.IN_PROGRESS
        done = derive(journey, [*started, seen("civic.assistance.households-rechecked.v1", 1)])
        assert done.state is JourneyState.COMPLETED
