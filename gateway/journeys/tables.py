"""The tracker's projection, in the gateway's own database. Rebuildable: drop it and replay the topics."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel


class GatewayTable(SQLModel, registry=registry()):
    pass


class JourneyRecord(GatewayTable, table=True):
    __tablename__ = "journey"

    id: str = Field(primary_key=True, max_length=64)  # the correlation id of the event that started it
    kind: str = Field(index=True, max_length=40)
    subject: str = Field(index=True, max_length=64)  # pseudonym of the person it is about
    initiator: str | None = Field(default=None, index=True, max_length=64)  # who asked
    state: str = Field(index=True, max_length=20)
    steps: str  # JSON {step: state}
    reasons: str  # JSON {step: why}
    started_at: datetime
    deadline_at: datetime
    updated_at: datetime
    trace_id: str | None = Field(default=None, max_length=32)


class JourneyEventRecord(GatewayTable, table=True):
    """Every event seen with a journey's correlation id, including those that arrive before the start."""

    __tablename__ = "journey_event"

    event_id: str = Field(primary_key=True, max_length=80)  # a dead letter is stored as "<id>@dlq.<group>"
    correlation_id: str = Field(index=True, max_length=64)
    type: str = Field(max_length=200)
    subject: str = Field(max_length=64)
    source: str = Field(max_length=200)
    time: datetime
    causation_id: str | None = Field(default=None, max_length=64)
    dead_letter_of: str | None = Field(default=None, max_length=100)
    error: str | None = None
    trace_id: str | None = Field(default=None, max_length=32)


class JourneyAlias(GatewayTable, table=True):
    """A correlation id that belongs to another journey: a revocation is a new request, with its own id."""

    __tablename__ = "journey_alias"

    correlation_id: str = Field(primary_key=True, max_length=64)
    journey_id: str = Field(index=True, max_length=64)


class JourneyParty(GatewayTable, table=True):
    """A further person a journey is about, besides its subject: the spouse in a marriage or a divorce."""

    __tablename__ = "journey_party"

    journey_id: str = Field(primary_key=True, max_length=64)
    subject: str = Field(primary_key=True, index=True, max_length=64)  # the person's pseudonym


TABLES = [JourneyRecord.__table__, JourneyEventRecord.__table__, JourneyAlias.__table__, JourneyParty.__table__]  # type: ignore[attr-defined]
