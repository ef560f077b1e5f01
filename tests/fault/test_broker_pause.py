"""(a) The broker is frozen (SIGSTOP) while events are written; after it resumes, every event arrives, in order
per key, and nothing was lost or doubled."""

from __future__ import annotations

import uuid
from collections import defaultdict
from pathlib import Path

from civic.broker import EmbeddedBroker
from tests.conftest import eventually
from tests.kit import (
    ConsumerSide,
    Noter,
    ProducerSide,
    ThingNoted,
    count_effects,
    effects,
    outbox_pending,
    settings_for,
)

KEYS = 8
PER_KEY = 40


async def test_events_written_during_a_broker_outage_all_arrive_in_order_per_key(
    broker: EmbeddedBroker, tmp_path: Path
) -> None:
    run = uuid.uuid4().hex
    noter = Noter(run)
    producer = ProducerSide(settings_for("pause-producer", tmp_path / "p", broker.bootstrap))
    consumer = ConsumerSide(settings_for(f"pause-{run}", tmp_path / "c", broker.bootstrap), noter.handlers())
    await producer.start()
    await consumer.start()
    try:
        # A first event proves the pipeline is up before the outage.
        await producer.write([ThingNoted(run=run, key="k0", seq=-1)])
        await eventually(lambda: _has(consumer, 1), what="the first event")

        broker.pause()
        try:
            events = [ThingNoted(run=run, key=f"k{k}", seq=s) for s in range(PER_KEY) for k in range(KEYS)]
            await producer.write(events, per_transaction=7)
            # Writes were accepted and wait in the outbox while the broker is frozen.
            assert await outbox_pending(producer.engine) > 0
        finally:
            broker.resume()

        total = 1 + KEYS * PER_KEY
        await eventually(lambda: _has(consumer, total), timeout=60, what=f"{total} effects after the outage")
        assert await outbox_pending(producer.engine) == 0

        seen: dict[str, list[int]] = defaultdict(list)
        for effect in await effects(consumer.engine):
            seen[effect.key].append(effect.seq)
        assert seen["k0"][0] == -1
        seen["k0"] = seen["k0"][1:]
        for k in range(KEYS):
            assert seen[f"k{k}"] == list(range(PER_KEY)), f"key k{k} out of order or incomplete"
        assert await count_effects(consumer.engine) == total
    finally:
        await consumer.stop()
        await producer.stop()


async def _has(consumer: ConsumerSide, n: int) -> bool:
    return await count_effects(consumer.engine) >= n
