"""Eldercare through its API on the real broker and SQLite: elders registered, the birthday job granting the age
allowance without application (once, catching up a missed day, 29 February), the monthly payment run, roles,
and an allowance refused to someone under 80."""

from __future__ import annotations

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
from civic.clock import china_today
from civic.config import Settings
from civic.identity import mask_in_text
from civic.outbox import OutboxRecord
from services.eldercare.main import build_app
from services.eldercare.models import Allowance
from tests.apps import serving
from tests.conftest import eventually
from tests.factories import resident_id
from tests.kit import settings_for

CASEWORKER = Principal(subject="cw-1", role=Role.CASEWORKER, domain="eldercare")


class Eldercare:
    def __init__(self, api: httpx.AsyncClient, settings: Settings, service: Service, broker: EmbeddedBroker,
                 clock: MovableClock | None = None) -> None:  # fmt: skip
        self.api, self.settings, self.service, self.broker, self.clock = api, settings, service, broker, clock
        self.cw = identity_headers(CASEWORKER, settings)

    @property
    def today(self) -> date:
        """The service's day (the test's movable clock)."""
        assert self.clock is not None, "an Eldercare made with a fixed clock: use that day"
        return self.clock.today

    def citizen(self, rid: str) -> dict[str, str]:
        return identity_headers(Principal(subject=rid, role=Role.CITIZEN), self.settings)

    async def register(self, rid: str, region: str = "371002", **changes: Any) -> httpx.Response:
        body = {"resident_id": rid, "region_code": region, "community": "环翠区鲸园街道", "living_situation": "alone",
                **changes}  # fmt: skip
        return await self.api.post("/elders", json=body, headers=self.cw)

    async def run_birthday_job(self, on: date) -> list[str]:
        response = await self.api.post("/age-allowance-runs", json={"on": on.isoformat()}, headers=self.cw)
        assert response.status_code == 200, response.text
        return list(response.json()["granted"])

    async def allowances(self, rid: str) -> list[dict[str, Any]]:
        response = await self.api.get(f"/elders/{rid}/allowances", headers=self.cw)
        assert response.status_code == 200, response.text
        return list(response.json())

    async def published(self, people: set[str], topic: str = "civic.eldercare") -> list[tuple[str, dict[str, Any]]]:
        """Every event on ``topic`` about ``people``, once the outbox has published all it holds."""
        await eventually(self._drained, what="eldercare's outbox published")
        return await read_topic(self.broker, topic, people)

    async def _drained(self) -> bool:
        async with AsyncSession(self.service.engine) as s:
            return int((await s.exec(select(func.count()).select_from(OutboxRecord))).one()) == 0


async def read_topic(broker: EmbeddedBroker, topic: str, people: set[str]) -> list[tuple[str, dict[str, Any]]]:
    consumer = AIOKafkaConsumer(bootstrap_servers=broker.bootstrap, enable_auto_commit=False,
                                group_id=f"t-{uuid.uuid4().hex[:8]}")  # fmt: skip
    await consumer.start()
    found: list[tuple[str, dict[str, Any]]] = []
    ids: set[bytes] = set()  # a relay may publish an event again (same id) when its delete did not commit
    try:
        await consumer.topics()  # fetches the metadata, so the partitions are known
        partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or set())]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        end = await consumer.end_offsets(partitions)

        async def behind() -> bool:
            return any([await consumer.position(tp) < end[tp] for tp in partitions])

        while await behind():
            for records in (await consumer.getmany(timeout_ms=200)).values():
                for record in records:
                    data, headers = json.loads(record.value or b"{}"), dict(record.headers)
                    if data.get("resident_id") in people and headers["ce_id"] not in ids:
                        ids.add(headers["ce_id"])
                        found.append((headers["ce_type"].decode(), data))
    finally:
        await consumer.stop()
    return found


@dataclass
class MovableClock:
    """Eldercare's calendar, moved by the test; counts how often the service asked it."""

    today: date
    asked: int = 0

    def __call__(self) -> date:
        self.asked += 1
        return self.today


@asynccontextmanager
async def eldercare(broker: EmbeddedBroker, tmp_path: Path, *, consumers: bool = True) -> AsyncIterator[Eldercare]:
    """Eldercare serving on its own database, its calendar at China's date (``ec.today``, as its own clock would
    say) and movable through ``ec.clock``. Without ``consumers`` it reacts to no event: for tests that count what
    their own requests did (its new consumer group would first catch up on every event the session's earlier
    tests published, enrolling elders from their approvals, whom a birthday job would then grant)."""
    settings = settings_for(f"eldercare-{uuid.uuid4().hex[:6]}", tmp_path, broker.bootstrap,
                            consumers_enabled=consumers)  # fmt: skip
    # The service's own birthday job runs at start: these tests drive the job themselves, on the days they choose,
    # so the one at start sees a day on which nobody alive today was 80 yet; the service's day is set once it has.
    clock = MovableClock(date(1990, 1, 1))
    app = build_app(settings, clock=clock)
    async with serving(app, "eldercare") as api:

        async def job_ran() -> bool:
            return clock.asked > 0

        await eventually(job_ran, what="the birthday job at start")
        clock.today = china_today()
        yield Eldercare(api, settings, app.state.service, broker, clock)


GRANTED = "civic.eldercare.allowance-granted.v1"


async def test_turning_80_grants_the_allowance_once_even_if_run_twice_or_a_day_was_missed(
    broker: EmbeddedBroker, tmp_path: Path
) -> None:
    today_80 = resident_id(date(1947, 3, 10))  # turns 80 on 2027-03-10
    yesterday_80 = resident_id(date(1947, 3, 9), female=True)
    not_yet = resident_id(date(1947, 3, 11))
    people = {today_80, yesterday_80, not_yet}
    async with eldercare(broker, tmp_path, consumers=False) as ec:
        for rid in people:
            assert (await ec.register(rid)).status_code == 201
        assert await ec.run_birthday_job(date(2027, 3, 8)) == []
        # 9 March: the job did not run. 10 March: it catches up yesterday's birthday and grants today's.
        first = await ec.run_birthday_job(date(2027, 3, 10))
        assert len(first) == 2
        assert await ec.run_birthday_job(date(2027, 3, 10)) == [], "running twice grants nothing more"
        assert await ec.run_birthday_job(date(2027, 3, 11)) != [], "the next day's birthday"
        for rid in (today_80, yesterday_80):
            [allowance] = await ec.allowances(rid)
            assert allowance["allowance"] == "age" and allowance["status"] == "active"
            assert allowance["granted_from"] == "2027-03-01"
            assert allowance["monthly_amount"] == "100.00"
            assert allowance["resident_id"] == rid, "a caseworker of eldercare sees the whole ID"
        events = await ec.published(people)
        granted = [data["resident_id"] for kind, data in events if kind == GRANTED]
        assert sorted(granted) == sorted(people), "one allowance-granted event per person, never two"
        registered = [d for k, d in events if k == "civic.eldercare.elder-registered.v1"]
        assert len(registered) == 3


async def test_someone_born_on_29_february_gets_it_on_their_birthday(broker: EmbeddedBroker, tmp_path: Path) -> None:
    leap = resident_id(date(1948, 2, 29))  # 80 on 29 February 2028
    async with eldercare(broker, tmp_path, consumers=False) as ec:
        assert (await ec.register(leap)).status_code == 201
        assert await ec.run_birthday_job(date(2028, 2, 28)) == []
        assert len(await ec.run_birthday_job(date(2028, 2, 29))) == 1
        [allowance] = await ec.allowances(leap)
        assert allowance["granted_from"] == "2028-02-01"


async def test_someone_known_after_turning_80_is_paid_from_then_and_regional_bands_apply(
    broker: EmbeddedBroker, tmp_path: Path
) -> None:
    banan_91 = resident_id(date(1935, 1, 5), region="500113")
    async with eldercare(broker, tmp_path, consumers=False) as ec:
        assert (await ec.register(banan_91, region="500113")).status_code == 201
        assert len(await ec.run_birthday_job(ec.today)) == 1
        [allowance] = await ec.allowances(banan_91)
        assert allowance["granted_from"] == ec.today.replace(day=1).isoformat(), "no years of back-pay"
        assert allowance["monthly_amount"] == "300.00", "Banan's 90+ band"
        month = ec.today.replace(day=1).isoformat()
        paid = await ec.api.post("/allowance-payment-runs", json={"month": month}, headers=ec.cw)
        again = await ec.api.post("/allowance-payment-runs", json={"month": month}, headers=ec.cw)
        assert paid.status_code == 200 and again.json() == {"payments": 0}
        payments = (await ec.api.get(f"/allowances/{allowance['id']}/payments", headers=ec.cw)).json()
        assert payments == [{"month": month, "kind": "regular", "amount": "300.00"}]
        mine = await ec.api.get(f"/allowances/{allowance['id']}/payments", headers=ec.citizen(banan_91))
        assert mine.status_code == 200
        theirs = await ec.api.get(f"/allowances/{allowance['id']}/payments", headers=ec.citizen(resident_id()))
        assert theirs.status_code == 404


async def test_citizens_see_their_own_allowances_only(broker: EmbeddedBroker, tmp_path: Path) -> None:
    elder, other = resident_id(date(1940, 1, 1)), resident_id(date(1941, 1, 1))
    async with eldercare(broker, tmp_path, consumers=False) as ec:
        await ec.register(elder)
        await ec.run_birthday_job(ec.today)
        own = await ec.api.get(f"/elders/{elder}/allowances", headers=ec.citizen(elder))
        assert own.status_code == 200 and own.json()[0]["resident_id"] == elder
        for path in (f"/elders/{elder}/allowances", f"/elders/{elder}", f"/elders/{elder}/assessments"):
            response = await ec.api.get(path, headers=ec.citizen(other))
            assert response.status_code == 404, path
            # The problem's `instance` names the path asked for, its resident ID masked; nothing else of the record.
            assert elder not in response.text
            assert "allowance" not in response.text.replace(mask_in_text(path), ""), "nothing of the record"
        auditor = identity_headers(Principal(subject="au-1", role=Role.AUDITOR), ec.settings)
        seen = await ec.api.get(f"/elders/{elder}", headers=auditor)
        assert seen.status_code == 200 and seen.json()["resident_id"] != elder and "*" * 8 in seen.json()["resident_id"]
        job = await ec.api.post("/age-allowance-runs", json={"on": "2026-01-01"}, headers=ec.citizen(elder))
        assert job.status_code == 403


async def test_an_allowance_for_someone_under_80_is_refused_and_nothing_is_written(
    broker: EmbeddedBroker, tmp_path: Path
) -> None:
    young = resident_id(date(1950, 6, 1))
    async with eldercare(broker, tmp_path, consumers=False) as ec:
        assert (await ec.register(young)).status_code == 201
        await eventually(ec._drained, what="registration published")
        response = await ec.api.post("/allowances", json={"resident_id": young, "allowance": "age",
                                                          "on": ec.today.isoformat()}, headers=ec.cw)  # fmt: skip
        assert response.status_code == 422
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["type"].endswith("/under-age") and response.json()["field"] == "resident_id"
        async with AsyncSession(ec.service.engine) as s:
            assert (await s.exec(select(func.count()).select_from(Allowance))).one() == 0
            assert (await s.exec(select(func.count()).select_from(OutboxRecord))).one() == 0
        too_young = await ec.register(resident_id(date(1990, 1, 1)))
        assert too_young.status_code == 422 and too_young.json()["field"] == "resident_id"
        bad = await ec.register("110105194912310021")
        assert bad.status_code == 422 and bad.json()["field"] == "resident_id"
        extra = await ec.register(resident_id(date(1950, 1, 1)), pets=2)
        assert extra.status_code == 422 and extra.json()["field"] == "pets"


async def test_the_service_runs_the_birthday_job_by_itself_at_start(broker: EmbeddedBroker, tmp_path: Path) -> None:
    over_80 = resident_id(date(1940, 6, 1))
    settings = settings_for(f"eldercare-{uuid.uuid4().hex[:6]}", tmp_path, broker.bootstrap)
    first = build_app(settings)
    first.state.clock = lambda: date(2020, 1, 1)  # not 80 yet: the job at this start grants nothing
    async with serving(first, "eldercare") as api:
        ec = Eldercare(api, settings, first.state.service, broker)
        assert (await ec.register(over_80)).status_code == 201
        assert await ec.allowances(over_80) == []

    # Down for years; at the next start the job catches up, without anyone calling it.
    again = build_app(settings)
    again.state.clock = lambda: date(2026, 11, 23)
    async with serving(again, "eldercare") as api:
        ec = Eldercare(api, settings, again.state.service, broker)

        async def granted() -> bool:
            return [a["allowance"] for a in await ec.allowances(over_80)] == ["age"]

        await eventually(granted, what="the age allowance granted by the job at start")
        assert [kind for kind, _ in await ec.published({over_80})].count(GRANTED) == 1
