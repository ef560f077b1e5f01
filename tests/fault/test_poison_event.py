"""(d) A poison event goes to the dead-letter topic with the reason and its origin; the events behind it still
flow; after the fix, `civic dlq replay` makes it handled exactly once. An unparseable event goes there at once."""

from __future__ import annotations

import uuid
from pathlib import Path

from aiokafka import AIOKafkaProducer

from civic import dlq
from civic.broker import EmbeddedBroker
from tests.conftest import eventually
from tests.kit import ConsumerSide, Noter, ThingNoted, count_effects, effects, message_of, settings_for


async def test_poison_event_is_dead_lettered_then_replayed_once(broker: EmbeddedBroker, tmp_path: Path) -> None:
    run = uuid.uuid4().hex
    group = f"poison-{run}"
    noter = Noter(run, broken={"bad"})
    settings = settings_for(group, tmp_path, broker.bootstrap, consumer_max_attempts=3)
    consumer = ConsumerSide(settings, noter.handlers())
    before = message_of(ThingNoted(run=run, key="bad", seq=0), settings)
    after = [message_of(ThingNoted(run=run, key=k, seq=1), settings) for k in ("good", "bad")]
    producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap, acks="all")
    await producer.start()
    await consumer.start()
    try:
        for msg in (before, *after):
            await producer.send_and_wait(msg.topic, msg.value, key=msg.key, headers=msg.headers)
        await eventually(lambda: _effects_at_least(consumer, 1), what="the good event behind the poison")
        await eventually(lambda: _dead_letters(broker, group, 2), what="both bad events in the DLQ")

        letters = await dlq.list_dead_letters(broker.bootstrap, group)
        assert {letter.event_id for letter in letters} == {before.event_id, after[1].event_id}
        for letter in letters:
            assert letter.topic == "civic.testkit"
            assert letter.partition >= 0 and letter.offset >= 0
            assert "cannot handle key bad yet" in letter.error
        # Each bad event is tried consumer_max_attempts times on its own, plus at most once inside the batch
        # attempt that failed first; the good event is handled once.
        assert 3 <= noter.attempts["bad", 0] <= 4
        assert 3 <= noter.attempts["bad", 1] <= 4
        assert noter.attempts["good", 1] <= 2

        noter.broken.clear()  # the fix
        replayed = await dlq.replay(broker.bootstrap, group, session_timeout_ms=3000)
        assert sorted(r.event_id for r in replayed) == sorted(letter.event_id for letter in letters)
        await eventually(lambda: _effects_at_least(consumer, 3), what="the replayed events handled")

        assert await dlq.replay(broker.bootstrap, group, session_timeout_ms=3000) == [], "replayed once only"
        assert noter.attempts["bad", 0] <= 5, "the replay was handled once"
        got = [(e.key, e.seq) for e in await effects(consumer.engine)]
        assert sorted(got) == [("bad", 0), ("bad", 1), ("good", 1)]
    finally:
        await consumer.stop()
        await producer.stop()


async def test_unparseable_event_goes_to_the_dlq_at_once(broker: EmbeddedBroker, tmp_path: Path) -> None:
    run = uuid.uuid4().hex
    group = f"garbage-{run}"
    noter = Noter(run)
    settings = settings_for(group, tmp_path, broker.bootstrap)
    consumer = ConsumerSide(settings, noter.handlers())
    good = message_of(ThingNoted(run=run, key="x", seq=1), settings)
    wrong_data = [(n, v) for n, v in good.headers if n != "ce_id"] + [("ce_id", b"wrong-data-" + run.encode())]
    producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap, acks="all")
    await producer.start()
    await consumer.start()
    try:
        await producer.send_and_wait("civic.testkit", b"\xff not json", key=b"x", headers=[("junk", b"1")])
        await producer.send_and_wait("civic.testkit", b'{"run": 5}', key=b"x", headers=wrong_data)
        await producer.send_and_wait(good.topic, good.value, key=good.key, headers=good.headers)
        await eventually(lambda: _effects_at_least(consumer, 1), what="the good event after the garbage")
        await eventually(lambda: _dead_letters(broker, group, 2), what="the garbage in the DLQ")
        errors = sorted(letter.error for letter in await dlq.list_dead_letters(broker.bootstrap, group))
        assert "data does not match civic.testkit.thing-noted.v1" in errors[0]
        assert "not a CloudEvent" in errors[1]
        assert noter.calls == 1, "garbage never reaches the handler"
    finally:
        await consumer.stop()
        await producer.stop()


async def _effects_at_least(consumer: ConsumerSide, n: int) -> bool:
    return await count_effects(consumer.engine) >= n


async def _dead_letters(broker: EmbeddedBroker, group: str, n: int) -> bool:
    return len(await dlq.list_dead_letters(broker.bootstrap, group)) >= n
