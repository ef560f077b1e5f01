"""Dead letters for operators: a consumer group's events that failed for good, with why, and their replay once
the cause is fixed — what `civic dlq list|replay <group>` does, without a shell in the cluster. A journey's own
dead letters are replayed from the journey (``POST /journeys/{id}/replay``).

Operators read no personal data: an error's text is shown with resident IDs masked, and the subject is the
event's pseudonymous key."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from civic import dlq
from civic.app import ServiceDep
from civic.broker import CONSUMER_GROUPS
from civic.identity import mask_in_text
from civic.problems import NotFound

router = APIRouter(prefix="/dead-letters", tags=["dead letters"])


class DeadLetterPublic(BaseModel):
    event_id: str
    event_type: str
    subject: str
    correlation_id: str
    error: str
    failed_at: str
    topic: str
    partition: int
    offset: int


class DeadLettersReplayed(BaseModel):
    group: str
    replayed: list[DeadLetterPublic]


def _known(group: str) -> str:
    if group not in CONSUMER_GROUPS:
        raise NotFound("consumer group", f"one of {', '.join(CONSUMER_GROUPS)}")
    return group


def _public(letter: dlq.DeadLetter) -> DeadLetterPublic:
    return DeadLetterPublic(
        event_id=letter.event_id, event_type=letter.event_type, subject=letter.subject,
        correlation_id=letter.correlation_id, error=mask_in_text(letter.error), failed_at=letter.failed_at,
        topic=letter.topic, partition=letter.partition, offset=letter.offset,
    )  # fmt: skip


@router.get("/{group}")
async def list_dead_letters(group: str, service: ServiceDep) -> list[DeadLetterPublic]:
    """Every dead letter of the consumer group, oldest first: the event, where it came from and the error."""
    letters = await dlq.list_dead_letters(service.settings.kafka_options(), _known(group))
    return [_public(letter) for letter in letters]


@router.post("/{group}/replay")
async def replay_dead_letters(group: str, service: ServiceDep) -> DeadLettersReplayed:
    """Send the group's dead letters not replayed before back to their topics, for that group only (the other
    groups have handled them already). Replaying one twice is harmless: the group's inbox absorbs the second."""
    letters = await dlq.replay(service.settings.kafka_options(), _known(group),
                               session_timeout_ms=service.settings.kafka_session_timeout_ms)  # fmt: skip
    return DeadLettersReplayed(group=group, replayed=[_public(letter) for letter in letters])
