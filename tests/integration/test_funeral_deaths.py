"""Death registration and revocation against the real broker and SQLite: one death reported twice (also racing)
is one registration and one event; reports that disagree are flagged for a caseworker; who may read what;
revocation by a caseworker publishes the revoking event, twice is refused, and the person may be registered again."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
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
from services.funeral.main import build_app
from tests.apps import serving
from tests.conftest import eventually
from tests.factories import resident_id
from tests.kit import settings_for

TODAY = date(2026, 11, 20)


@dataclass
class Funeral:
    client: httpx.AsyncClient
    settings: Settings
    service: Service

    @property
    def caseworker(self) -> dict[str, str]:
        return identity_headers(Principal(subject="cw-1", role=Role.CASEWORKER, domain="funeral"), self.settings)

    def citizen(self, rid: str) -> dict[str, str]:
        return identity_headers(Principal(subject=rid, role=Role.CITIZEN), self.settings)

    def as_role(self, role: Role, domain: str | None = None) -> dict[str, str]:
        return identity_headers(Principal(subject=f"{role}-1", role=role, domain=domain), self.settings)

    async def report(self, headers: dict[str, str], **body: Any) -> httpx.Response:
        return await self.client.post("/deaths", json=body, headers=headers)

    async def revoke(self, registration_id: str, reason: str = "registered in error") -> httpx.Response:
        return await self.client.post(
            f"/deaths/{registration_id}/revocation", json={"reason": reason}, headers=self.caseworker
        )

    async def drained(self) -> None:
        async def empty() -> bool:
            async with AsyncSession(self.service.engine) as s:
                return int((await s.exec(select(func.count()).select_from(OutboxRecord))).one()) == 0

        await eventually(empty, what="the funeral outbox published")


@asynccontextmanager
async def funeral(broker: EmbeddedBroker, tmp_path: Path, today: date = TODAY) -> AsyncIterator[Funeral]:
    settings = settings_for(f"funeral-{uuid.uuid4().hex[:8]}", tmp_path, broker.bootstrap)
    app = build_app(settings, clock=lambda: today)
    async with serving(app, "funeral") as client:
        yield Funeral(client, settings, app.state.service)


def death(rid: str, **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "resident_id": rid,
        "date_of_death": "2026-11-02",
        "reported_by": {"name": "王芳", "relation": "子女"},
    }
    body.update(changes)
    return body


async def published(broker: EmbeddedBroker, people: set[str], topic: str = "civic.funeral") -> list[dict[str, Any]]:
    """Every event on ``topic`` about ``people`` (read to the end of the topic): type, headers and data."""
    consumer = AIOKafkaConsumer(bootstrap_servers=broker.bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in (consumer.partitions_for_topic(topic) or set())]
        if not partitions:
            partitions = [TopicPartition(topic, p) for p in (await _partitions(consumer, topic))]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        end = await consumer.end_offsets(partitions)
        seen: list[dict[str, Any]] = []
        ids: set[str] = set()  # a relay may publish an event again (same id) when its delete did not commit
        async with asyncio.timeout(60):
            while [tp for tp in partitions if await consumer.position(tp) < end[tp]]:
                batch = await consumer.getmany(timeout_ms=200)
                for records in batch.values():
                    for r in records:
                        data = json.loads(r.value or b"{}")
                        headers = {k: v.decode() for k, v in r.headers}
                        if data.get("resident_id") in people and headers["ce_id"] not in ids:
                            ids.add(headers["ce_id"])
                            seen.append({"type": headers["ce_type"], "headers": headers, "data": data})
        return seen
    finally:
        await consumer.stop()


async def _partitions(consumer: AIOKafkaConsumer, topic: str) -> set[int]:
    await consumer._client.force_metadata_update()
    return consumer.partitions_for_topic(topic) or set()


def types(events: list[dict[str, Any]]) -> list[str]:
    return [e["type"].removeprefix("civic.funeral.") for e in events]


async def test_one_death_reported_twice_is_one_registration_and_one_event(
    broker: EmbeddedBroker, tmp_path: Path
) -> None:
    deceased, son, racing = resident_id(date(1940, 5, 6)), resident_id(date(1968, 1, 1)), resident_id(date(1939, 2, 3))
    async with funeral(broker, tmp_path) as f:
        first = await f.report(f.citizen(son), **death(deceased, place_of_death="家中"))
        assert first.status_code == 201, first.text
        registration = first.json()
        assert registration["resident_id"] == deceased[:6] + "********" + deceased[14:]
        assert (registration["source"], registration["report"]["outcome"]) == ("family", "registered")
        assert registration["region_code"] == deceased[:6], "by default the region in the resident ID"

        # The hospital reports the same death, with the medical certificate: the same registration, completed.
        hospital = await f.report(
            f.caseworker,
            **death(
                deceased,
                reported_by={"name": "市立医院", "relation": "医院"},
                medical_certificate_number="MC-2026-0042",
            ),
        )
        assert hospital.status_code == 200, hospital.text
        again = hospital.json()
        assert again["id"] == registration["id"] and again["journey_id"] == registration["journey_id"]
        assert again["report"]["outcome"] == "same-death"
        assert again["medical_certificate_number"] == "MC-2026-0042"
        assert not again["needs_review"]

        # Two first reports of another person at the same moment: one registers it, the other finds it.
        both = await asyncio.gather(
            f.report(f.caseworker, **death(racing, reported_by={"name": "社区", "relation": "社区"})),
            f.report(f.caseworker, **death(racing, reported_by={"name": "派出所", "relation": "派出所"})),
        )
        assert sorted(r.status_code for r in both) == [200, 201], [r.text for r in both]
        assert both[0].json()["id"] == both[1].json()["id"]

        reports = await f.client.get(f"/deaths/{registration['id']}/reports", headers=f.caseworker)
        assert [(r["source"], r["outcome"]) for r in reports.json()] == [("family", "registered"),
                                                                          ("hospital", "same-death")]  # fmt: skip
        await f.drained()

    events = await published(broker, {deceased, racing})
    registered = [e for e in events if e["type"] == "civic.funeral.death-registered.v1"]
    assert sorted(e["data"]["resident_id"] for e in registered) == sorted([deceased, racing]), types(events)
    mine = next(e for e in registered if e["data"]["resident_id"] == deceased)
    assert mine["data"]["registration_id"] == registration["id"]
    assert (mine["data"]["source"], mine["data"]["place_of_death"]) == ("family", "家中")
    assert mine["headers"]["ce_correlationid"] == registration["journey_id"]
    assert deceased not in mine["headers"]["ce_subject"], "the key is a pseudonym, never the ID"


async def test_reports_that_disagree_are_flagged_for_a_caseworker_not_merged(
    broker: EmbeddedBroker, tmp_path: Path
) -> None:
    deceased, daughter, stranger = (
        resident_id(date(1941, 3, 3)),
        resident_id(date(1970, 2, 2), female=True),
        (resident_id(date(1980, 1, 1))),
    )
    async with funeral(broker, tmp_path) as f:
        first = (await f.report(f.caseworker, **death(deceased, medical_certificate_number="MC-1"))).json()
        other = await f.report(
            f.citizen(daughter),
            **death(deceased, date_of_death="2026-11-05", reported_by={"name": "刘洋", "relation": "女儿"}),
        )
        assert other.status_code == 200, other.text
        flagged = other.json()
        assert flagged["id"] == first["id"]
        assert flagged["date_of_death"] == "2026-11-02", "the registration is not changed by a disagreeing report"
        assert flagged["needs_review"] is True
        assert flagged["report"] == {**flagged["report"], "outcome": "conflicting", "differences": ["date_of_death"]}

        queue = (await f.client.get("/deaths", params={"needs_review": "true"}, headers=f.caseworker)).json()
        assert [r["id"] for r in queue] == [first["id"]]

        # The daughter reported it, so she may read it; someone else may not even learn that it exists.
        assert (await f.client.get(f"/deaths/{first['id']}", headers=f.citizen(daughter))).status_code == 200
        assert [r["id"] for r in (await f.client.get("/deaths", headers=f.citizen(daughter))).json()] == [first["id"]]
        hidden = await f.client.get(f"/deaths/{first['id']}", headers=f.citizen(stranger))
        assert hidden.status_code == 404
        assert (await f.client.get("/deaths", headers=f.citizen(stranger))).json() == []
        assert (await f.client.get(f"/deaths/{first['id']}/reports", headers=f.citizen(daughter))).status_code == 403

        resolved = await f.client.post(
            f"/deaths/{first['id']}/review", json={"resolution": "hospital record checked"}, headers=f.caseworker
        )
        assert resolved.status_code == 200 and resolved.json()["needs_review"] is False
        reports = (await f.client.get(f"/deaths/{first['id']}/reports", headers=f.caseworker)).json()
        assert reports[1]["resolution"] == "hospital record checked"
        twice = await f.client.post(f"/deaths/{first['id']}/review", json={"resolution": "x"}, headers=f.caseworker)
        assert twice.status_code == 409

        # A citizen reports as family only, and never their own death.
        own = await f.report(f.citizen(stranger), **death(stranger))
        assert (own.status_code, own.json()["type"].split("/")[-1]) == (422, "reporter-is-deceased")
        posing = await f.report(f.citizen(stranger), **death(resident_id(date(1930, 1, 1)), source="hospital"))
        assert (posing.status_code, posing.json()["field"]) == (422, "source")


async def test_revocation_publishes_the_revoking_event_and_the_person_may_be_registered_again(
    broker: EmbeddedBroker, tmp_path: Path
) -> None:
    deceased, son = resident_id(date(1942, 4, 4)), resident_id(date(1966, 6, 6))
    async with funeral(broker, tmp_path) as f:
        registration = (await f.report(f.citizen(son), **death(deceased))).json()

        by_family = await f.client.post(
            f"/deaths/{registration['id']}/revocation", json={"reason": "he is alive"}, headers=f.citizen(son)
        )
        assert by_family.status_code == 403, "only a funeral caseworker revokes"
        no_reason = await f.client.post(
            f"/deaths/{registration['id']}/revocation", json={"reason": ""}, headers=f.caseworker
        )
        assert (no_reason.status_code, no_reason.json()["field"]) == (422, "reason")
        unknown = await f.revoke(str(uuid.uuid4()))
        assert unknown.status_code == 404
        assert unknown.headers["content-type"] == "application/problem+json"

        revoked = await f.revoke(registration["id"], "the hospital confused two patients")
        assert revoked.status_code == 200, revoked.text
        assert (revoked.json()["status"], revoked.json()["revocation_reason"]) == (
            "revoked",
            "the hospital confused two patients",
        )
        twice = await f.revoke(registration["id"])
        assert (twice.status_code, twice.json()["type"].split("/")[-1]) == (409, "already-revoked")

        # Years later he really dies: a new registration, a new journey.
        later = await f.report(f.citizen(son), **death(deceased, date_of_death="2026-11-18"))
        assert later.status_code == 201, later.text
        assert later.json()["id"] != registration["id"]
        assert later.json()["journey_id"] != registration["journey_id"]
        assert (await f.client.get(f"/deaths/{registration['id']}", headers=f.citizen(son))).json()["status"] == (
            "revoked"
        )
        await f.drained()

    events = await published(broker, {deceased})
    flow = [(e["type"].removeprefix("civic.funeral."), e["data"].get("registration_id")) for e in events]
    core = [(t, r) for t, r in flow if t.startswith("death-")]
    assert core == [
        ("death-registered.v1", registration["id"]),
        ("death-revoked.v1", registration["id"]),
        ("death-registered.v1", later.json()["id"]),
    ], flow
    revoked_event = next(e for e in events if e["type"].endswith("death-revoked.v1"))
    assert revoked_event["data"]["reason"] == "the hospital confused two patients"
    assert revoked_event["headers"]["ce_correlationid"] == registration["journey_id"], "compensation of that journey"
