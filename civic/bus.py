"""The consumer runner: handlers, inbox and outbox in one transaction; the offset committed after it.

For each batch polled from Kafka the runner opens one database transaction, skips events the inbox has seen,
runs the handlers (which change state and write follow-up events to the outbox), records the event ids in the
inbox, commits, and only then commits the Kafka offsets. A crash anywhere before the offset commit means the
batch is delivered again, and the inbox makes the second delivery a no-op.

If the batch transaction fails, the batch is retried one event at a time, each with backoff; an event that
still fails, or that cannot be parsed at all, goes to ``civic.dlq.<group>`` and the partition moves on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.errors import CommitFailedError, IllegalStateError, KafkaError
from opentelemetry import propagate, trace
from opentelemetry.trace import SpanKind
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel.ext.asyncio.session import AsyncSession
from tenacity import AsyncRetrying, stop_after_attempt, wait_exponential

from civic import dlq
from civic.config import Settings
from civic.events import (
    Envelope,
    Event,
    Received,
    UnparseableEvent,
    current_causation_id,
    current_correlation_id,
    current_initiator,
    decode,
)
from civic.inbox import claim
from civic.outbox import Outbox

log = logging.getLogger("civic.bus")
# Failures of our own infrastructure are waited out (rewind, back off, try again), never dead-lettered:
# a database outage must not send every event of the outage to the DLQ.
INFRASTRUCTURE_ERRORS = (OperationalError, InterfaceError)
tracer = trace.get_tracer("civic.bus")


@dataclass
class HandlerContext:
    """What a handler may touch: its service's session (one transaction) and the outbox."""

    session: AsyncSession
    outbox: Outbox
    envelope: Envelope
    topic: str = ""  # where it was read from (a dead-letter topic, for a consumer watching those)
    headers: Mapping[str, bytes] = field(default_factory=dict)

    async def publish(self, *events: Event) -> list[str]:
        """Write follow-up events; they carry this event's journey id and name it as their cause."""
        return await self.outbox.add(self.session, *events)


Handler = Callable[[Any, HandlerContext], Awaitable[None]]
Handlers = Mapping[type[Event], Sequence[Handler]]
Observer = Callable[[Sequence[Received]], Awaitable[None]]


@dataclass
class _Item:
    record: ConsumerRecord[bytes, bytes]
    received: Received
    event: Event


@dataclass
class RunnerStats:
    handled: int = 0
    duplicates: int = 0
    dead_lettered: int = 0
    ignored: int = 0
    polled: int = 0


class ConsumerRunner:
    def __init__(
        self,
        settings: Settings,
        engine: AsyncEngine,
        outbox: Outbox,
        group: str,
        handlers: Handlers,
        topics: Sequence[str] | None = None,
    ) -> None:
        """``topics`` defaults to the topics of the handled event types (give it to watch dead-letter topics)."""
        self.settings = settings
        self.engine = engine
        self.outbox = outbox
        self.group = group
        self.handlers: dict[str, tuple[type[Event], Sequence[Handler]]] = {
            cls.type_name: (cls, hs) for cls, hs in handlers.items()
        }
        self.topics = list(topics) if topics is not None else sorted({cls.topic() for cls in handlers})
        self.stats = RunnerStats()
        # Called after the database commit and before the offset commit: metrics, and fault injection in tests.
        self.after_commit: list[Observer] = []
        self.consumer: AIOKafkaConsumer | None = None
        self.producer: AIOKafkaProducer | None = None
        self._stopping = asyncio.Event()
        self._handled_up_to: dict[TopicPartition, int] = {}  # next offset per partition, handled but not committed
        self._committed_at = time.monotonic()

    # -- lifecycle ------------------------------------------------------------------------------------
    async def run(self) -> None:
        backoff = 0.1
        while not self._stopping.is_set():
            batch: dict[TopicPartition, list[ConsumerRecord[bytes, bytes]]] = {}
            try:
                consumer, producer = await self._connect()
                batch = await consumer.getmany(timeout_ms=500, max_records=self.settings.consumer_batch_size)
                if batch:
                    self.stats.polled += sum(len(m) for m in batch.values())
                    await self._process(batch, producer)
                    self._handled_up_to.update({tp: records[-1].offset + 1 for tp, records in batch.items() if records})
                if self._handled_up_to and (
                    not batch or time.monotonic() - self._committed_at >= self.settings.consumer_commit_interval_s
                ):
                    await self._commit_offsets(consumer)
                backoff = 0.1
            except CommitFailedError as exc:
                # The group rebalanced; the new owner gets the batch again and its inbox absorbs it.
                log.warning(
                    "offset commit failed after handling; events will be redelivered", extra={"error": str(exc)}
                )
            except (KafkaError, OSError, *INFRASTRUCTURE_ERRORS) as exc:
                log.warning(
                    "consumer %s cannot proceed; retrying in %.1fs", self.group, backoff, extra={"error": repr(exc)}
                )
                self._rewind(batch)
                await self._sleep(backoff)
                backoff = min(backoff * 2, self.settings.relay_retry_max_s)

    async def _connect(self) -> tuple[AIOKafkaConsumer, AIOKafkaProducer]:
        if self.producer is None:
            producer = AIOKafkaProducer(
                **self.settings.kafka_options(),
                acks="all",
                request_timeout_ms=self.settings.kafka_request_timeout_ms,
            )
            try:
                await producer.start()
            except BaseException:
                await producer.stop()
                raise
            self.producer = producer
        if self.consumer is None:
            consumer = AIOKafkaConsumer(
                *self.topics,
                **self.settings.kafka_options(),
                group_id=self.group,
                enable_auto_commit=False,
                auto_offset_reset="earliest",
                session_timeout_ms=self.settings.kafka_session_timeout_ms,
                heartbeat_interval_ms=self.settings.kafka_heartbeat_interval_ms,
                rebalance_timeout_ms=self.settings.kafka_rebalance_timeout_ms,
                request_timeout_ms=max(
                    self.settings.kafka_request_timeout_ms, self.settings.kafka_session_timeout_ms + 1000
                ),
                max_poll_records=self.settings.consumer_batch_size,
                fetch_max_wait_ms=self.settings.kafka_fetch_max_wait_ms,
            )
            try:
                await consumer.start()
            except BaseException:
                await consumer.stop()
                raise
            self.consumer = consumer
        return self.consumer, self.producer

    def request_stop(self) -> None:
        self._stopping.set()

    async def stop(self) -> None:
        self.request_stop()
        if self.consumer is not None:
            if self._handled_up_to:  # best effort: what is not committed is delivered again, to the inbox
                with contextlib.suppress(KafkaError, OSError, TimeoutError):
                    await asyncio.wait_for(self._commit_offsets(self.consumer), timeout=2.0)
            await self.consumer.stop()
            self.consumer = None
        if self.producer is not None:
            await self.producer.stop()
            self.producer = None

    async def _sleep(self, seconds: float) -> None:
        try:
            await asyncio.wait_for(self._stopping.wait(), timeout=seconds)
        except TimeoutError:
            pass

    def _rewind(self, batch: Mapping[TopicPartition, Sequence[ConsumerRecord[bytes, bytes]]]) -> None:
        """After a failure mid-batch, go back so that no event of the batch is skipped."""
        if self.consumer is None:
            return
        for tp, records in batch.items():
            if records:
                try:
                    self.consumer.seek(tp, records[0].offset)
                except IllegalStateError:
                    pass  # no longer ours after a rebalance; its new owner starts from the committed offset

    async def _commit_offsets(self, consumer: AIOKafkaConsumer) -> None:
        """Commit how far the handled batches got. Not after every batch: under load a batch is a few events, and
        each commit is a round trip to the group coordinator (CPU on both sides) that saves only redeliveries the
        inbox absorbs anyway. Partitions taken away by a rebalance are left to their new owner."""
        offsets, self._handled_up_to = self._handled_up_to, {}
        self._committed_at = time.monotonic()
        assigned = consumer.assignment()
        await consumer.commit({tp: offset for tp, offset in offsets.items() if tp in assigned})

    # -- processing -----------------------------------------------------------------------------------
    async def _process(
        self,
        batch: Mapping[TopicPartition, Sequence[ConsumerRecord[bytes, bytes]]],
        producer: AIOKafkaProducer,
    ) -> None:
        items: list[_Item] = []
        for records in batch.values():
            for record in records:
                item = await self._prepare(record, producer)
                if item is not None:
                    items.append(item)
        # Transactions of a bounded size: on SQLite a transaction holds the database's one write lock, and a
        # consumer catching up on a long backlog in one transaction kept the service's requests waiting for it.
        size = self.settings.consumer_transaction_size
        for start in range(0, len(items), size):
            await self._process_in_one_transaction(items[start : start + size], producer)

    async def _process_in_one_transaction(self, items: Sequence[_Item], producer: AIOKafkaProducer) -> None:
        try:
            async with AsyncSession(self.engine, expire_on_commit=False) as session, session.begin():
                done = await self._handle_in(session, items)
            await self._notify(done, offered=len(items))
        except INFRASTRUCTURE_ERRORS:
            raise
        except Exception as exc:  # one bad event must not hold back the rest: retry each on its own
            log.warning("batch of %d failed (%s); handling one at a time", len(items), type(exc).__name__)
            for item in items:
                await self._handle_one_with_retries(item, producer)

    async def _prepare(self, record: ConsumerRecord[bytes, bytes], producer: AIOKafkaProducer) -> _Item | None:
        try:
            received = decode(record.headers, record.value)
        except UnparseableEvent as exc:
            await self._dead_letter(producer, record, exc)
            return None
        target = received.headers.get(dlq.REPLAY_TARGET_HEADER)
        if target is not None and target.decode() != self.group:
            self.stats.ignored += 1
            return None  # a replay meant for another consumer group
        entry = self.handlers.get(received.envelope.type)
        if entry is None:
            self.stats.ignored += 1
            return None  # not an event this group reacts to
        try:
            event = received.parse(entry[0])
        except UnparseableEvent as exc:
            await self._dead_letter(producer, record, exc)
            return None
        return _Item(record, received, event)

    async def handle_directly(
        self, session: AsyncSession, record: ConsumerRecord[bytes, bytes], outbox: Outbox
    ) -> bool:
        """Handle ``record`` now, in ``session``'s transaction, as if it had come from the broker (inbox, handlers),
        with what the handlers publish going to ``outbox``: a synchronous orchestrator's call (``civic.steps``).
        False when this group had handled the event already or does not react to it. Raises UnparseableEvent."""
        received = decode(record.headers, record.value)
        entry = self.handlers.get(received.envelope.type)
        if entry is None:
            return False
        item = _Item(record, received, received.parse(entry[0]))
        return bool(await self._handle_in(session, [item], outbox))

    async def _handle_in(
        self, session: AsyncSession, items: Sequence[_Item], outbox: Outbox | None = None
    ) -> list[Received]:
        new = await claim(session, self.group, [(i.received.envelope.id, i.received.envelope.type) for i in items])
        done: list[Received] = []
        for item in items:
            if item.received.envelope.id not in new:
                continue
            new.discard(item.received.envelope.id)  # a second copy in the same batch is a duplicate too
            await self._run_handlers(session, item, outbox or self.outbox)
            done.append(item.received)
        return done

    async def _run_handlers(self, session: AsyncSession, item: _Item, outbox: Outbox) -> None:
        env = item.received.envelope
        parent = propagate.extract({"traceparent": env.traceparent} if env.traceparent else {})
        corr = current_correlation_id.set(env.correlation_id)
        cause = current_causation_id.set(env.id)
        initiator = current_initiator.set(env.initiator)
        try:
            with tracer.start_as_current_span(
                f"{env.type} process",
                context=parent,
                kind=SpanKind.CONSUMER,
                attributes={
                    "messaging.system": "kafka",
                    "messaging.operation.type": "process",
                    "messaging.destination.name": item.record.topic,
                    "messaging.consumer.group.name": self.group,
                    "messaging.message.id": env.id,
                    "cloudevents.event_type": env.type,
                },
            ):
                ctx = HandlerContext(session=session, outbox=outbox, envelope=env, topic=item.record.topic,
                                     headers=item.received.headers)  # fmt: skip
                for handler in self.handlers[env.type][1]:
                    with tracer.start_as_current_span(handler.__name__):
                        await handler(item.event, ctx)
        finally:
            current_initiator.reset(initiator)
            current_causation_id.reset(cause)
            current_correlation_id.reset(corr)

    async def _handle_one_with_retries(self, item: _Item, producer: AIOKafkaProducer) -> None:
        try:
            async for attempt in AsyncRetrying(
                stop=stop_after_attempt(self.settings.consumer_max_attempts),
                wait=wait_exponential(
                    multiplier=self.settings.consumer_backoff_initial_s, max=self.settings.consumer_backoff_max_s
                ),
                reraise=True,
            ):
                with attempt:
                    async with AsyncSession(self.engine, expire_on_commit=False) as session, session.begin():
                        done = await self._handle_in(session, [item])
            await self._notify(done, offered=1)
        except INFRASTRUCTURE_ERRORS:
            raise  # the database is down or busy: not this event's fault, so rewind and wait instead
        except Exception as exc:
            log.error(
                "event %s failed %d times; sending it to the dead-letter topic",
                item.received.envelope.id,
                self.settings.consumer_max_attempts,
                extra={"error": repr(exc)},
            )
            await self._dead_letter(producer, item.record, exc)

    async def _dead_letter(
        self, producer: AIOKafkaProducer, record: ConsumerRecord[bytes, bytes], error: BaseException
    ) -> None:
        await dlq.send(producer, self.group, record, error)
        self.stats.dead_lettered += 1

    async def _notify(self, done: Sequence[Received], offered: int) -> None:
        self.stats.handled += len(done)
        self.stats.duplicates += offered - len(done)
        for observer in self.after_commit:
            await observer(done)
