"""(c) The consumer process is SIGKILLed after its transaction committed and before its offset commit; when it
restarts, the event is delivered again and the inbox makes that a no-op: one effect."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import uuid
from pathlib import Path

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from civic.broker import EmbeddedBroker
from civic.db import make_engine
from tests.conftest import eventually
from tests.kit import EFFECT_TABLES, ThingNoted, count_effects, inbox_ids, message_of, settings_for

ROOT = Path(__file__).resolve().parents[2]


async def test_kill_between_commit_and_offset_commit_gives_one_effect(broker: EmbeddedBroker, tmp_path: Path) -> None:
    run = uuid.uuid4().hex
    group = f"crash-{run}"
    settings = settings_for(group, tmp_path, broker.bootstrap)
    msg = message_of(ThingNoted(run=run, key="k", seq=1), settings)
    producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap, acks="all")
    await producer.start()
    try:
        sent = await producer.send_and_wait(msg.topic, msg.value, key=msg.key, headers=msg.headers)
    finally:
        await producer.stop()
    tp = TopicPartition(sent.topic, sent.partition)

    args = [
        sys.executable,
        "-m",
        "tests.fault.consumer_process",
        "--bootstrap",
        broker.bootstrap,
        "--group",
        group,
        "--run",
        run,
        "--data-dir",
        str(tmp_path),
    ]
    crashed = subprocess.run([*args, "--die-after-commit"], cwd=ROOT, timeout=60, capture_output=True)
    assert crashed.returncode == -9, crashed.stderr.decode()[-2000:]

    engine = make_engine(settings.resolved_database_url())
    try:
        from civic.db import create_tables

        await create_tables(engine, EFFECT_TABLES)
        assert await count_effects(engine) == 1, "the transaction committed before the kill"
        assert await _committed(broker, group, tp) is None or await _committed(broker, group, tp) <= sent.offset

        restarted = subprocess.Popen(args, cwd=ROOT, stderr=subprocess.PIPE)
        try:
            await eventually(
                lambda: _offset_past(broker, group, tp, sent.offset),
                timeout=60,
                what="the restarted consumer to handle the redelivered event and commit",
            )
        finally:
            restarted.terminate()
            restarted.wait(10)
        assert await count_effects(engine) == 1, "the redelivered event changed nothing"
        assert (await inbox_ids(engine)).count(msg.event_id) == 1
    finally:
        await engine.dispose()


async def _committed(broker: EmbeddedBroker, group: str, tp: TopicPartition) -> int | None:
    consumer = AIOKafkaConsumer(bootstrap_servers=broker.bootstrap, group_id=group, enable_auto_commit=False)
    await consumer.start()
    try:
        return await consumer.committed(tp)
    finally:
        await consumer.stop()


async def _offset_past(broker: EmbeddedBroker, group: str, tp: TopicPartition, offset: int) -> bool:
    committed = await _committed(broker, group, tp)
    if committed is None or committed <= offset:
        await asyncio.sleep(0.2)
        return False
    return True
