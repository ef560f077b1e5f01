"""Synchronous steps: a service applies an event when an orchestrator calls it over HTTP, exactly as its consumers
would apply it from the broker (the inbox, the same handlers, their events written to the outbox in the same
transaction), and answers with the events its handlers published.

This exists for one purpose: the synchronous baseline that ``bench.journeys`` compares choreography with — the
gateway (here, a client through it) calling each service in turn and passing each answer on, instead of the
services reacting to each other's events. It is off unless ``CIVIC_SYNCHRONOUS_STEPS=true`` (then normally with
``CIVIC_CONSUMERS_ENABLED=false``, so that each event is applied once, by the orchestrator's call); production
refuses it, since a caller could make a service apply any event. Only a caseworker of the service's own domain
may call it.

Messages travel as the outbox stores them and Kafka carries them: topic, key, the CloudEvents headers, the JSON
value — so an orchestrator passes one service's answer to the next without decoding it.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from aiokafka import ConsumerRecord
from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlmodel.ext.asyncio.session import AsyncSession

from civic.auth import caseworker_of
from civic.events import Event, UnparseableEvent
from civic.outbox import Outbox
from civic.problems import Problem


class Message(BaseModel):
    model_config = ConfigDict(extra="forbid")

    topic: str = Field(max_length=200)
    key: str = Field(max_length=200)
    headers: list[tuple[str, str]] = Field(max_length=50, description="CloudEvents binary-mode headers (ce_*)")
    value: str = Field(max_length=60_000, description="the event's JSON")


class StepOutcome(BaseModel):
    handled_by: list[str] = Field(description="the consumer groups that applied the event now (not before)")
    published: list[Message] = Field(description="the events their handlers published, in order")


class _Capturing(Outbox):
    """The service's outbox, noting the rows a step's handlers write so that the step can answer with them."""

    def __init__(self, outbox: Outbox) -> None:
        self.__dict__.update(copy.copy(outbox.__dict__))
        self.rows: list[dict[str, Any]] = []

    def record(self, event: Event) -> dict[str, Any]:
        row = super().record(event)
        self.rows.append(row)
        return row


def _record(message: Message) -> ConsumerRecord[bytes, bytes]:
    key, value = message.key.encode(), message.value.encode()
    return ConsumerRecord(topic=message.topic, partition=0, offset=-1, timestamp=0, timestamp_type=0, key=key,
                          value=value, checksum=None, serialized_key_size=len(key),
                          serialized_value_size=len(value),
                          headers=tuple((name, v.encode()) for name, v in message.headers))  # fmt: skip


def steps_router(domain: str) -> APIRouter:
    router = APIRouter(prefix="/steps", tags=["synchronous steps (bench only)"],
                       dependencies=[Depends(caseworker_of(domain))])  # fmt: skip

    @router.get("")
    async def event_types_applied(request: Request) -> list[str]:
        """The event types this service reacts to."""
        return sorted({t for runner in request.app.state.service.runners for t in runner.handlers})

    @router.post("")
    async def apply_event(message: Message, request: Request) -> StepOutcome:
        """Apply one event now; answer with the events the handlers published."""
        service = request.app.state.service
        outbox = _Capturing(service.outbox)
        handled_by: list[str] = []
        for runner in service.runners:
            async with AsyncSession(service.engine, expire_on_commit=False) as session, session.begin():
                try:
                    if await runner.handle_directly(session, _record(message), outbox):
                        handled_by.append(runner.group)
                except UnparseableEvent as exc:
                    raise Problem(422, "unparseable-event", "Not an event this service can read", str(exc),
                                  field="value") from exc  # fmt: skip
        return StepOutcome(handled_by=handled_by, published=[message_of_row(row) for row in outbox.rows])

    return router


def _headers(stored: str) -> list[tuple[str, str]]:
    return [(str(name), str(value)) for name, value in json.loads(stored)]


def message_of_row(row: dict[str, Any]) -> Message:
    """An outbox row (``Outbox.record``) as a step message: how an orchestrator builds the first one."""
    return Message(topic=row["topic"], key=row["key"], headers=_headers(row["headers"]), value=row["value"].decode())
