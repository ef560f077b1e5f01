"""The state of a journey, derived from its events alone: pure, so the projection can be rebuilt from the
topics at any time and the same events always give the same answer, whatever order they arrived in."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from gateway.journeys.model import Journey, JourneyState, StepState


@dataclass(frozen=True)
class Seen:
    """One event of a journey, as the tracker keeps it."""

    event_id: str
    type: str
    time: datetime
    dead_letter_of: str | None = None  # the consumer group that could not handle it
    error: str | None = None


@dataclass(frozen=True)
class Progress:
    state: JourneyState
    steps: dict[str, StepState]
    reasons: dict[str, str]  # why a step is held up or the journey ended
    started: bool


def derive(journey: Journey, events: Iterable[Seen]) -> Progress:
    ordered = sorted(events, key=lambda e: (e.time, e.event_id))
    steps = {step.name: StepState.PENDING for step in journey.steps}
    reasons: dict[str, str] = {}
    started = compensating = ended = False
    for event in ordered:
        if event.dead_letter_of is None and event.type == journey.starts_with:
            started = True
            if not any(event.type in step.done for step in journey.steps):
                continue  # else the start is also a step's outcome (a grant that is itself the journey's news)
        if event.dead_letter_of is None and event.type == journey.compensation_starts_with:
            compensating = True
            continue
        for step in journey.steps:
            if event.dead_letter_of is not None:
                # A dead letter holds up the step of the service that could not handle it, unless that step
                # has already got past (a later replay that succeeded shows up as the step's own event).
                if event.dead_letter_of == step.service and steps[step.name] is StepState.PENDING:
                    steps[step.name] = StepState.FAILED
                    reasons[step.name] = event.error or "could not be handled"
                continue
            if event.type in step.done:
                steps[step.name] = StepState.DONE
                reasons.pop(step.name, None)
            elif event.type in step.not_applicable:
                steps[step.name] = StepState.NOT_APPLICABLE
                reasons.pop(step.name, None)
            elif event.type in step.failed:
                steps[step.name] = StepState.FAILED
                reasons[step.name] = event.type
            elif event.type in step.ends_journey:
                steps[step.name] = StepState.DONE
                ended = True
                reasons[step.name] = event.type
            elif event.type in step.compensated:
                steps[step.name] = StepState.COMPENSATED
    return Progress(_overall(journey, steps, compensating, ended), steps, reasons, started)


def _overall(journey: Journey, steps: dict[str, StepState], compensating: bool, ended: bool) -> JourneyState:
    if compensating:
        # Undone when every step that had an effect has been undone (or had nothing to undo).
        needs_undo = [s for s in journey.steps if s.compensated]
        if all(steps[s.name] in (StepState.COMPENSATED, StepState.NOT_APPLICABLE) for s in needs_undo):
            return JourneyState.COMPENSATED
        return JourneyState.COMPENSATING
    if ended:
        return JourneyState.ENDED
    if any(state is StepState.FAILED for state in steps.values()):
        return JourneyState.FAILED
    if all(state in (StepState.DONE, StepState.NOT_APPLICABLE) for state in steps.values()):
        return JourneyState.COMPLETED
    return JourneyState.IN_PROGRESS
