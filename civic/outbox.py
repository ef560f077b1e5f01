"""Transactional outbox and its relay.

``Outbox.add`` writes an event into the same database transaction as the state change it describes, so both
commit or neither does. The ``Relay`` publishes committed rows to Kafka in batches (acks=all), in the order they
were written, and deletes them only after the broker acknowledged them. If the process dies after publishing
but before deleting, the rows are published again on restart: a duplicate, which consumers' inboxes absorb.
While the broker is unreachable the relay keeps retrying with backoff; rows simply wait in the table.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from opentelemetry import propagate
from sqlalchemy import delete, event, insert, select, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlmodel import Field, SQLModel
from sqlmodel.ext.asyncio.session import AsyncSession

from civic.bulk import insert_rows, uuid4_texts
from civic.config import Settings
from civic.db import table_of
from civic.events import (
    Envelope,
    Event,
    PersonEvent,
    current_causation_id,
    current_correlation_id,
    current_initiator,
    encode,
)
from civic.identity import pseudonym

log = logging.getLogger("civic.outbox")
# The advisory-lock key of "the relay of this database" (each service has a database of its own).
RELAY_LOCK_KEY = 0x63697669632D7265  # "civic-re"
OUTBOX_COLUMNS = ("event_id", "event_type", "topic", "key", "headers", "value", "created_at")
# Stand-ins for the envelope attributes that differ between the events of a batch (JSON keeps them as they are);
# neither a uuid nor a pseudonym (hex) needs escaping in JSON, so the real values replace them as plain text.
_ID, _SUBJECT = "{{civic-event-id}}", "{{civic-subject}}"
# An event already serialised, for ``Outbox.add_serialized``: its type, its Kafka key (``Outbox.key_of``), its JSON.
Serialized = tuple[type[Event], str, bytes]


class OutboxRecord(SQLModel, table=True):
    """An event waiting to be published: envelope headers and data, encoded once at write time."""

    __tablename__ = "outbox"

    seq: int | None = Field(default=None, primary_key=True)
    event_id: str = Field(max_length=64)  # not indexed: see civic.migrations.steps.drop_unique_outbox_event_id
    event_type: str = Field(max_length=200)
    topic: str = Field(max_length=200)
    key: str = Field(max_length=200)
    headers: str  # JSON list of [name, value]; CloudEvents attribute values are text
    value: bytes
    created_at: datetime = Field(default_factory=lambda: datetime.now(UTC))


def current_traceparent() -> str | None:
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier.get("traceparent")


class Outbox:
    """Writes events into a session's transaction and wakes the relay when that transaction commits."""

    def __init__(self, settings: Settings) -> None:
        self.source = f"/civic/{settings.service_name}"
        self._key = settings.pseudonym_key.get_secret_value().encode()
        self.committed = asyncio.Event()

    def pseudonym_of(self, resident_id: str) -> str:
        """The keyed pseudonym events carry for a resident (their Kafka key and ``ce_subject``)."""
        return pseudonym(resident_id, self._key)

    def key_for(self, event: Event) -> str:
        return self.key_of(type(event), event.subject())

    def key_of(self, kind: type[Event], subject: str) -> str:
        """The Kafka key of an event of ``kind`` about ``subject``: a person's is their pseudonym."""
        return pseudonym(subject, self._key) if issubclass(kind, PersonEvent) else subject

    def record(self, event: Event) -> dict[str, Any]:
        """The outbox row for ``event``, with the envelope taken from the current journey and trace."""
        key = self.key_for(event)
        envelope = Envelope.new(event.type_name, source=self.source, subject=key, traceparent=current_traceparent())
        value = event.model_dump_json().encode()
        headers = encode(envelope)
        return {
            "event_id": envelope.id,
            "event_type": event.type_name,
            "topic": event.topic(),
            "key": key,
            "headers": json.dumps([(name, val.decode()) for name, val in headers]),
            "value": value,
            "created_at": envelope.time,
        }

    async def add(self, session: AsyncSession, *events: Event) -> list[str]:
        """Write ``events`` in ``session``'s transaction; they are published only if it commits.

        A Core insert, not ORM objects: on the hot path, building ORM instances cost more than the write.
        """
        rows = [self.record(e) for e in events]
        if rows:
            await (await session.connection()).execute(insert(table_of(OutboxRecord)), rows)
            self._wake_relay_after_commit(session)
        return [row["event_id"] for row in rows]

    async def add_serialized(self, session: AsyncSession, events: Sequence[Serialized]) -> None:
        """``add`` for many events already serialised (a batch job's, from ``bulk.EventTemplate``), in one
        statement: COPY on PostgreSQL. ``Outbox.add`` builds each row on its own (the trace context, the envelope
        and its JSON headers: ~35 µs an event); here the envelope's JSON is built once per event type and the
        events of one call share its time and trace context, the same to the microsecond anyway.
        ``tests/unit/test_assistance_bulk.py`` checks the rows against ``record``'s."""
        if events:
            await insert_rows(await session.connection(), table_of(OutboxRecord), OUTBOX_COLUMNS,
                              self.serialized_records(events))  # fmt: skip
            self._wake_relay_after_commit(session)

    def serialized_records(self, events: Sequence[Serialized]) -> list[tuple[Any, ...]]:
        """The outbox rows (``OUTBOX_COLUMNS`` in order) of events already serialised."""
        now = datetime.now(UTC)
        traceparent = current_traceparent()
        headers_of: dict[type[Event], tuple[str, str]] = {}
        rows = []
        for (kind, key, value), event_id in zip(events, uuid4_texts(len(events)), strict=True):
            found = headers_of.get(kind)
            if found is None:
                found = headers_of[kind] = (self._headers_template(kind.type_name, now, traceparent), kind.topic())
            template, topic = found
            rows.append((event_id, kind.type_name, topic, key,
                         template.replace(_ID, event_id).replace(_SUBJECT, key), value, now))  # fmt: skip
        return rows

    def _headers_template(self, event_type: str, now: datetime, traceparent: str | None) -> str:
        """The JSON headers ``record`` writes, with stand-ins for the event's id and subject (and for the
        correlation id when the journey starts here, where it is the event's own id)."""
        envelope = Envelope(
            id=_ID,
            source=self.source,
            type=event_type,
            subject=_SUBJECT,
            time=now,
            correlation_id=current_correlation_id.get() or _ID,
            causation_id=current_causation_id.get(),
            traceparent=traceparent,
            initiator=current_initiator.get(),
        )
        return json.dumps([(name, value.decode()) for name, value in encode(envelope)])

    def _wake_relay_after_commit(self, session: AsyncSession) -> None:
        sync_session = session.sync_session
        if sync_session.info.get("civic_outbox_listener"):
            return
        sync_session.info["civic_outbox_listener"] = True
        event.listen(sync_session, "after_commit", lambda _s: self.committed.set())


class Relay:
    """Publishes outbox rows to Kafka, oldest first, and deletes them once acknowledged."""

    def __init__(self, settings: Settings, engine: AsyncEngine, outbox: Outbox) -> None:
        self.settings = settings
        self.engine = engine
        self.outbox = outbox
        self.producer: AIOKafkaProducer | None = None
        self.published = 0
        self.healthy = False
        self.connected_once = asyncio.Event()
        self.leading = False
        self._lease: AsyncConnection | None = None
        self._stopping = asyncio.Event()

    async def run(self) -> None:
        backoff = 0.1
        while not self._stopping.is_set():
            try:
                if self.producer is None:  # connected even on standby, so readiness reflects the broker
                    self.producer = await self._start_producer()
                    self.connected_once.set()
                if not await self._lead():
                    await self._sleep(self.settings.relay_standby_poll_s)
                    continue
                # Cleared before reading, so a commit that lands while we publish is not slept through.
                self.outbox.committed.clear()
                sent = await self.publish_batch(self.producer)
                self.healthy = True
                backoff = 0.1
                if sent < self.settings.relay_batch_size:
                    # The batch held all there was when it was read; a commit since then has set the event and
                    # ends the wait at once. Reading again regardless cost an empty SELECT per batch sent.
                    await self._wait_for_work()
            except (KafkaError, OSError, SQLAlchemyError) as exc:
                self.healthy = False
                if isinstance(exc, SQLAlchemyError):
                    await self._release()  # the lease's connection may be the one that broke
                log.warning("relay cannot publish yet; retrying in %.1fs", backoff, extra={"error": repr(exc)})
                await self._sleep(backoff)
                backoff = min(backoff * 2, self.settings.relay_retry_max_s)
        await self._release()

    async def _lead(self) -> bool:
        """Only one relay per database publishes, or replicas would send every event several times and could
        interleave one key's events. On PostgreSQL the leader holds a session advisory lock on a connection of
        its own (released if that connection dies); SQLite is one process's file, so its relay always leads."""
        if self.engine.dialect.name != "postgresql":
            self.leading = True
            return True
        if self._lease is None:
            conn = await self.engine.connect()
            got = (await conn.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": RELAY_LOCK_KEY})).scalar()
            if not got:
                await conn.close()
                self.leading = False
                return False
            await conn.commit()  # end the implicit transaction; the session-level lock stays with the connection
            self._lease = conn
            log.info("this relay leads: it publishes the outbox")
        self.leading = True
        return True

    async def _release(self) -> None:
        lease, self._lease, self.leading = self._lease, None, False
        if lease is not None:
            with contextlib.suppress(SQLAlchemyError):
                await lease.close()  # closing the session releases the advisory lock

    async def _start_producer(self) -> AIOKafkaProducer:
        producer = AIOKafkaProducer(
            **self.settings.kafka_options(),
            acks="all",
            linger_ms=2,
            request_timeout_ms=self.settings.kafka_request_timeout_ms,
            max_batch_size=256 * 1024,
        )
        try:
            await producer.start()
        except BaseException:
            await producer.stop()
            raise
        return producer

    async def publish_batch(self, producer: AIOKafkaProducer) -> int:
        table = table_of(OutboxRecord)  # Core on the hot path: no ORM objects for rows we only forward
        async with self.engine.connect() as conn:
            rows = (
                await conn.execute(
                    select(table.c.seq, table.c.topic, table.c.key, table.c.headers, table.c.value)
                    .order_by(table.c.seq)
                    .limit(self.settings.relay_batch_size)
                )
            ).all()
        if not rows:
            return 0
        # Sends are queued in order; aiokafka keeps at most one request in flight per broker connection,
        # so events with the same key (same partition) reach the log in the order they were written.
        futures = []
        for _seq, topic, key, headers, value in rows:
            hdrs = [(name, val.encode()) for name, val in json.loads(headers)]
            futures.append(await producer.send(topic, value, key=key.encode(), headers=hdrs))
        await asyncio.gather(*futures)
        async with self.engine.begin() as conn:
            await conn.execute(delete(table).where(table.c.seq.in_([row[0] for row in rows])))
        self.published += len(rows)
        return len(rows)

    async def _wait_for_work(self) -> None:
        try:
            await asyncio.wait_for(self.outbox.committed.wait(), timeout=self.settings.relay_idle_poll_s)
        except TimeoutError:
            pass

    async def _sleep(self, seconds: float) -> None:
        try:
            await asyncio.wait_for(self._stopping.wait(), timeout=seconds)
        except TimeoutError:
            pass

    def request_stop(self) -> None:
        self._stopping.set()
        self.outbox.committed.set()

    async def stop(self) -> None:
        self.request_stop()
        # Release the lease here too: the run task may have been cancelled before reaching its own release, and
        # a checked-out connection outlives engine.dispose(), which would keep the standbys waiting.
        await self._release()
        if self.producer is not None:
            await self.producer.stop()
            self.producer = None
