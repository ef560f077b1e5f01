"""Dead letters: events a consumer group could not handle, kept on ``civic.dlq.<group>`` with the reason.

``replay`` sends them back to their original topic, marked for that one group, so the other groups on the
topic (which handled the event already, or have dead letters of their own) are not disturbed. The replayer
commits its own offsets on the dead-letter topic, so a dead letter is replayed once.
"""

from __future__ import annotations

import asyncio
import traceback
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition

REPLAY_TARGET_HEADER = "civic_replay_group"
ERROR_HEADER = "civic_dlq_error"
ORIGIN_HEADERS = ("civic_dlq_topic", "civic_dlq_partition", "civic_dlq_offset")
_OWN_HEADERS = {ERROR_HEADER, *ORIGIN_HEADERS, "civic_dlq_group", "civic_dlq_failed_at", REPLAY_TARGET_HEADER}


# A bootstrap address (local brokers, tests), or a Settings.kafka_options() mapping (with authentication).
KafkaTarget = str | Mapping[str, Any]


def client_options(kafka: KafkaTarget) -> dict[str, Any]:
    return {"bootstrap_servers": kafka} if isinstance(kafka, str) else dict(kafka)


def topic_for(group: str) -> str:
    return f"civic.dlq.{group}"


def replayer_group(group: str) -> str:
    return f"civic.dlq-replayer.{group}"


def describe(error: BaseException) -> str:
    text = "".join(traceback.format_exception_only(type(error), error)).strip()
    return text[:2000]


async def send(
    producer: AIOKafkaProducer, group: str, record: ConsumerRecord[bytes, bytes], error: BaseException
) -> None:
    """Publish ``record`` unchanged to the group's dead-letter topic, with why and where it came from."""
    headers = [(k, v) for k, v in record.headers if k not in _OWN_HEADERS]
    headers += [
        (ERROR_HEADER, describe(error).encode()),
        ("civic_dlq_group", group.encode()),
        ("civic_dlq_topic", record.topic.encode()),
        ("civic_dlq_partition", str(record.partition).encode()),
        ("civic_dlq_offset", str(record.offset).encode()),
        ("civic_dlq_failed_at", datetime.now(UTC).isoformat().encode()),
    ]
    await producer.send_and_wait(topic_for(group), record.value, key=record.key, headers=headers)


@dataclass(frozen=True)
class DeadLetter:
    dlq_offset: int
    dlq_partition: int
    event_id: str
    event_type: str
    subject: str
    error: str
    topic: str
    partition: int
    offset: int
    failed_at: str
    correlation_id: str = ""
    group: str = ""

    @staticmethod
    def of(record: ConsumerRecord[bytes, bytes]) -> DeadLetter:
        h = {k: v.decode(errors="replace") for k, v in record.headers}
        return DeadLetter(
            dlq_offset=record.offset,
            dlq_partition=record.partition,
            event_id=h.get("ce_id", "?"),
            event_type=h.get("ce_type", "?"),
            subject=h.get("ce_subject", ""),
            error=h.get(ERROR_HEADER, ""),
            topic=h.get("civic_dlq_topic", "?"),
            partition=int(h.get("civic_dlq_partition", "-1")),
            offset=int(h.get("civic_dlq_offset", "-1")),
            failed_at=h.get("civic_dlq_failed_at", ""),
            correlation_id=h.get("ce_correlationid", ""),
            group=h.get("civic_dlq_group", ""),
        )


async def _read_all(consumer: AIOKafkaConsumer, topic: str) -> list[ConsumerRecord[bytes, bytes]]:
    """Everything on ``topic`` from the consumer's position up to the end as of now."""
    partitions = consumer.partitions_for_topic(topic) or set()
    tps = [TopicPartition(topic, p) for p in sorted(partitions)]
    if not tps:
        return []
    end = await consumer.end_offsets(tps)
    records: list[ConsumerRecord[bytes, bytes]] = []
    while True:
        behind = [tp for tp in tps if tp in consumer.assignment() and await consumer.position(tp) < end[tp]]
        if not behind:
            return records
        batch = await consumer.getmany(*behind, timeout_ms=1000)
        for recs in batch.values():
            records.extend(recs)


async def _all_records(kafka: KafkaTarget, group: str) -> list[ConsumerRecord[bytes, bytes]]:
    topic = topic_for(group)
    consumer = AIOKafkaConsumer(**client_options(kafka), enable_auto_commit=False, auto_offset_reset="earliest")
    await consumer.start()
    try:
        await consumer.topics()  # load metadata
        parts = consumer.partitions_for_topic(topic) or set()
        tps = [TopicPartition(topic, p) for p in parts]
        if not tps:
            return []
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        return await _read_all(consumer, topic)
    finally:
        await consumer.stop()


async def list_dead_letters(kafka: KafkaTarget, group: str) -> list[DeadLetter]:
    return [DeadLetter.of(r) for r in await _all_records(kafka, group)]


async def replay_journey(
    kafka: KafkaTarget, groups: Sequence[str], correlation_ids: Collection[str]
) -> list[DeadLetter]:
    """Send back the dead letters of one journey, each to its own group. Replaying a letter twice is harmless
    (the group's inbox absorbs the second), so this does not move the groups' replay positions."""
    producer = AIOKafkaProducer(**client_options(kafka), acks="all")
    await producer.start()
    replayed: list[DeadLetter] = []
    try:
        for group in groups:
            for record in await _all_records(kafka, group):
                letter = DeadLetter.of(record)
                if letter.correlation_id not in correlation_ids:
                    continue
                headers = [(k, v) for k, v in record.headers if k not in _OWN_HEADERS]
                headers.append((REPLAY_TARGET_HEADER, group.encode()))
                await producer.send_and_wait(letter.topic, record.value, key=record.key, headers=headers)
                replayed.append(letter)
    finally:
        await producer.stop()
    return replayed


async def replay(kafka: KafkaTarget, group: str, *, session_timeout_ms: int = 6000) -> list[DeadLetter]:
    """Send every dead letter not replayed before back to its topic, for ``group`` only."""
    topic = topic_for(group)
    consumer = AIOKafkaConsumer(
        topic,
        **client_options(kafka),
        group_id=replayer_group(group),
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        session_timeout_ms=session_timeout_ms,
        heartbeat_interval_ms=max(100, session_timeout_ms // 10),
    )
    producer = AIOKafkaProducer(**client_options(kafka), acks="all")
    await consumer.start()
    await producer.start()
    try:
        while not consumer.assignment():
            await asyncio.sleep(0.05)
        records = await _read_all(consumer, topic)
        replayed = []
        for record in records:
            letter = DeadLetter.of(record)
            headers = [(k, v) for k, v in record.headers if k not in _OWN_HEADERS]
            headers.append((REPLAY_TARGET_HEADER, group.encode()))
            await producer.send_and_wait(letter.topic, record.value, key=record.key, headers=headers)
            replayed.append(letter)
        if records:
            last: dict[TopicPartition, int] = {}
            for r in records:
                last[TopicPartition(r.topic, r.partition)] = r.offset + 1
            await consumer.commit(last)
        return replayed
    finally:
        await consumer.stop()
        await producer.stop()
