"""Department subscriptions end to end: events on the real broker, the gateway (under uvicorn, in-process) as the
consumer group, a real webhook receiver that fails each delivery once, a dead one, and an SSE client that reconnects."""

from __future__ import annotations

import hashlib
import hmac
import json
import random
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import httpx
from aiokafka import AIOKafkaProducer
from fastapi import FastAPI, Request, Response

from civic.auth import Role
from civic.broker import EmbeddedBroker, free_port
from civic.events import Envelope, encode
from civic.ids import new_id
from contracts.funeral import DeathRegistered, Reporter
from gateway.main import build_app
from gateway.settings import GatewaySettings
from gateway.subscriptions.tables import Delivery, FeedEntry
from gateway.testing import live
from gateway.tokens import issue_dev_token
from tests.conftest import eventually
from tests.factories import resident_id

DEATH = DeathRegistered.type_name


@dataclass
class Receiver:
    """Another department's webhook endpoint: fails each delivery's first request, then applies it once."""

    secret: str = ""
    requests: int = 0
    unsigned: int = 0
    failed_once: set[str] = field(default_factory=set)  # delivery ids
    effects: dict[str, dict[str, Any]] = field(default_factory=dict)  # delivery id -> CloudEvent

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/hook")
        async def hook(request: Request) -> Response:
            body = await request.body()
            expected = hmac.new(self.secret.encode(), request.headers.get("x-civic-timestamp", "").encode() + b"."
                                + body, hashlib.sha256).hexdigest()  # fmt: skip
            if not hmac.compare_digest(request.headers.get("x-civic-signature", ""), f"sha256={expected}"):
                self.unsigned += 1  # not from this test's gateway (a port another test's receiver had): not counted
                return Response(status_code=401)
            self.requests += 1
            delivery_id = request.headers["x-civic-delivery-id"]
            if delivery_id not in self.failed_once:
                self.failed_once.add(delivery_id)
                return Response(status_code=500)
            self.effects.setdefault(delivery_id, json.loads(body))
            return Response(status_code=204)

        return app


async def publish(producer: AIOKafkaProducer, region: str, person: str | None = None) -> str:
    event = DeathRegistered(
        resident_id=person or resident_id(date(1940, 1, 1)), registration_id=str(uuid.uuid4()),
        date_of_death=date(2026, 11, 10), registered_at=datetime.now(UTC),
        reported_by=Reporter(name="张伟", relation="子女"), region_code=region, source="family",
    )  # fmt: skip
    envelope = Envelope.new(DEATH, source="/funeral", subject=uuid.uuid4().hex)
    # Keyed by region so that one test's deaths share a partition: the stream's order is the order they were
    # consumed in, which Kafka keeps within a partition only.
    await producer.send_and_wait("civic.funeral", event.model_dump_json().encode(), key=region.encode(),
                                 headers=encode(envelope))  # fmt: skip
    return envelope.id


async def read_sse(api: httpx.AsyncClient, url: str, headers: dict[str, str], count: int) -> list[tuple[int, Any]]:
    """Read ``count`` events, then hang up. Waits as long as a busy gateway may take to put an event in the feed
    (the server's keep-alive comes every 15 s: a shorter read timeout would end a stream that is only quiet)."""
    events: list[tuple[int, Any]] = []
    current: dict[str, str] = {}
    async with api.stream("GET", url, headers=headers, timeout=httpx.Timeout(10, read=60)) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        async for line in response.aiter_lines():
            if line == "" and "data" in current:
                events.append((int(current["id"]), json.loads(current["data"])))
                current = {}
                if len(events) == count:
                    break
            elif ":" in line and not line.startswith(":"):
                name, _, value = line.partition(":")
                current[name] = value.lstrip(" ")
    return events


async def test_webhooks_and_sse_deliver_scoped_events(tmp_path: Path, broker: EmbeddedBroker) -> None:
    region = f"9{random.randrange(10**5):05d}"  # ours alone: other tests' deaths on the shared broker do not match
    settings = GatewaySettings(
        service_name=f"gateway-{uuid.uuid4().hex[:8]}", data_dir=tmp_path, dev_issuer=True,
        kafka_bootstrap=broker.bootstrap, webhook_backoff_initial_s=0.05, webhook_max_attempts=3,
        delivery_poll_s=0.05, webhook_allow_private_networks=True,  # the receivers listen on 127.0.0.1
    )  # fmt: skip

    def auth(role: Role, subject: str) -> dict[str, str]:
        return {"authorization": f"Bearer {issue_dev_token(settings, role=role, subject=subject)}"}

    pensions, operator = auth(Role.DEPARTMENT, "dept-pensions"), auth(Role.OPERATOR, "op-1")
    receiver = Receiver()
    producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap)
    await producer.start()
    async with live(receiver.app()) as hook, live(build_app(settings), lifespan="on") as gateway, \
            httpx.AsyncClient(base_url=gateway.url, timeout=10) as api:  # fmt: skip
        created = await api.post("/subscriptions", headers=pensions, json={
            "event_types": [DEATH], "filter": {"region_code": region[:4]}, "webhook_url": f"{hook.url}/hook"})  # fmt: skip
        assert created.status_code == 201, created.text
        webhook_sub = created.json()
        receiver.secret = webhook_sub["secret"]
        dead_sub = (await api.post("/subscriptions", headers=pensions, json={
            "event_types": [DEATH], "filter": {"region_code": region},
            "webhook_url": f"http://127.0.0.1:{free_port()}/gone"})).json()  # fmt: skip
        stream_sub = (await api.post("/subscriptions", headers=pensions, json={
            "event_types": [DEATH], "filter": {"region_code": region}})).json()  # fmt: skip

        # The scope is the operator's to set, and only with fields the events have.
        scope = {"fields": ["resident_id", "date_of_death"]}
        assert (
            await api.put(f"/subscriptions/{webhook_sub['id']}/scope", headers=pensions, json=scope)
        ).status_code == 403
        bad = await api.put(f"/subscriptions/{webhook_sub['id']}/scope", headers=operator, json={"fields": ["income"]})
        assert bad.status_code == 422 and bad.json()["field"] == "fields"
        for sub, fields in ((webhook_sub, scope), (dead_sub, scope), (stream_sub, {"fields": ["date_of_death"]})):
            assert (
                await api.put(f"/subscriptions/{sub['id']}/scope", headers=operator, json=fields)
            ).status_code == 200
        others = auth(Role.DEPARTMENT, "dept-power")
        assert (await api.get(f"/subscriptions/{stream_sub['id']}/events", headers=others)).status_code == 404

        person = resident_id(date(1940, 1, 1))
        first = await publish(producer, region, person)
        await publish(producer, "110101")  # another region: no subscription matches
        second = await publish(producer, region)

        async def both_applied() -> bool:
            return len(receiver.effects) == 2

        await eventually(both_applied, timeout=60, what="both deliveries to succeed after a failure each")
        received = sorted(receiver.effects.values(), key=lambda ce: ce["id"] != first)
        assert [ce["id"] for ce in received] == [first, second]
        assert received[0]["data"] == {"resident_id": person, "date_of_death": "2026-11-10"}
        assert {ce["type"] for ce in received} == {DEATH} and received[0]["specversion"] == "1.0"

        async def both_recorded() -> bool:  # the receiver applies an event before the gateway hears its answer
            listed = (await api.get(f"/subscriptions/{webhook_sub['id']}/deliveries", headers=pensions)).json()
            return [d["state"] for d in listed] == ["delivered", "delivered"]

        await eventually(both_recorded, what="both deliveries recorded as delivered")
        deliveries = (await api.get(f"/subscriptions/{webhook_sub['id']}/deliveries", headers=pensions)).json()
        # A failure, then a success each; every request the receiver answered is on the gateway's record (more
        # than four only if an answer went unrecorded, when the delivery is sent again and counted again).
        assert sum(d["attempts"] for d in deliveries) == receiver.requests >= 4
        assert all(d["attempts"] >= 2 for d in deliveries)
        assert {d["last_status"] for d in deliveries} == {204}

        # The dead receiver's deliveries fail, visibly, without having held up the other subscription.
        async def dead_failed() -> bool:
            got = await api.get(f"/subscriptions/{dead_sub['id']}/deliveries", params={"state": "failed"},
                                headers=pensions)  # fmt: skip
            return len(got.json()) == 2

        await eventually(dead_failed, timeout=60, what="the dead receiver's deliveries to be marked failed")
        failed = (await api.get(f"/subscriptions/{dead_sub['id']}/deliveries", headers=pensions)).json()
        assert all(d["attempts"] == 3 and d["last_error"] for d in failed)
        resent = await api.post(
            f"/subscriptions/{dead_sub['id']}/deliveries/{failed[0]['id']}/resend", headers=operator
        )
        assert resent.status_code == 200 and resent.json()["state"] == "pending" and resent.json()["attempts"] == 0

        # SSE: read one event, hang up, an event arrives meanwhile, resume from the last id seen.
        url = f"/subscriptions/{stream_sub['id']}/events"
        [(first_id, first_event)] = await read_sse(api, url, pensions, 1)
        assert first_event["id"] == first and first_event["data"] == {"date_of_death": "2026-11-10"}
        third = await publish(producer, region)
        resumed = await read_sse(api, url, {**pensions, "last-event-id": str(first_id)}, 2)
        assert [ce["id"] for _, ce in resumed] == [second, third], "no gap, no duplicate"
        assert [i for i, _ in resumed] == sorted(i for i, _ in resumed) and resumed[0][0] > first_id

        everything = json.dumps(
            [*receiver.effects.values(), first_event, *(ce for _, ce in resumed)], ensure_ascii=False
        )
        for outside_scope in ("reported_by", "张伟", "region_code", "registration_id", 'source": "family'):
            assert outside_scope not in everything
    await producer.stop()


async def test_a_delivery_whose_last_answer_went_unrecorded_is_failed_not_sent_again(
    tmp_path: Path, broker: EmbeddedBroker
) -> None:
    """The process stopped after sending a delivery's last allowed attempt and before recording the answer: on the
    next start the delivery has had its tries, so it is marked failed (an operator may re-send it), not sent again."""
    settings = GatewaySettings(
        service_name=f"gateway-{uuid.uuid4().hex[:8]}", data_dir=tmp_path, dev_issuer=True,
        kafka_bootstrap=broker.bootstrap, webhook_max_attempts=3, delivery_poll_s=0.05,
        webhook_allow_private_networks=True,
    )  # fmt: skip
    pensions = {"authorization": f"Bearer {issue_dev_token(settings, role=Role.DEPARTMENT, subject='dept-pensions')}"}
    receiver = Receiver()
    app = build_app(settings)
    async with live(receiver.app()) as hook, live(app, lifespan="on") as gateway, \
            httpx.AsyncClient(base_url=gateway.url, timeout=10) as api:  # fmt: skip
        created = await api.post("/subscriptions", headers=pensions, json={
            "event_types": [DEATH], "filter": {"region_code": "999999"}, "webhook_url": f"{hook.url}/hook"})  # fmt: skip
        assert created.status_code == 201, created.text
        sub_id = created.json()["id"]
        now = datetime.now(UTC)
        async with app.state.service.sessions() as session:  # as a killed gateway left it
            entry = FeedEntry(subscription_id=sub_id, event_id=str(uuid.uuid4()), type=DEATH, payload="{}",
                              created_at=now)  # fmt: skip
            session.add(entry)
            await session.flush()
            assert entry.seq is not None
            session.add(Delivery(id=new_id(), subscription_id=sub_id, seq=entry.seq, state="pending", attempts=3,
                                 next_attempt_at=now))  # fmt: skip
            await session.commit()

        async def failed() -> list[dict[str, Any]]:
            got = await api.get(f"/subscriptions/{sub_id}/deliveries", params={"state": "failed"}, headers=pensions)
            return list(got.json())

        async def marked_failed() -> bool:
            return bool(await failed())

        await eventually(marked_failed, timeout=60, what="the delivery to be marked failed")
        [failed_delivery] = await failed()
        assert failed_delivery["attempts"] == 3 and "not recorded" in failed_delivery["last_error"]
        assert receiver.requests == receiver.unsigned == 0, "not sent a fourth time"
