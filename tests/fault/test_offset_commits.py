"""Offsets are committed in batches of time, not after every batch of events (``consumer_commit_interval_s``):
what was handled is committed by the time the consumer stops or goes idle, so its group's next consumer starts
after it; what was handled and not yet committed when a consumer dies comes again and the inbox absorbs it."""

from __future__ import annotations

import uuid
from pathlib import Path

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from civic.broker import EmbeddedBroker
from civic.config import Settings
from tests.conftest import eventually
from tests.kit import TEST_TOPIC, ConsumerSide, Noter, ThingNoted, count_effects, message_of, settings_for


async def _committed_and_end(broker: EmbeddedBroker, group: str) -> tuple[dict[int, int | None], dict[int, int]]:
    consumer = AIOKafkaConsumer(bootstrap_servers=broker.bootstrap, group_id=group, enable_auto_commit=False)
    await consumer.start()
    try:
        tps = [TopicPartition(TEST_TOPIC, p) for p in sorted(consumer.partitions_for_topic(TEST_TOPIC) or set())]
        if not tps:
            await consumer.topics()
            tps = [TopicPartition(TEST_TOPIC, p) for p in sorted(consumer.partitions_for_topic(TEST_TOPIC) or set())]
        end = await consumer.end_offsets(tps)
        return {tp.partition: await consumer.committed(tp) for tp in tps}, {tp.partition: end[tp] for tp in tps}
    finally:
        await consumer.stop()


async def _consume(settings: Settings, broker: EmbeddedBroker, noter: Noter, seqs: range, effects: int) -> ConsumerSide:
    """Run a consumer of the group while ``seqs`` are sent, until ``effects`` effects are in its database; stop it."""
    consumer = ConsumerSide(settings, noter.handlers())
    producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap, acks="all")
    await producer.start()
    await consumer.start()
    try:
        for seq in seqs:
            msg = message_of(ThingNoted(run=noter.run, key=f"k{seq % 7}", seq=seq), settings)
            await producer.send_and_wait(msg.topic, msg.value, key=msg.key, headers=msg.headers)

        async def handled() -> bool:
            return await count_effects(consumer.engine) == effects

        await eventually(handled, what=f"{effects} effects")
    finally:
        await consumer.stop()
        await producer.stop()
    return consumer


async def test_a_stopped_consumer_has_committed_what_it_handled(broker: EmbeddedBroker, tmp_path: Path) -> None:
    run = uuid.uuid4().hex
    group = f"offsets-{run}"
    # An interval far longer than the test: only going idle or stopping commits.
    settings = settings_for(group, tmp_path, broker.bootstrap, consumer_commit_interval_s=3600)
    await _consume(settings, broker, Noter(run), range(30), effects=30)

    committed, end = await _committed_and_end(broker, group)
    # Other tests share the topic: every partition is committed to its end, past this test's events too.
    assert committed == end, f"committed {committed}, log ends at {end}"

    # One more event: once it is handled, the restarted consumer has read from where its group committed.
    again = Noter(run)
    restarted = await _consume(settings, broker, again, range(30, 31), effects=31)
    assert again.calls == 1, "only the new event reached the handler"
    assert restarted.runner.stats.duplicates == 0, "nothing handled before the stop was delivered again"
