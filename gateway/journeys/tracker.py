"""Feeding the projection: one handler for every event a journey definition mentions, and one for the
dead-letter topics, so that a step held up by a poison event shows as such."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

import contracts  # noqa: F401 - fills the event registry the definitions refer to
from civic import dlq
from civic.bus import Handler, HandlerContext, Handlers
from civic.config import DOMAINS
from civic.events import Envelope, Event, PersonEvent
from gateway.journeys.definitions import JOURNEYS
from gateway.journeys.model import Journey, JourneyState
from gateway.journeys.progress import Seen, derive
from gateway.journeys.tables import JourneyAlias, JourneyEventRecord, JourneyParty, JourneyRecord

DLQ_TOPICS = [dlq.topic_for(group) for group in DOMAINS]
OPEN_STATES = [JourneyState.IN_PROGRESS, JourneyState.FAILED, JourneyState.COMPENSATING]


def _trace_id(traceparent: str | None) -> str | None:
    parts = (traceparent or "").split("-")
    return parts[1] if len(parts) == 4 else None


async def track_journey_event(event: Event, ctx: HandlerContext) -> None:
    """Record the event under its journey and recompute that journey's state."""
    env = ctx.envelope
    dead_letter_of = None
    error = None
    if ctx.topic.startswith("civic.dlq."):
        dead_letter_of = ctx.headers.get("civic_dlq_group", b"").decode() or ctx.topic.removeprefix("civic.dlq.")
        error = ctx.headers.get(dlq.ERROR_HEADER, b"").decode()[:500] or None
    parties = {ctx.outbox.pseudonym_of(p) for p in event.parties()} if isinstance(event, PersonEvent) else set()
    await record_event(ctx.session, env, dead_letter_of, error, event, parties - {env.subject})


async def note_parties(session: AsyncSession, journey_id: str, subjects: set[str]) -> None:
    """Everyone else the starting event names may follow the journey too (added once: a replayed event returns
    before this)."""
    for subject in subjects:
        if await session.get(JourneyParty, (journey_id, subject)) is None:
            session.add(JourneyParty(journey_id=journey_id, subject=subject))


def starting(env: Envelope, data: Event | None) -> Journey | None:
    """The journey this event starts, if any (a dead letter starts nothing)."""
    return next((j for j in JOURNEYS if j.starts(env.type, data)), None)


async def record_event(
    session: AsyncSession, env: Envelope, dead_letter_of: str | None, error: str | None, data: Event | None = None,
    parties: set[str] | frozenset[str] = frozenset(),
) -> None:  # fmt: skip
    """``parties``: the pseudonyms of everyone else the event names (a spouse), who may follow the journey it
    starts."""
    event_id = env.id if dead_letter_of is None else f"{env.id}@dlq.{dead_letter_of}"
    if await session.get(JourneyEventRecord, event_id) is not None:
        return  # seen already (a replayed dead letter arrives again under the same id)
    definition = starting(env, data) if dead_letter_of is None else None
    journey_id = await _journey_of(session, env, definition)
    session.add(JourneyEventRecord(
        event_id=event_id, correlation_id=journey_id, type=env.type, subject=env.subject, source=env.source,
        time=env.time, causation_id=env.causation_id, dead_letter_of=dead_letter_of, error=error,
        trace_id=_trace_id(env.traceparent),
    ))  # fmt: skip
    await session.flush()
    record = await session.get(JourneyRecord, journey_id)
    if record is None and definition is not None and dead_letter_of is None:
        record = JourneyRecord(
            id=journey_id, kind=definition.kind, subject=env.subject, initiator=env.initiator, state="", steps="{}",
            reasons="{}", started_at=env.time, deadline_at=env.time + definition.deadline, updated_at=env.time,
            trace_id=_trace_id(env.traceparent),
        )  # fmt: skip
    if record is not None:
        await _recompute(session, record)
    if definition is not None:
        await note_parties(session, journey_id, set(parties))


async def _journey_of(session: AsyncSession, env: Envelope, starts: Journey | None) -> str:
    """The journey an event belongs to: by its correlation id, or else — for an event that continues a journey
    from a request of its own (a caseworker's approval, a revocation) — the person's latest such journey."""
    if starts is not None and starts.one_per_start_event:
        return env.id
    alias = await session.get(JourneyAlias, env.correlation_id)
    if alias is not None:
        return alias.journey_id
    if await session.get(JourneyRecord, env.correlation_id) is not None:
        return env.correlation_id
    if starts is not None:
        return env.correlation_id
    revoking = [j.kind for j in JOURNEYS if j.compensation_starts_with == env.type]
    continuing = [j.kind for j in JOURNEYS if env.type in j.event_types()]
    query = select(JourneyRecord).where(JourneyRecord.subject == env.subject)
    if revoking:
        query = query.where(col(JourneyRecord.kind).in_(revoking))
    else:
        query = query.where(col(JourneyRecord.kind).in_(continuing), col(JourneyRecord.state).in_(OPEN_STATES))
    latest = (await session.exec(query.order_by(col(JourneyRecord.started_at).desc()))).first()
    if latest is None:
        return env.correlation_id  # kept; a journey that starts later with this id will count it
    session.add(JourneyAlias(correlation_id=env.correlation_id, journey_id=latest.id))
    return latest.id


async def _recompute(session: AsyncSession, record: JourneyRecord) -> None:
    definition = _definition(record.kind)
    aliases = (
        await session.exec(select(JourneyAlias.correlation_id).where(JourneyAlias.journey_id == record.id))
    ).all()
    rows = (
        await session.exec(
            select(JourneyEventRecord).where(col(JourneyEventRecord.correlation_id).in_([record.id, *aliases]))
        )
    ).all()
    progress = derive(definition, [_seen(r) for r in rows])
    record.state = progress.state
    record.steps = json.dumps({name: state.value for name, state in progress.steps.items()})
    record.reasons = json.dumps(progress.reasons, ensure_ascii=False)
    record.updated_at = datetime.now(UTC)
    session.add(record)


def _seen(row: JourneyEventRecord) -> Seen:
    time = row.time if row.time.tzinfo else row.time.replace(tzinfo=UTC)  # SQLite hands back naive datetimes
    return Seen(row.event_id, row.type, time, row.dead_letter_of, row.error)


def _definition(kind: str) -> Journey:
    return next(j for j in JOURNEYS if j.kind == kind)


def journey_handlers() -> Handlers:
    """Every event type any journey mentions, each to the one tracking handler."""
    types = set().union(*(j.event_types() for j in JOURNEYS))
    missing = sorted(t for t in types if t not in Event.registry)
    if missing:
        raise RuntimeError(f"journey definitions name events no contract declares: {', '.join(missing)}")
    handler: Sequence[Handler] = [track_journey_event]
    return {Event.registry[t]: handler for t in sorted(types)}
