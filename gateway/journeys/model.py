"""What a journey definition is: data that says which events start a journey, finish or excuse each step,
undo it, and by when the whole should be done."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum


class StepState(StrEnum):
    PENDING = "pending"
    DONE = "done"
    NOT_APPLICABLE = "not_applicable"
    FAILED = "failed"
    COMPENSATED = "compensated"


class JourneyState(StrEnum):
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    ENDED = "ended"  # finished early by a step's outcome, e.g. an application rejected
    FAILED = "failed"
    COMPENSATING = "compensating"
    COMPENSATED = "compensated"


LABELS: dict[str, tuple[str, str]] = {
    StepState.PENDING: ("办理中", "in progress"),
    StepState.DONE: ("已办结", "done"),
    StepState.NOT_APPLICABLE: ("无需办理", "not needed"),
    StepState.FAILED: ("办理受阻", "held up"),
    StepState.COMPENSATED: ("已撤回", "undone"),
    JourneyState.IN_PROGRESS: ("办理中", "in progress"),
    JourneyState.COMPLETED: ("全部办结", "completed"),
    JourneyState.ENDED: ("已终止", "ended"),
    JourneyState.FAILED: ("办理受阻", "held up"),
    JourneyState.COMPENSATING: ("撤回中", "being undone"),
    JourneyState.COMPENSATED: ("已全部撤回", "undone"),
}


@dataclass(frozen=True)
class Step:
    name: str
    label_zh: str
    label_en: str
    service: str  # the consumer group whose dead letters hold this step up
    done: tuple[str, ...]
    not_applicable: tuple[str, ...] = ()
    failed: tuple[str, ...] = ()
    compensated: tuple[str, ...] = ()  # the events that undo the step during compensation
    ends_journey: tuple[str, ...] = ()  # outcomes that finish the journey early (a rejection)


@dataclass(frozen=True)
class Journey:
    kind: str
    label_zh: str
    label_en: str
    starts_with: str
    steps: tuple[Step, ...]
    deadline: timedelta
    compensation_starts_with: str | None = None  # the revoking event, matched to the journey by its subject
    # Only a start event whose data has these values starts the journey (the same event type may mean other
    # things: eldercare's allowance-granted is the age allowance or the difficult-elderly subsidy).
    starts_when: tuple[tuple[str, str], ...] = ()
    # A journey per start event rather than per request: a daily job grants many people's allowances in one run,
    # under one correlation id, and each of them has a journey of their own.
    one_per_start_event: bool = False
    # What the person the journey is about is told once it is over, in plain words (a citizen's notifications).
    notice_zh: str = ""
    notice_en: str = ""
    notes: str = field(default="", compare=False)

    def starts(self, event_type: str, data: object) -> bool:
        """Whether an event of ``event_type`` with this data starts a journey of this kind."""
        if event_type != self.starts_with:
            return False
        return all(str(getattr(data, name, None)) == value for name, value in self.starts_when)

    def event_types(self) -> set[str]:
        types = {self.starts_with} | ({self.compensation_starts_with} if self.compensation_starts_with else set())
        for step in self.steps:
            types |= {*step.done, *step.not_applicable, *step.failed, *step.compensated, *step.ends_journey}
        return types
