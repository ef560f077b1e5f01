"""(b) The same event delivered twice (the relay died after publishing, before deleting) has one effect."""

from __future__ import annotations

import uuid
from pathlib import Path

from aiokafka import AIOKafkaProducer

from civic.broker import EmbeddedBroker
from tests.conftest import eventually
from tests.kit import ConsumerSide, Noter, ThingNoted, count_effects, inbox_ids, message_of, settings_for


async def test_an_event_delivered_twice_changes_state_once(broker: EmbeddedBroker, tmp_path: Path) -> None:
    run = uuid.uuid4().hex
    noter = Noter(run)
    settings = settings_for(f"dup-{run}", tmp_path, broker.bootstrap)
    consumer = ConsumerSide(settings, noter.handlers())
    first = message_of(ThingNoted(run=run, key="a", seq=1), settings)
    second = message_of(ThingNoted(run=run, key="a", seq=2), settings)
    producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap, acks="all")
    await producer.start()
    await consumer.start()
    try:
        # The same message twice, as a relay restarted between publishing and deleting would send it;
        # then another event, which shows the consumer has moved past both copies.
        for msg in (first, first, second):
            await producer.send_and_wait(msg.topic, msg.value, key=msg.key, headers=msg.headers)
        await eventually(lambda: _effects_at_least(consumer, 2), what="both events handled")
        assert noter.calls == 2, "the duplicate must not reach the handler"
        assert await count_effects(consumer.engine) == 2
        assert (await inbox_ids(consumer.engine)).count(first.event_id) == 1
        assert consumer.runner.stats.duplicates == 1
    finally:
        await consumer.stop()
        await producer.stop()


async def _effects_at_least(consumer: ConsumerSide, n: int) -> bool:
    return await count_effects(consumer.engine) >= n
