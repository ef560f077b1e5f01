"""Journeys for citizens (their own, in plain words) and operators (all, the stuck ones, their history).

Routes (all behind the gateway's bearer token):
- ``GET /journeys``: a citizen's own journeys (about them or started by them); operators and auditors see all,
  by ``kind``, ``state`` and ``stuck``.
- ``GET /journeys/notifications``: citizens only. What they are told: one notification per journey about them
  that is over (completed, ended early, undone), newest first, with the journey's own plain-words notice
  (``notice_zh``/``notice_en`` in its definition) or "<journey>: <state>". Derived from the journeys, so there
  is no separate store to keep in step, and no read/unread state (yet).
- ``GET /journeys/{id}``: one journey; staff also get its event history and trace id.
- ``POST /journeys/{id}/replay``: operators send the journey's dead letters back to the services that failed.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel
from sqlalchemy import ColumnElement
from sqlmodel import col, or_, select

from civic import dlq
from civic.app import ServiceDep, SessionDep
from civic.auth import Principal, Role
from civic.config import DOMAINS
from civic.problems import NotFound, Problem
from gateway.callers import pseudonym_of
from gateway.journeys.definitions import JOURNEYS
from gateway.journeys.model import LABELS, JourneyState
from gateway.journeys.tables import JourneyAlias, JourneyEventRecord, JourneyParty, JourneyRecord
from gateway.proxy import authenticate

router = APIRouter(prefix="/journeys", tags=["journeys"])
Caller = Annotated[Principal, Depends(authenticate)]
OPEN = (JourneyState.IN_PROGRESS, JourneyState.COMPENSATING)


class StepView(BaseModel):
    name: str
    label_zh: str
    label_en: str
    state: str
    state_zh: str
    state_en: str
    reason: str | None = None


class EventView(BaseModel):
    type: str
    time: datetime
    source: str
    dead_letter_of: str | None
    error: str | None
    trace_id: str | None


class JourneyView(BaseModel):
    id: str
    kind: str
    label_zh: str
    label_en: str
    state: str
    state_zh: str
    state_en: str
    stuck: bool
    started_at: datetime
    deadline_at: datetime
    steps: list[StepView]
    trace_id: str | None = None
    history: list[EventView] | None = None  # staff only


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _is_stuck(record: JourneyRecord, now: datetime) -> bool:
    return record.state == JourneyState.FAILED or (record.state in OPEN and _aware(record.deadline_at) < now)


def _view(record: JourneyRecord, history: list[JourneyEventRecord] | None = None) -> JourneyView:
    definition = next(j for j in JOURNEYS if j.kind == record.kind)
    states: dict[str, str] = json.loads(record.steps)
    reasons: dict[str, str] = json.loads(record.reasons)
    steps = [
        StepView(name=s.name, label_zh=s.label_zh, label_en=s.label_en, state=states.get(s.name, "pending"),
                 state_zh=LABELS[states.get(s.name, "pending")][0], state_en=LABELS[states.get(s.name, "pending")][1],
                 reason=reasons.get(s.name))
        for s in definition.steps
    ]  # fmt: skip
    return JourneyView(
        id=record.id, kind=record.kind, label_zh=definition.label_zh, label_en=definition.label_en,
        state=record.state, state_zh=LABELS[record.state][0], state_en=LABELS[record.state][1],
        stuck=_is_stuck(record, datetime.now(UTC)), started_at=_aware(record.started_at),
        deadline_at=_aware(record.deadline_at), steps=steps,
        trace_id=record.trace_id if history is not None else None,
        history=[EventView(type=e.type, time=_aware(e.time), source=e.source, dead_letter_of=e.dead_letter_of,
                           error=e.error, trace_id=e.trace_id) for e in history] if history is not None else None,
    )  # fmt: skip


def _staff(caller: Principal) -> bool:
    return caller.role in (Role.OPERATOR, Role.AUDITOR)


def _a_party(me: str) -> ColumnElement[bool]:
    """Journeys that name ``me`` as a further party (a spouse)."""
    return col(JourneyRecord.id).in_(select(JourneyParty.journey_id).where(JourneyParty.subject == me))


@router.get("")
async def list_journeys(
    caller: Caller,
    session: SessionDep,
    request: Request,
    kind: str | None = None,
    state: JourneyState | None = None,
    stuck: bool = False,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[JourneyView]:
    """A citizen's own journeys (about them, or started by them); for operators and auditors, all of them."""
    query = select(JourneyRecord).order_by(col(JourneyRecord.started_at).desc())
    if caller.role is Role.CITIZEN:
        me = pseudonym_of(caller, request)
        query = query.where(or_(JourneyRecord.subject == me, JourneyRecord.initiator == me, _a_party(me)))
    elif not _staff(caller):
        raise Problem(403, "forbidden", "Not allowed", "Journeys are for citizens (their own) and operators.")
    if kind:
        query = query.where(JourneyRecord.kind == kind)
    if state:
        query = query.where(JourneyRecord.state == state)
    records = list((await session.exec(query.limit(limit if not stuck else 10_000))).all())
    if stuck:
        now = datetime.now(UTC)
        records = [r for r in records if _is_stuck(r, now)][:limit]
    return [_view(r) for r in records]


class NotificationView(BaseModel):
    """News for a citizen: a journey about them is over (done, ended early, or undone)."""

    journey_id: str
    kind: str
    label_zh: str
    label_en: str
    state: str
    text_zh: str
    text_en: str
    at: datetime


OVER = (JourneyState.COMPLETED, JourneyState.ENDED, JourneyState.COMPENSATED)


def _notification(record: JourneyRecord) -> NotificationView:
    definition = next(j for j in JOURNEYS if j.kind == record.kind)
    state_zh, state_en = LABELS[record.state]
    text_zh, text_en = f"{definition.label_zh}：{state_zh}。", f"{definition.label_en}: {state_en}."
    if record.state == JourneyState.COMPLETED and definition.notice_zh:
        text_zh, text_en = definition.notice_zh, definition.notice_en
    return NotificationView(
        journey_id=record.id, kind=record.kind, label_zh=definition.label_zh, label_en=definition.label_en,
        state=record.state, text_zh=text_zh, text_en=text_en, at=_aware(record.updated_at),
    )  # fmt: skip


@router.get("/notifications")
async def my_notifications(
    caller: Caller, session: SessionDep, request: Request, limit: Annotated[int, Query(ge=1, le=500)] = 50
) -> list[NotificationView]:
    """A citizen's notifications, newest first: every journey about them that is over, in plain words. Derived
    from the journeys themselves, so there is nothing more to keep and a rebuilt tracker gives the same list."""
    if caller.role is not Role.CITIZEN:
        raise Problem(403, "forbidden", "Not allowed", "Notifications are for citizens, about their own journeys.")
    me = pseudonym_of(caller, request)
    query = (
        select(JourneyRecord)
        .where(or_(JourneyRecord.subject == me, _a_party(me)), col(JourneyRecord.state).in_(OVER))
        .order_by(col(JourneyRecord.updated_at).desc())
        .limit(limit)
    )
    return [_notification(r) for r in (await session.exec(query)).all()]


@router.get("/{journey_id}")
async def read_journey(journey_id: str, caller: Caller, session: SessionDep, request: Request) -> JourneyView:
    record = await session.get(JourneyRecord, journey_id)
    if record is None:
        raise NotFound("journey")
    if caller.role is Role.CITIZEN:
        me = pseudonym_of(caller, request)
        if me not in (record.subject, record.initiator) and await session.get(JourneyParty, (record.id, me)) is None:
            raise NotFound("journey")  # someone else's journey does not exist, as far as this caller knows
        return _view(record)
    if not _staff(caller):
        raise NotFound("journey")
    ids = [record.id, *(await session.exec(select(JourneyAlias.correlation_id).where(
        JourneyAlias.journey_id == record.id))).all()]  # fmt: skip
    history = (
        await session.exec(
            select(JourneyEventRecord)
            .where(col(JourneyEventRecord.correlation_id).in_(ids))
            .order_by(col(JourneyEventRecord.time))
        )
    ).all()
    return _view(record, list(history))


class Replayed(BaseModel):
    replayed: list[dict[str, Any]]


@router.post("/{journey_id}/replay")
async def replay_journey(journey_id: str, caller: Caller, session: SessionDep, service: ServiceDep) -> Replayed:
    """Operators: after the cause is fixed, send this journey's dead letters back to the services that failed."""
    if caller.role is not Role.OPERATOR:
        raise Problem(403, "forbidden", "Not allowed", "Replaying dead letters is for operators.")
    record = await session.get(JourneyRecord, journey_id)
    if record is None:
        raise NotFound("journey")
    ids = {record.id, *(await session.exec(select(JourneyAlias.correlation_id).where(
        JourneyAlias.journey_id == record.id))).all()}  # fmt: skip
    letters = await dlq.replay_journey(service.settings.kafka_options(), DOMAINS, ids)
    return Replayed(replayed=[{"event_id": x.event_id, "type": x.event_type, "group": x.group} for x in letters])
