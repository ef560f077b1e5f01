"""Marriage registration against the real broker and SQLite: age limits, bigamy (also racing), remarriage,
marital status as a citizen and a caseworker see it, bad input that writes nothing, events on the bus."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer, TopicPartition
from sqlalchemy import func
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from civic.app import Service
from civic.auth import Principal, Role, identity_headers
from civic.broker import EmbeddedBroker
from civic.config import Settings
from civic.outbox import OutboxRecord
from contracts.marriage import MarriageRegistered
from services.marriage.main import build_app
from services.marriage.models import Certificate, Marriage
from tests.apps import serving
from tests.conftest import eventually
from tests.factories import resident_id
from tests.kit import settings_for

TODAY = date(2026, 6, 15)
OFFICE = "330683"


@dataclass
class MovableClock:
    """The registry's calendar, moved by the test."""

    today: date = TODAY

    def __call__(self) -> date:
        return self.today


@dataclass
class Registry:
    client: httpx.AsyncClient
    settings: Settings
    service: Service
    clock: MovableClock
    caseworker: dict[str, str] = field(default_factory=dict)

    def citizen(self, rid: str) -> dict[str, str]:
        return identity_headers(Principal(subject=rid, role=Role.CITIZEN), self.settings)

    async def marry(self, a: str, b: str, **changes: Any) -> httpx.Response:
        return await self.client.post("/marriages", json=marriage_body(a, b, **changes), headers=self.caseworker)

    async def drained(self) -> None:
        """Wait until the relay has published every event written so far."""

        async def empty() -> bool:
            async with AsyncSession(self.service.engine) as s:
                return int((await s.exec(select(func.count()).select_from(OutboxRecord))).one()) == 0

        await eventually(empty, what="the marriage outbox published")

    async def status_of(self, rid: str) -> dict[str, Any]:
        response = await self.client.get(f"/people/{rid}/marital-status", headers=self.caseworker)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body


@asynccontextmanager
async def registry(broker: EmbeddedBroker, tmp_path: Path, **overrides: object) -> AsyncIterator[Registry]:
    settings = settings_for(f"marriage-{uuid.uuid4().hex[:8]}", tmp_path, broker.bootstrap, **overrides)
    clock = MovableClock()
    app = build_app(settings, clock=clock)
    async with serving(app, "marriage") as client:
        caseworker = identity_headers(Principal(subject="cw-1", role=Role.CASEWORKER, domain="marriage"), settings)
        yield Registry(client, settings, app.state.service, clock, caseworker)


def man(born: date = date(1995, 3, 1)) -> str:
    return resident_id(born, region="330683")


def woman(born: date = date(1996, 4, 2)) -> str:
    return resident_id(born, region="330683", female=True)


def marriage_body(a: str, b: str, **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "resident_id": a,
        "name": "张伟",
        "spouse_resident_id": b,
        "spouse_name": "李娜",
        "office_code": OFFICE,
        "both_present": True,
    }
    body.update(changes)
    return body


async def written(service: Service) -> tuple[int, int, int]:
    """Marriages, certificates, and registration events not yet published. Only registrations' events: the
    service's consumers may be writing events of their own meanwhile (catching up on other tests' deaths)."""
    async with AsyncSession(service.engine) as s:
        marriages = (await s.exec(select(func.count()).select_from(Marriage))).one()
        certificates = (await s.exec(select(func.count()).select_from(Certificate))).one()
        events = (await s.exec(select(func.count()).select_from(OutboxRecord)
                               .where(OutboxRecord.event_type == MarriageRegistered.type_name))).one()  # fmt: skip
    return int(marriages), int(certificates), int(events)


async def events_about(
    broker: EmbeddedBroker, people: set[str], count: int, topic: str = "civic.marriage", timeout: float = 60.0
) -> list[tuple[str, dict[str, Any]]]:
    """Every event on ``topic`` whose data names one of ``people`` (at least ``count``): (type, data), in topic
    order per key. Read by partition assignment up to the end offsets, without a consumer group (joining one
    costs seconds), so call it once the outbox has drained."""
    consumer = AIOKafkaConsumer(bootstrap_servers=broker.bootstrap, enable_auto_commit=False)
    await consumer.start()
    found: list[tuple[str, dict[str, Any]]] = []
    ids: set[bytes] = set()  # a relay may publish an event again (same id) when its delete did not commit
    try:
        async with asyncio.timeout(timeout):
            await consumer.topics()  # loads the topic's metadata
            partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
            consumer.assign(partitions)
            await consumer.seek_to_beginning(*partitions)
            while True:
                end = await consumer.end_offsets(partitions)
                while any(
                    position < end[tp] for tp, position in [(tp, await consumer.position(tp)) for tp in partitions]
                ):
                    for records in (await consumer.getmany(timeout_ms=200)).values():
                        for record in records:
                            data, headers = json.loads(record.value or b"{}"), dict(record.headers)
                            if {data.get("resident_id"), data.get("spouse_resident_id")} & people and \
                                    headers["ce_id"] not in ids:  # fmt: skip
                                ids.add(headers["ce_id"])
                                found.append((headers["ce_type"].decode(), data))
                if len(found) >= count:
                    break
                await asyncio.sleep(0.05)
    finally:
        await consumer.stop()
    return found


async def test_a_marriage_is_registered_with_certificates_and_events(broker: EmbeddedBroker, tmp_path: Path) -> None:
    a, b = man(), woman()
    async with registry(broker, tmp_path) as reg:
        response = await reg.marry(a, b)
        assert response.status_code == 201, response.text
        marriage = response.json()
        assert marriage["registered_on"] == TODAY.isoformat()
        assert marriage["office_code"] == OFFICE
        assert marriage["remarriage"] is False
        numbers = {c["number"] for c in marriage["certificates"]}
        assert len(numbers) == 2 and all(n.startswith(f"J{OFFICE}-2026-") for n in numbers)

        own = await reg.client.get(f"/people/{a}/marital-status", headers=reg.citizen(a))
        assert own.status_code == 200
        assert own.json()["status"] == "married"
        assert own.json()["resident_id"] == a
        assert "*" * 8 in own.json()["spouse_resident_id"], "the spouse's ID is masked for a citizen"
        assert (await reg.status_of(b))["spouse_resident_id"] == a, "caseworkers see whole IDs"

        other = await reg.client.get(f"/people/{b}/marital-status", headers=reg.citizen(a))
        assert other.status_code == 404, "a citizen asks about themselves only"
        theirs = await reg.client.get(f"/marriages/{marriage['id']}", headers=reg.citizen(man()))
        assert theirs.status_code == 404
        mine = await reg.client.get(f"/marriages/{marriage['id']}", headers=reg.citizen(b))
        assert [c["holder_resident_id"] for c in mine.json()["certificates"]] == [b]
        await reg.drained()

    seen = await events_about(broker, {a, b}, 3)
    types = sorted(t for t, _ in seen)
    assert types == ["civic.marriage.marital-status-changed.v1"] * 2 + ["civic.marriage.marriage-registered.v1"]
    registered = next(d for t, d in seen if t.endswith("marriage-registered.v1"))
    assert registered == {
        "resident_id": a,
        "spouse_resident_id": b,
        "registration_id": marriage["id"],
        "registered_on": TODAY.isoformat(),
    }


async def test_legal_age_is_checked_on_the_registration_day(broker: EmbeddedBroker, tmp_path: Path) -> None:
    young_man = man(date(2004, 6, 16))  # 22 tomorrow
    young_woman = woman(date(2006, 6, 15))  # 20 today
    async with registry(broker, tmp_path) as reg:
        refused = await reg.marry(young_man, young_woman)
        assert refused.status_code == 422
        assert refused.headers["content-type"] == "application/problem+json"
        assert refused.json()["type"].endswith("/under-legal-age")
        assert refused.json()["field"] == "resident_id"
        assert "1047" in refused.json()["detail"]
        assert await written(reg.service) == (0, 0, 0)
        reg.clock.today = date(2026, 6, 16)
        assert (await reg.marry(young_man, young_woman)).status_code == 201


BAD_INPUT: list[tuple[dict[str, Any], str, str]] = [
    ({"spouse_resident_id": "33068319960402002X"}, "spouse_resident_id", "validation-error"),
    ({"office_code": "12345"}, "office_code", "validation-error"),
    ({"both_present": False}, "both_present", "parties-not-present"),
    ({"witness": "x"}, "witness", "validation-error"),
    ({"name": ""}, "name", "validation-error"),
]


async def test_bad_input_names_the_field_and_writes_nothing(broker: EmbeddedBroker, tmp_path: Path) -> None:
    # One app for all cases: starting and stopping an app with a consumer costs about two seconds.
    async with registry(broker, tmp_path) as reg:
        for changes, field, kind in BAD_INPUT:
            response = await reg.marry(man(), woman(), **changes)
            assert response.status_code == 422, response.text
            assert response.headers["content-type"] == "application/problem+json"
            assert response.json()["type"].endswith("/" + kind)
            assert response.json()["field"] == field
        a = man()
        same = await reg.marry(a, a)
        assert same.status_code == 422
        assert same.json()["type"].endswith("/same-person")
        assert same.json()["field"] == "spouse_resident_id"
        assert a not in same.text, "the problem does not echo the resident ID"
        assert (await reg.client.post("/marriages", json=marriage_body(a, woman()))).status_code == 401
        as_citizen = await reg.client.post("/marriages", json=marriage_body(a, woman()), headers=reg.citizen(a))
        assert as_citizen.status_code == 403
        assert await written(reg.service) == (0, 0, 0)
        status = await reg.status_of(a)
        assert status["status"] == "unmarried" and status["marriage_registration_id"] is None
        bad = await reg.client.get("/people/330683199503010011/marital-status", headers=reg.caseworker)
        assert bad.status_code == 422 and bad.json()["field"] == "resident_id"


async def test_bigamy_is_refused(broker: EmbeddedBroker, tmp_path: Path) -> None:
    a, b, c = man(), woman(), woman()
    async with registry(broker, tmp_path) as reg:
        assert (await reg.marry(a, b)).status_code == 201
        before = await written(reg.service)
        again = await reg.marry(c, a)
        assert again.status_code == 409
        assert again.json()["type"].endswith("/already-married")
        assert again.json()["field"] == "spouse_resident_id"
        assert (await written(reg.service))[:2] == before[:2]
        assert (await reg.status_of(c))["status"] == "unmarried"


async def test_two_registrations_racing_for_the_same_person_one_wins(broker: EmbeddedBroker, tmp_path: Path) -> None:
    a, b, c = woman(), man(), man()
    async with registry(broker, tmp_path) as reg:
        results = await asyncio.gather(reg.marry(b, a), reg.marry(c, a))
        assert sorted(r.status_code for r in results) == [201, 409], [r.text for r in results]
        winner = next(r.json() for r in results if r.status_code == 201)
        assert (await reg.status_of(a))["marriage_registration_id"] == winner["id"]
        loser = c if winner["resident_id"] == b else b
        assert (await reg.status_of(loser))["status"] == "unmarried"
        assert (await written(reg.service))[:2] == (1, 2)
