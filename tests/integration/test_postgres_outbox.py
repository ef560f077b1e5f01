"""The kernel on PostgreSQL: the same outbox, relay, runner and inbox, and one relay leading among replicas."""

from __future__ import annotations

import asyncio
import uuid
from collections import defaultdict
from pathlib import Path

from aiokafka import AIOKafkaConsumer

from civic.broker import EmbeddedBroker
from tests.conftest import Postgres, eventually
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


async def test_pipeline_on_postgresql_both_sides(broker: EmbeddedBroker, postgres: Postgres, tmp_path: Path) -> None:
    run = uuid.uuid4().hex
    producer = ProducerSide(settings_for("pg-producer", tmp_path, broker.bootstrap,
                                         database_url=postgres.database(f"p_{run}")))  # fmt: skip
    consumer = ConsumerSide(settings_for(f"pg-{run}", tmp_path, broker.bootstrap,
                                         database_url=postgres.database(f"c_{run}")), Noter(run).handlers())  # fmt: skip
    await producer.start()
    await consumer.start()
    try:
        await producer.write([ThingNoted(run=run, key=f"k{i % 3}", seq=i) for i in range(30)], per_transaction=4)
        await eventually(lambda: _effects_at_least(consumer, 30), what="30 effects on PostgreSQL")
        by_key: dict[str, list[int]] = defaultdict(list)
        for effect in await effects(consumer.engine):
            by_key[effect.key].append(effect.seq)
        assert {k: sorted(v) == v for k, v in by_key.items()} == {"k0": True, "k1": True, "k2": True}
        assert await outbox_pending(producer.engine) == 0
    finally:
        await consumer.stop()
        await producer.stop()


async def test_only_one_relay_publishes_and_a_standby_takes_over(
    broker: EmbeddedBroker, postgres: Postgres, tmp_path: Path
) -> None:
    run = uuid.uuid4().hex
    url = postgres.database(f"r_{run}")
    replicas = [ProducerSide(settings_for("pg-replica", tmp_path, broker.bootstrap, database_url=url,
                                          relay_standby_poll_s=0.1)) for _ in range(2)]  # fmt: skip
    for replica in replicas:
        await replica.start()
    try:
        await eventually(lambda: _one_leads(replicas), what="one relay to lead")
        # Both replicas write (as two API pods would); only the leader publishes, each event once, in order.
        for i in range(20):
            await replicas[i % 2].write([ThingNoted(run=run, key=f"k{i % 4}", seq=i)])
        await eventually(lambda: _all_published(replicas[0]), what="the outbox drained")
        leader = next(r for r in replicas if r.relay.leading)
        standby = next(r for r in replicas if not r.relay.leading)
        assert standby.relay.published == 0

        await leader.stop()  # the leader goes away: its lease goes with its connection
        await eventually(lambda: _leads(standby), what="the standby to take over")
        await standby.write([ThingNoted(run=run, key="k0", seq=100 + i) for i in range(5)])
        await eventually(lambda: _all_published(standby), what="the new leader drained the outbox")

        seqs = await _published_seqs(broker, run, expected=25)
        assert sorted(seqs) == sorted([*range(20), *range(100, 105)]), "each event exactly once"
    finally:
        for replica in replicas:
            await replica.stop()


async def _effects_at_least(consumer: ConsumerSide, n: int) -> bool:
    return await count_effects(consumer.engine) >= n


async def _one_leads(replicas: list[ProducerSide]) -> bool:
    return sum(r.relay.leading for r in replicas) == 1


async def _leads(replica: ProducerSide) -> bool:
    return replica.relay.leading


async def _all_published(replica: ProducerSide) -> bool:
    return await outbox_pending(replica.engine) == 0


async def _published_seqs(broker: EmbeddedBroker, run: str, expected: int) -> list[int]:
    import json

    consumer = AIOKafkaConsumer("civic.testkit", bootstrap_servers=broker.bootstrap, auto_offset_reset="earliest",
                                enable_auto_commit=False)  # fmt: skip
    await consumer.start()
    seqs: list[int] = []
    try:
        async with asyncio.timeout(60):
            while len(seqs) < expected:
                batch = await consumer.getmany(timeout_ms=500)
                for records in batch.values():
                    seqs += [json.loads(r.value)["seq"] for r in records if r.value and run.encode() in r.value]
            # Anything more than expected would be a duplicate: read what is left to the end.
            more = await consumer.getmany(timeout_ms=500)
            seqs += [
                json.loads(r.value)["seq"] for rs in more.values() for r in rs if r.value and run.encode() in r.value
            ]
    finally:
        await consumer.stop()
    return seqs
