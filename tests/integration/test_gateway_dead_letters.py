"""Operators list a consumer group's dead letters and replay them through the gateway (no shell in the cluster
needed): on the real broker, the gateway in-process under uvicorn."""

from __future__ import annotations

import uuid
from datetime import date
from pathlib import Path

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition

from civic import dlq
from civic.auth import Role
from civic.broker import EmbeddedBroker
from gateway.main import build_app
from gateway.settings import GatewaySettings
from gateway.testing import live
from gateway.tokens import issue_dev_token
from tests.factories import resident_id
from tests.kit import TEST_TOPIC, ThingNoted, message_of, settings_for


async def dead_letter(broker: EmbeddedBroker, group: str, error: str) -> str:
    """An event that ``group`` failed to handle for good, as its runner would have sent it to the DLQ."""
    msg = message_of(ThingNoted(run=uuid.uuid4().hex, key="k", seq=1), settings_for("test", Path("unused"),
                                                                                    broker.bootstrap))  # fmt: skip
    record = ConsumerRecord(topic=msg.topic, partition=0, offset=7, timestamp=0, timestamp_type=0, key=msg.key,
                            value=msg.value, checksum=None, serialized_key_size=len(msg.key),
                            serialized_value_size=len(msg.value), headers=msg.headers)  # fmt: skip
    producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap, acks="all")
    await producer.start()
    try:
        await dlq.send(producer, group, record, RuntimeError(error))
    finally:
        await producer.stop()
    return msg.event_id


async def copies_on_topic(broker: EmbeddedBroker, event_id: str) -> list[dict[str, bytes]]:
    consumer = AIOKafkaConsumer(bootstrap_servers=broker.bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        await consumer.topics()
        tps = [TopicPartition(TEST_TOPIC, p) for p in sorted(consumer.partitions_for_topic(TEST_TOPIC) or set())]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        end = await consumer.end_offsets(tps)
        found = []
        while any([await consumer.position(tp) < end[tp] for tp in tps]):
            for records in (await consumer.getmany(timeout_ms=200)).values():
                found += [dict(r.headers) for r in records if dict(r.headers).get("ce_id") == event_id.encode()]
        return found
    finally:
        await consumer.stop()


async def test_operators_list_and_replay_a_groups_dead_letters(tmp_path: Path, broker: EmbeddedBroker) -> None:
    settings = GatewaySettings(service_name=f"gateway-{uuid.uuid4().hex[:8]}", data_dir=tmp_path, dev_issuer=True,
                               kafka_bootstrap=broker.bootstrap)  # fmt: skip

    def auth(role: Role) -> dict[str, str]:
        subject = resident_id(date(1980, 1, 1)) if role is Role.CITIZEN else f"{role}-1"  # a citizen is their ID
        return {"authorization": f"Bearer {issue_dev_token(settings, role=role, subject=subject)}"}

    person = resident_id(date(1950, 5, 5))
    event_id = await dead_letter(broker, "placenames", f"no household for {person}")
    async with live(build_app(settings), lifespan="on") as gateway, \
            httpx.AsyncClient(base_url=gateway.url, timeout=30) as api:  # fmt: skip
        listed = await api.get("/dead-letters/placenames", headers=auth(Role.OPERATOR))
        assert listed.status_code == 200, listed.text
        [ours] = [x for x in listed.json() if x["event_id"] == event_id]
        assert (ours["topic"], ours["offset"], ours["event_type"]) == (TEST_TOPIC, 7, ThingNoted.type_name)
        assert ours["error"].startswith("RuntimeError: no household for ") and person not in listed.text
        assert (await api.get("/dead-letters/placenames", headers=auth(Role.AUDITOR))).status_code == 200
        assert (await api.get("/dead-letters/placenames", headers=auth(Role.CITIZEN))).status_code == 403
        unknown = await api.get("/dead-letters/nobody", headers=auth(Role.OPERATOR))
        assert unknown.status_code == 404 and unknown.headers["content-type"] == "application/problem+json"

        assert (await api.post("/dead-letters/placenames/replay", headers=auth(Role.AUDITOR))).status_code == 403
        replayed = await api.post("/dead-letters/placenames/replay", headers=auth(Role.OPERATOR))
        assert replayed.status_code == 200, replayed.text
        assert event_id in [x["event_id"] for x in replayed.json()["replayed"]]
        again = await api.post("/dead-letters/placenames/replay", headers=auth(Role.OPERATOR))
        assert event_id not in [x["event_id"] for x in again.json()["replayed"]], "replayed once"

    [copy] = await copies_on_topic(broker, event_id)
    assert copy[dlq.REPLAY_TARGET_HEADER] == b"placenames", "back on its topic, for the group that failed it only"
