"""Feeding the projection: one handler for every event a journey definition mentions, and one for the
dead-letter topics, so that a step held up by a poison event shows as such."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy import insert, literal, select, union_all, update
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel.ext.asyncio.session import AsyncSession

import contracts  # noqa: F401 - fills the event registry the definitions refer to
from civic import dlq
from civic.bus import Handler, HandlerContext, Handlers
from civic.config import DOMAINS
from civic.db import table_of
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
    # Only the others are named by pseudonym (one HMAC each): most events name just their subject.
    others = {p for p in event.parties() if p != event.subject()} if isinstance(event, PersonEvent) else set()
    await record_event(ctx.session, env, dead_letter_of, error, event, {ctx.outbox.pseudonym_of(p) for p in others})


async def note_parties(conn: AsyncConnection, journey_id: str, subjects: set[str]) -> None:
    """Everyone else the starting event names may follow the journey too (added once: a replayed event returns
    before this)."""
    for subject in sorted(subjects):
        known = select(_parties.c.subject).where(_parties.c.journey_id == journey_id, _parties.c.subject == subject)
        if (await conn.execute(known)).first() is None:
            await conn.execute(insert(_parties).values(journey_id=journey_id, subject=subject))


def starting(env: Envelope, data: Event | None) -> Journey | None:
    """The journey this event starts, if any (a dead letter starts nothing)."""
    return next((j for j in JOURNEYS if j.starts(env.type, data)), None)


# Core statements on the consumer's connection rather than ORM objects: the tracker handles every event of every
# journey, and loading and flushing ORM instances was most of its cost (about six of the gateway's 17 ms of CPU
# per 身后一件事). Nothing else writes these tables in the consumer's transaction, so no identity map goes stale.
_journeys, _events, _aliases, _parties = (table_of(m) for m in (JourneyRecord, JourneyEventRecord, JourneyAlias,
                                                                 JourneyParty))  # fmt: skip


async def record_event(
    session: AsyncSession, env: Envelope, dead_letter_of: str | None, error: str | None, data: Event | None = None,
    parties: set[str] | frozenset[str] = frozenset(),
) -> None:  # fmt: skip
    """``parties``: the pseudonyms of everyone else the event names (a spouse), who may follow the journey it
    starts."""
    conn = await session.connection()
    event_id = env.id if dead_letter_of is None else f"{env.id}@dlq.{dead_letter_of}"
    if (await conn.execute(select(_events.c.event_id).where(_events.c.event_id == event_id))).first() is not None:
        return  # seen already (a replayed dead letter arrives again under the same id)
    definition = starting(env, data) if dead_letter_of is None else None
    journey_id, kind = await _journey_of(conn, env, definition)
    await conn.execute(insert(_events).values(
        event_id=event_id, correlation_id=journey_id, type=env.type, subject=env.subject, source=env.source,
        time=env.time, causation_id=env.causation_id, dead_letter_of=dead_letter_of, error=error,
        trace_id=_trace_id(env.traceparent),
    ))  # fmt: skip
    if kind is None and definition is not None and dead_letter_of is None:
        kind = definition.kind
        await conn.execute(insert(_journeys).values(
            id=journey_id, kind=kind, subject=env.subject, initiator=env.initiator, state="", steps="{}",
            reasons="{}", started_at=env.time, deadline_at=env.time + definition.deadline, updated_at=env.time,
            trace_id=_trace_id(env.traceparent),
        ))  # fmt: skip
    if kind is not None:
        await _recompute(conn, journey_id, kind)
    if definition is not None:
        await note_parties(conn, journey_id, set(parties))


async def _journey_of(conn: AsyncConnection, env: Envelope, starts: Journey | None) -> tuple[str, str | None]:
    """The journey an event belongs to, and its kind if the journey is known yet: by its correlation id, or else —
    for an event that continues a journey from a request of its own (a caseworker's approval, a revocation) — the
    person's latest such journey."""
    if starts is not None and starts.one_per_start_event:
        kind = (await conn.execute(select(_journeys.c.kind).where(_journeys.c.id == env.id))).scalar()
        return env.id, kind
    # An alias first, then a journey of that id: one round trip.
    by_alias = (
        select(literal(0).label("rank"), _aliases.c.journey_id.label("id"), _journeys.c.kind)
        .select_from(_aliases.outerjoin(_journeys, _journeys.c.id == _aliases.c.journey_id))
        .where(_aliases.c.correlation_id == env.correlation_id)
    )
    by_id = select(literal(1).label("rank"), _journeys.c.id, _journeys.c.kind).where(
        _journeys.c.id == env.correlation_id
    )
    both = union_all(by_alias, by_id).subquery()
    found = (await conn.execute(select(both.c.id, both.c.kind).order_by(both.c.rank).limit(1))).first()
    if found is not None:
        return str(found.id), found.kind
    if starts is not None:
        return env.correlation_id, None
    revoking = [j.kind for j in JOURNEYS if j.compensation_starts_with == env.type]
    continuing = [j.kind for j in JOURNEYS if env.type in j.event_types()]
    query = select(_journeys.c.id, _journeys.c.kind).where(_journeys.c.subject == env.subject)
    if revoking:
        query = query.where(_journeys.c.kind.in_(revoking))
    else:
        query = query.where(_journeys.c.kind.in_(continuing), _journeys.c.state.in_(OPEN_STATES))
    latest = (await conn.execute(query.order_by(_journeys.c.started_at.desc()).limit(1))).first()
    if latest is None:
        return env.correlation_id, None  # kept; a journey that starts later with this id will count it
    await conn.execute(insert(_aliases).values(correlation_id=env.correlation_id, journey_id=latest.id))
    return str(latest.id), latest.kind


async def _recompute(conn: AsyncConnection, journey_id: str, kind: str) -> None:
    ids = union_all(
        select(literal(journey_id)), select(_aliases.c.correlation_id).where(_aliases.c.journey_id == journey_id)
    )
    rows = await conn.execute(
        select(_events.c.event_id, _events.c.type, _events.c.time, _events.c.dead_letter_of, _events.c.error)
        .where(_events.c.correlation_id.in_(ids))
    )  # fmt: skip
    progress = derive(_definition(kind), [_seen(*row) for row in rows.all()])
    await conn.execute(
        update(_journeys).where(_journeys.c.id == journey_id).values(
            state=progress.state,
            steps=json.dumps({name: state.value for name, state in progress.steps.items()}),
            reasons=json.dumps(progress.reasons, ensure_ascii=False),
            updated_at=datetime.now(UTC),
        )
    )  # fmt: skip


def _seen(event_id: str, type_: str, time: datetime, dead_letter_of: str | None, error: str | None) -> Seen:
    time = time if time.tzinfo else time.replace(tzinfo=UTC)  # SQLite hands back naive datetimes
    return Seen(event_id, type_, time, dead_letter_of, error)


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
