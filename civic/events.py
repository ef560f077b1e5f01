"""Integration events: the base class for the published language and its CloudEvents 1.0 envelope.

An event is a past-tense fact with a versioned type name (``civic.funeral.death-registered.v1``). On Kafka it
travels in CloudEvents *binary* mode: attributes in ``ce_*`` headers, the event's data as the JSON value, plus the
W3C ``traceparent`` header so that one trace follows the fact from the HTTP request to every handler.
"""

from __future__ import annotations

import re
import uuid
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from civic.identity import ResidentId

TYPE_PATTERN = re.compile(r"^civic\.(?P<domain>[a-z]+)\.(?P<name>[a-z][a-z-]*[a-z])\.v(?P<version>[1-9][0-9]*)$")
SPECVERSION = "1.0"
JSON = "application/json"

# Set by the HTTP middleware (a new journey, or the caller's) and by the consumer runner (the incoming event's
# correlation id), so that every event written in that context carries the journey id without plumbing.
current_correlation_id: ContextVar[str | None] = ContextVar("civic_correlation_id", default=None)
current_causation_id: ContextVar[str | None] = ContextVar("civic_causation_id", default=None)
# Who asked: the pseudonym of the citizen (or the account id of the staff member or system) whose request
# started the chain. Set by the auth dependency; carried on from event to event like the correlation id.
current_initiator: ContextVar[str | None] = ContextVar("civic_initiator", default=None)


class Event(BaseModel):
    """Base of every integration event. Subclasses set ``type_name`` and describe the data as fields.

    Consumers ignore fields they do not know, so a producer may add optional fields without a new version.
    """

    model_config = ConfigDict(frozen=True, extra="ignore")

    type_name: ClassVar[str]
    # False for events that are not part of the published language (test and benchmark events).
    published: ClassVar[bool] = True
    registry: ClassVar[dict[str, type[Event]]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "type_name" not in cls.__dict__:
            return  # an abstract base such as PersonEvent
        if not TYPE_PATTERN.match(cls.type_name):
            raise ValueError(f"{cls.__name__}.type_name {cls.type_name!r} must look like civic.<domain>.<fact>.v<N>")
        if cls.type_name in Event.registry and Event.registry[cls.type_name].__qualname__ != cls.__qualname__:
            raise ValueError(f"event type {cls.type_name} is declared twice")
        Event.registry[cls.type_name] = cls

    @classmethod
    def domain(cls) -> str:
        match = TYPE_PATTERN.match(cls.type_name)
        assert match is not None
        return match["domain"]

    @classmethod
    def topic(cls) -> str:
        return topic_of(cls.domain())

    def subject(self) -> str:
        """What the event is about; used as the Kafka key so one subject's events stay in order."""
        raise NotImplementedError(f"{type(self).__name__} must say what it is about")


class PersonEvent(Event):
    """An event about one resident. The key and ``ce_subject`` are a keyed pseudonym, never the raw ID."""

    resident_id: ResidentId

    def subject(self) -> str:
        return self.resident_id

    def parties(self) -> tuple[str, ...]:
        """The residents whose own business this event is: each may follow the journey it starts."""
        return (self.resident_id,)


def topic_of(domain: str) -> str:
    return f"civic.{domain}"


E = TypeVar("E", bound=Event)


class UnparseableEvent(Exception):
    """The message is not a CloudEvent we can read, or its data does not match its declared type."""


@dataclass(frozen=True)
class Envelope:
    """The CloudEvents attributes of one event, as written to the outbox and read from Kafka."""

    id: str
    source: str
    type: str
    subject: str
    time: datetime
    correlation_id: str
    causation_id: str | None = None
    traceparent: str | None = None
    initiator: str | None = None

    @staticmethod
    def new(
        event_type: str,
        *,
        source: str,
        subject: str,
        correlation_id: str | None = None,
        causation_id: str | None = None,
        traceparent: str | None = None,
    ) -> Envelope:
        event_id = str(uuid.uuid4())
        return Envelope(
            id=event_id,
            source=source,
            type=event_type,
            subject=subject,
            time=datetime.now(UTC),
            correlation_id=correlation_id or current_correlation_id.get() or event_id,
            causation_id=causation_id if causation_id is not None else current_causation_id.get(),
            traceparent=traceparent,
            initiator=current_initiator.get(),
        )


def encode(envelope: Envelope) -> list[tuple[str, bytes]]:
    """Kafka headers for binary content mode (CloudEvents Kafka protocol binding, §3.2).

    Written by hand rather than through the SDK: the mapping is a handful of headers, and the SDK's per-event
    validation cost about a third of the relay's budget. ``tests/unit/test_envelope.py`` checks both ways
    against the official SDK.
    """
    headers = [
        ("ce_specversion", SPECVERSION.encode()),
        ("ce_id", envelope.id.encode()),
        ("ce_source", envelope.source.encode()),
        ("ce_type", envelope.type.encode()),
        ("ce_time", envelope.time.isoformat().replace("+00:00", "Z").encode()),
        ("ce_subject", envelope.subject.encode()),
        ("content-type", JSON.encode()),
        ("ce_correlationid", envelope.correlation_id.encode()),
    ]
    if envelope.causation_id:
        headers.append(("ce_causationid", envelope.causation_id.encode()))
    if envelope.initiator:
        headers.append(("ce_initiator", envelope.initiator.encode()))
    if envelope.traceparent:
        headers.append(("traceparent", envelope.traceparent.encode()))
    return headers


@dataclass(frozen=True)
class Received:
    """An event read from Kafka: its envelope and its raw JSON data, parsed on demand."""

    envelope: Envelope
    value: bytes
    headers: dict[str, bytes] = field(repr=False)

    def parse(self, cls: type[E]) -> E:
        try:
            return cls.model_validate_json(self.value)
        except ValidationError as exc:
            raise UnparseableEvent(f"data does not match {cls.type_name}: {_short_errors(exc)}") from exc


def decode(headers: list[tuple[str, bytes]] | tuple[tuple[str, bytes], ...], value: bytes | None) -> Received:
    hdrs = {name: val for name, val in headers}
    try:
        text = {k: v.decode() for k, v in hdrs.items() if k.startswith("ce_") or k == "traceparent"}
        missing = [a for a in ("ce_id", "ce_source", "ce_type", "ce_specversion") if not text.get(a)]
        if missing:
            raise ValueError(f"missing {', '.join(missing)}")
        if text["ce_specversion"] != SPECVERSION:
            raise ValueError(f"unsupported specversion {text['ce_specversion']}")
        time = datetime.fromisoformat(text["ce_time"]) if "ce_time" in text else datetime.now(UTC)
        envelope = Envelope(
            id=text["ce_id"],
            source=text["ce_source"],
            type=text["ce_type"],
            subject=text.get("ce_subject", ""),
            time=time,
            correlation_id=text.get("ce_correlationid") or text["ce_id"],
            causation_id=text.get("ce_causationid"),
            initiator=text.get("ce_initiator"),
            traceparent=text.get("traceparent"),
        )
    except (ValueError, UnicodeDecodeError) as exc:
        raise UnparseableEvent(f"not a CloudEvent in binary mode: {exc}") from exc
    if value is None:
        raise UnparseableEvent("message has no value")
    return Received(envelope=envelope, value=value, headers=hdrs)


def _short_errors(exc: ValidationError) -> str:
    return "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()[:5])
