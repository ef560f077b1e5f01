"""The naming workflow against the real broker and SQLite, with a clock the test moves: expert review, public
notice with objections up to its last day, no decision before it ends, the deadline job run twice, publication,
search by name, pinyin and initials; names alike in one division refused with nothing written; a rename taking
effect on a later day publishes one RoadRenamed and the smart door plate shows the new name."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta
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
from services.placenames.main import build_app
from services.placenames.models import NamingCase, Objection, Place
from tests.apps import serving
from tests.conftest import eventually
from tests.factories import resident_id
from tests.kit import settings_for

DAY_0 = date(2026, 6, 15)
HUANCUI_STREET = "371002001"  # 环翠楼街道, 威海市环翠区: Weihai's notice period is 20 days (policy fixture)
JINGYUAN_STREET = "371002002"
SHENGZHOU_STREET = "330683001"  # 剡湖街道, 嵊州市: the national 30 days
TOPIC = "civic.placenames"


def day(n: int) -> date:
    return DAY_0 + timedelta(days=n)


@dataclass
class MovableClock:
    today: date = DAY_0

    def __call__(self) -> date:
        return self.today


@dataclass
class Office:
    client: httpx.AsyncClient
    settings: Settings
    service: Service
    clock: MovableClock
    caseworker: dict[str, str] = field(default_factory=dict)

    def citizen(self, rid: str) -> dict[str, str]:
        return identity_headers(Principal(subject=rid, role=Role.CITIZEN), self.settings)

    async def post(self, path: str, body: dict[str, Any] | None = None, headers: dict[str, str] | None = None) -> Any:
        return await self.client.post(path, json=body, headers=headers or self.caseworker)

    async def get(self, path: str, **params: Any) -> Any:
        response = await self.client.get(path, params=params, headers=self.caseworker)
        assert response.status_code == 200, response.text
        return response.json()

    async def propose(self, name: str, pinyin: str, division: str = HUANCUI_STREET, kind: str = "road") -> Any:
        body = {"action": "name", "kind": kind, "division_code": division, "name": name, "pinyin": pinyin}
        return await self.post("/naming-cases", body | {"origin": "因新华书店得名"})

    async def review(self, case_id: str) -> dict[str, Any]:
        for expert in ("王教授", "李研究员"):
            opinion = {"expert": expert, "supports": True, "opinion": "名称规范，寓意良好"}
            assert (await self.post(f"/naming-cases/{case_id}/opinions", opinion)).status_code == 201
        notice = await self.post(f"/naming-cases/{case_id}/notice")
        assert notice.status_code == 200, notice.text
        body: dict[str, Any] = notice.json()
        return body

    async def name_road(self, name: str, pinyin: str, division: str = HUANCUI_STREET) -> str:
        """The whole workflow, no objections; the clock ends after the notice period."""
        proposed = await self.propose(name, pinyin, division)
        assert proposed.status_code == 201, proposed.text
        case = await self.review(proposed.json()["id"])
        self.clock.today = date.fromisoformat(case["notice_until"]) + timedelta(days=1)
        decided = await self.post(f"/naming-cases/{case['id']}/decision", {"approved": True})
        assert decided.status_code == 200 and decided.json()["status"] == "effective", decided.text
        code: str = case["place_code"]
        return code

    async def drained(self) -> None:
        async def empty() -> bool:
            async with AsyncSession(self.service.engine) as s:
                return int((await s.exec(select(func.count()).select_from(OutboxRecord))).one()) == 0

        await eventually(empty, what="the placenames outbox published")


@asynccontextmanager
async def office(broker: EmbeddedBroker, tmp_path: Path) -> AsyncIterator[Office]:
    settings = settings_for(f"placenames-{uuid.uuid4().hex[:8]}", tmp_path, broker.bootstrap)
    clock = MovableClock()
    app = build_app(settings, clock=clock)
    async with serving(app, "placenames") as client:
        caseworker = identity_headers(Principal(subject="cw-1", role=Role.CASEWORKER, domain="placenames"), settings)
        yield Office(client, settings, app.state.service, clock, caseworker)


async def events_about(broker: EmbeddedBroker, subject: str) -> list[tuple[str, dict[str, Any]]]:
    """Every event on civic.placenames keyed by ``subject``, read from the beginning up to the current end."""
    consumer = AIOKafkaConsumer(bootstrap_servers=broker.bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        await consumer.topics()  # loads the cluster metadata
        partitions = [TopicPartition(TOPIC, p) for p in sorted(consumer.partitions_for_topic(TOPIC) or [])]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        end = await consumer.end_offsets(partitions)
        found: list[tuple[str, dict[str, Any]]] = []
        async with asyncio.timeout(60):
            while [tp for tp in partitions if await consumer.position(tp) < end[tp]]:
                for records in (await consumer.getmany(timeout_ms=200)).values():
                    for record in records:
                        headers = {k: v.decode() for k, v in record.headers}
                        if headers.get("ce_subject") == subject:
                            found.append((headers["ce_type"], json.loads(record.value or b"{}")))
        return found
    finally:
        await consumer.stop()


async def counts(service: Service) -> tuple[int, int, int]:
    async with AsyncSession(service.engine) as s:
        cases = (await s.exec(select(func.count()).select_from(NamingCase))).one()
        places = (await s.exec(select(func.count()).select_from(Place))).one()
        objections = (await s.exec(select(func.count()).select_from(Objection))).one()
        return int(cases), int(places), int(objections)


async def test_naming_with_expert_review_objections_and_deadlines(broker: EmbeddedBroker, tmp_path: Path) -> None:
    async with office(broker, tmp_path) as o:
        citizen = o.citizen(resident_id(date(1980, 5, 1), region="371002"))
        assert (await o.post("/naming-cases", {"action": "name"}, citizen)).status_code == 403

        proposed = await o.propose("新华路", "xīn huá lù")
        assert proposed.status_code == 201, proposed.text
        case_id = proposed.json()["id"]
        early = await o.post(f"/naming-cases/{case_id}/notice")
        assert early.status_code == 422 and early.json()["type"].endswith("/expert-review-incomplete")

        case = await o.review(case_id)
        assert (case["status"], case["notice_from"], case["notice_until"]) == ("in-notice", str(day(0)), str(day(19)))

        o.clock.today = day(19)  # the last day of the notice: objections still received, no decision yet
        objection = await o.post(f"/naming-cases/{case_id}/objections", {"text": "与老街名易混淆"}, citizen)
        assert objection.status_code == 201, objection.text
        before = await counts(o.service)
        too_soon = await o.post(f"/naming-cases/{case_id}/decision", {"approved": True, "reasons": "…"})
        assert too_soon.status_code == 422, too_soon.text
        assert too_soon.json()["type"].endswith("/public-notice-not-over") and too_soon.json()["field"] == "decision"
        assert (await o.get("/names", q="新华"))["total"] == 0, "nothing is published before the notice ends"

        o.clock.today = day(20)
        late = await o.post(f"/naming-cases/{case_id}/objections", {"text": "迟到的意见"}, citizen)
        assert late.status_code == 422 and late.json()["type"].endswith("/public-notice-over")
        assert await counts(o.service) == before, "refusals write nothing"
        first = (await o.post("/naming-cases/deadlines")).json()
        assert first["notices_ended"] == [case_id]
        assert (await o.post("/naming-cases/deadlines")).json()["notices_ended"] == [], "the job is safe to run twice"
        assert (await o.get(f"/naming-cases/{case_id}"))["status"] == "awaiting-decision"

        unanswered = await o.post(f"/naming-cases/{case_id}/decision", {"approved": True})
        assert unanswered.status_code == 422 and unanswered.json()["field"] == "reasons"
        decided = await o.post(
            f"/naming-cases/{case_id}/decision", {"approved": True, "reasons": "经核查不易混淆，予以批准"}
        )
        assert decided.status_code == 200, decided.text
        assert (decided.json()["status"], decided.json()["effective_on"]) == ("effective", str(day(20)))
        code = decided.json()["place_code"]

        for query in ({"q": "新华"}, {"q": "华路"}, {"q": "华"}, {"q": "新华路"}, {"q": "xhl"}, {"q": "XinHua"},
                      {"prefix": "新"}, {"q": code}):  # fmt: skip
            found = await o.get("/names", **query, division="371000", kind="road")
            assert [n["code"] for n in found["items"]] == [code], query
        assert (await o.get("/names", q="新路"))["total"] == 0, "both characters, but not side by side"
        as_citizen = await o.client.get("/names", params={"q": "xhl"}, headers=citizen)
        assert as_citizen.status_code == 200 and as_citizen.json()["items"][0]["name"] == "新华路"
        assert (await o.get("/names", q="xhl", division="330683"))["total"] == 0
        name = await o.get(f"/names/{code}")
        assert name["division_path"] == ["山东省", "威海市", "环翠区", "环翠楼街道"] and name["initials"] == "XHL"

        before = await counts(o.service)
        again = await o.propose("新 华 路", "xin hua lu", JINGYUAN_STREET)  # same county, another street
        assert again.status_code == 422, again.text
        assert again.json()["type"].endswith("/name-already-standard") and again.json()["field"] == "name"
        assert await counts(o.service) == before, "a refused proposal writes nothing"
        elsewhere = await o.propose("新华路", "xin hua lu", SHENGZHOU_STREET)
        assert elsewhere.status_code == 201, "another county may have its own 新华路"
        assert elsewhere.json()["region_code"] == "330683"

        await o.drained()
        published = [e for e in await events_about(broker, code) if e[0].endswith("name-published.v1")]
        assert len(published) == 1 and published[0][1]["name"] == "新华路"


async def test_a_rename_publishes_one_event_and_the_smart_plate_shows_the_new_name(
    broker: EmbeddedBroker, tmp_path: Path
) -> None:
    async with office(broker, tmp_path) as o:
        road = await o.name_road("海滨路", "hai bin lu")
        plate = await o.post(f"/roads/{road}/plates", {"number": 12})
        assert plate.status_code == 201, plate.text
        assert plate.json()["full_address"] == "山东省威海市环翠区环翠楼街道海滨路12号"
        taken = await o.post(f"/roads/{road}/plates", {"number": 12})
        assert taken.status_code == 409 and taken.json()["type"].endswith("/door-number-taken")
        assert taken.json()["field"] == "number"
        smart = plate.json()["smart_code"]
        service = {"name": "海滨社区卫生服务站", "category": "卫生室", "phone": "0631-5200000"}
        assert (await o.post(f"/plates/{plate.json()['id']}/services", service)).status_code == 201

        proposed = await o.post(
            "/naming-cases", {"action": "rename", "place_code": road, "name": "幸福路", "pinyin": "xing fu lu"}
        )
        assert proposed.status_code == 201, proposed.text
        case = await o.review(proposed.json()["id"])
        o.clock.today = date.fromisoformat(case["notice_until"]) + timedelta(days=1)
        takes_effect = o.clock.today + timedelta(days=10)
        decided = await o.post(
            f"/naming-cases/{case['id']}/decision", {"approved": True, "effective_on": str(takes_effect)}
        )
        assert decided.status_code == 200 and decided.json()["status"] == "approved", decided.text
        assert (await o.get(f"/smart-plates/{smart}"))["address"] == "海滨路12号", "not before it takes effect"

        o.clock.today = takes_effect
        assert (await o.post("/naming-cases/deadlines")).json()["took_effect"] == [case["id"]]
        assert (await o.post("/naming-cases/deadlines")).json()["took_effect"] == []

        citizen = o.citizen(resident_id(date(1970, 1, 1), region="371002"))
        resolved = await o.client.get(f"/smart-plates/{smart.lower()}", headers=citizen)
        assert resolved.status_code == 200, resolved.text
        assert resolved.json()["address"] == "幸福路12号"
        assert [s["name"] for s in resolved.json()["services"]] == ["海滨社区卫生服务站"]
        assert [d["code"] for d in resolved.json()["divisions"]] == ["370000", "371000", "371002", HUANCUI_STREET]
        name = await o.get(f"/names/{road}")
        assert (name["name"], name["former_names"]) == ("幸福路", ["海滨路"])
        assert (await o.get("/names", q="海滨"))["total"] == 0
        freed = await o.propose("海滨路", "hai bin lu", JINGYUAN_STREET)
        assert freed.status_code == 201, "the old name is free again in the division"

        await o.drained()
        renamed = [data for kind, data in await events_about(broker, road) if kind.endswith("road-renamed.v1")]
        assert renamed == [
            {
                "road_code": road,
                "region_code": "371002",
                "old_name": "海滨路",
                "new_name": "幸福路",
                "effective_on": str(takes_effect),
            }
        ]
        stats = await o.get("/statistics", year=takes_effect.year, region_code="371000")
        assert (stats["roads_named"], stats["roads_renamed"], stats["roads_cancelled"]) == (1, 1, 0)
