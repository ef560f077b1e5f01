"""A journey's state from its events alone: order of arrival does not matter, compensation is tracked."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest

from gateway.journeys.model import Journey, JourneyState, Step, StepState
from gateway.journeys.progress import Seen, derive

T0 = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
JOURNEY = Journey(
    kind="test", label_zh="测试", label_en="test", starts_with="civic.a.started.v1",
    compensation_starts_with="civic.a.revoked.v1", deadline=timedelta(hours=1),
    steps=(
        Step("one", "一", "one", "b", done=("civic.b.done.v1",), compensated=("civic.b.undone.v1",)),
        Step("two", "二", "two", "c", done=("civic.c.done.v1",), not_applicable=("civic.c.nothing.v1",),
             compensated=("civic.c.undone.v1",)),
        Step("decision", "决定", "decision", "d", done=("civic.d.approved.v1",), ends_journey=("civic.d.rejected.v1",)),
    ),
)  # fmt: skip


def seen(type_: str, minute: int, dead_letter_of: str | None = None) -> Seen:
    return Seen(
        f"{type_}@{minute}", type_, T0 + timedelta(minutes=minute), dead_letter_of, "boom" if dead_letter_of else None
    )


def test_a_started_journey_is_in_progress_until_every_step_is_done_or_not_needed() -> None:
    progress = derive(JOURNEY, [seen("civic.a.started.v1", 0), seen("civic.b.done.v1", 1)])
    assert progress.started and progress.state is JourneyState.IN_PROGRESS
    assert progress.steps == {"one": StepState.DONE, "two": StepState.PENDING, "decision": StepState.PENDING}
    done = derive(JOURNEY, [seen("civic.a.started.v1", 0), seen("civic.b.done.v1", 1), seen("civic.c.nothing.v1", 2),
                            seen("civic.d.approved.v1", 3)])  # fmt: skip
    assert done.state is JourneyState.COMPLETED
    assert done.steps["two"] is StepState.NOT_APPLICABLE


def test_the_order_of_arrival_does_not_matter() -> None:
    events = [seen("civic.a.started.v1", 0), seen("civic.b.done.v1", 1), seen("civic.c.done.v1", 2),
              seen("civic.d.approved.v1", 3)]  # fmt: skip
    results = {derive(JOURNEY, list(order)).state for order in itertools.permutations(events)}
    assert results == {JourneyState.COMPLETED}


def test_a_rejection_ends_the_journey_with_its_reason() -> None:
    progress = derive(JOURNEY, [seen("civic.a.started.v1", 0), seen("civic.d.rejected.v1", 1)])
    assert progress.state is JourneyState.ENDED
    assert progress.reasons["decision"] == "civic.d.rejected.v1"


def test_a_dead_letter_holds_up_its_step_until_a_replay_gets_it_done() -> None:
    held = [seen("civic.a.started.v1", 0), seen("civic.a.started.v1", 1, dead_letter_of="b")]
    progress = derive(JOURNEY, held)
    assert progress.state is JourneyState.FAILED
    assert progress.steps["one"] is StepState.FAILED and progress.reasons["one"] == "boom"
    after_replay = derive(JOURNEY, [*held, seen("civic.b.done.v1", 5)])
    assert after_replay.steps["one"] is StepState.DONE
    assert "one" not in after_replay.reasons
    assert after_replay.state is JourneyState.IN_PROGRESS


def test_a_dead_letter_after_the_step_is_done_changes_nothing() -> None:
    progress = derive(JOURNEY, [seen("civic.a.started.v1", 0), seen("civic.b.done.v1", 1),
                                seen("civic.x.other.v1", 2, dead_letter_of="b")])  # fmt: skip
    assert progress.steps["one"] is StepState.DONE


@pytest.mark.parametrize("second_step", ["civic.c.done.v1", "civic.c.nothing.v1"])
def test_compensation_completes_when_every_effect_is_undone(second_step: str) -> None:
    forward = [seen("civic.a.started.v1", 0), seen("civic.b.done.v1", 1), seen(second_step, 2),
               seen("civic.d.approved.v1", 3), seen("civic.a.revoked.v1", 10)]  # fmt: skip
    assert derive(JOURNEY, forward).state is JourneyState.COMPENSATING
    partly = derive(JOURNEY, [*forward, seen("civic.b.undone.v1", 11)])
    undo_two = [] if second_step == "civic.c.nothing.v1" else [seen("civic.c.undone.v1", 12)]
    assert partly.state is (JourneyState.COMPENSATED if not undo_two else JourneyState.COMPENSATING)
    assert derive(JOURNEY, [*forward, seen("civic.b.undone.v1", 11), *undo_two]).state is JourneyState.COMPENSATED


def test_every_defined_journey_names_only_declared_events() -> None:
    import contracts  # noqa: F401
    from gateway.journeys.tracker import journey_handlers

    assert journey_handlers()  # raises if a definition names an event no contract declares
