"""A new standard is recalculated by the service itself on its effective date: interrupted, the job resumes after
a restart; run again, it changes nothing; one BenefitChanged per changed benefit; a month already paid at the
old amount gets the rise as back-pay."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import date
from pathlib import Path
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer, TopicPartition
from fastapi import FastAPI

from civic.auth import Principal, Role, identity_headers
from civic.broker import EmbeddedBroker
from civic.config import Settings
from services.assistance.main import build_app
from services.assistance.models import RecalculationJob
from services.assistance.recalc import covered, recalculate_due_standards
from tests.apps import serving
from tests.conftest import eventually
from tests.factories import resident_id
from tests.kit import settings_for

CASEWORKER = Principal(subject="cw-1", role=Role.CASEWORKER, domain="assistance")


async def events_of_cases(bootstrap: str, case_ids: set[str]) -> list[tuple[str, dict[str, Any]]]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        await consumer._client.force_metadata_update()
        topic = "civic.assistance"
        partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or set())]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        end = await consumer.end_offsets(partitions)
        seen: list[tuple[str, dict[str, Any]]] = []
        async with asyncio.timeout(60):
            while [tp for tp in partitions if await consumer.position(tp) < end[tp]]:
                for records in (await consumer.getmany(timeout_ms=200)).values():
                    for r in records:
                        data = json.loads(r.value or b"{}")
                        if data.get("case_id") in case_ids:
                            seen.append((dict(r.headers)["ce_type"].decode().split(".")[2], data))
        return seen
    finally:
        await consumer.stop()


async def approved(api: httpx.AsyncClient, cw: dict[str, str]) -> str:
    ids = [resident_id(), resident_id(female=True), resident_id()]
    body = {"region_code": "371002", "area": "urban",
            "members": [{"resident_id": r, "relation": rel} for r, rel in zip(ids, ["本人", "配偶", "子女"], strict=True)],
            "incomes": [{"resident_id": r, "kind": "wages", "monthly_amount": "400"} for r in ids]}  # fmt: skip
    h = (await api.post("/households", json=body, headers=cw)).json()
    app = (await api.post("/applications", json={"household_id": h["id"], "benefit": "dibao"}, headers=cw)).json()
    await api.post(f"/applications/{app['id']}/verify", headers=cw)
    decided = await api.post(f"/applications/{app['id']}/approve", json={"paid_from": "2026-01-01"}, headers=cw)
    return str(decided.json()["case_id"])


def next_month_start(today: date) -> date:
    return date(today.year + (today.month == 12), today.month % 12 + 1, 1)


def assistance_today(broker: EmbeddedBroker, tmp_path: Path) -> tuple[FastAPI, Settings, dict[str, str]]:
    """An assistance service whose clock says today (a test moves it on), and a caseworker's headers for it."""
    settings = settings_for(f"assistance-{uuid.uuid4().hex[:6]}", tmp_path, broker.bootstrap)
    app = build_app(settings)
    today = date.today()
    app.state.clock = lambda: today
    return app, settings, identity_headers(CASEWORKER, settings)


async def add_standard(api: httpx.AsyncClient, cw: dict[str, str], effective: date) -> None:
    """Weihai's urban 低保 standard raised to 750 from ``effective`` (a date ahead: the API refuses others)."""
    added = await api.post("/policy/parameters", headers=cw, json={
        "region_code": "371000", "area": "urban", "name": "dibao_standard",
        "effective_from": effective.isoformat(), "value": "750", "per": "month", "source": "test decision"})  # fmt: skip
    assert added.status_code == 201, added.text


def test_a_city_standard_covers_its_counties_only() -> None:
    assert covered("371000", "371002") and covered("000000", "500113") and covered("371002", "371002")
    assert not covered("371000", "371102"), "Weihai's standard is not Rizhao's"
    assert not covered("371002", "371003")


async def test_the_service_recalculates_on_the_effective_date_resumably_and_once(
    broker: EmbeddedBroker, tmp_path: Path
) -> None:
    first, settings, cw = assistance_today(broker, tmp_path)
    effective = next_month_start(date.today())
    async with serving(first) as api:
        cases = sorted([await approved(api, cw) for _ in range(3)])
        await add_standard(api, cw, effective)
        cap = await api.post("/policy/parameters", headers=cw, json={
            "region_code": "371002", "area": "all", "name": "temporary_expenditure_cap",
            "effective_from": effective.isoformat(), "value": "20000", "per": "once", "source": "test decision"})  # fmt: skip
        assert cap.status_code == 201, "a temporary-assistance cap: new grants only, no recalculation of benefits"
        # The month of the new standard was paid at the old amount before the job reached it.
        paid = await api.post("/payment-runs", json={"month": effective.isoformat()}, headers=cw)
        assert paid.json()["paid"] == 3
        service = first.state.service
        assert await recalculate_due_standards(service.sessions, service.outbox, date.today()) == [], (
            "not before the date"
        )
        # Interrupted after two cases (each chunk commits with its cursor) ...
        [part] = await recalculate_due_standards(service.sessions, service.outbox, effective, chunk=1, max_cases=2)
        assert (part.job_id, part.examined, part.changed, part.finished) == (f"371000:{effective}", 2, 2, False)

    # ... and the service, restarted on the effective date, finishes it by itself.
    second = build_app(settings)
    second.state.clock = lambda: effective
    async with serving(second) as api:
        service = second.state.service

        async def finished() -> bool:
            async with service.sessions() as session:
                job = await session.get(RecalculationJob, f"371000:{effective.isoformat()}")
                return job is not None and job.finished_at is not None

        await eventually(finished, what="the scheduled recalculation finished")
        for case_id in cases:
            case = (await api.get(f"/cases/{case_id}", headers=cw)).json()
            assert case["monthly_amount"] == "1050.00", "(750 − 400) × 3"
            payments = (await api.get(f"/cases/{case_id}/payments", headers=cw)).json()
            assert [(p["month"], p["kind"], p["amount"]) for p in payments if p["month"] == effective.isoformat()] == [
                (effective.isoformat(), "back_pay", "180.00"),
                (effective.isoformat(), "regular", "870.00"),
            ]
        # Run again, by the schedule and by a caseworker: nothing changes, nothing is published.
        assert await recalculate_due_standards(service.sessions, service.outbox, effective) == []
        again = await api.post("/policy/recalculations", headers=cw,
                               json={"region_code": "371000", "effective_from": effective.isoformat()})  # fmt: skip
        assert again.json() == {"examined": 3, "changed": 0, "finished": True}

        async def published() -> bool:
            kinds = [k for k, _ in await events_of_cases(broker.bootstrap, set(cases))]
            return kinds.count("benefit-changed") == 3 and kinds.count("payment-issued") == 6

        await eventually(published, what="one BenefitChanged per case and the back-pay")
        changed = [d for k, d in await events_of_cases(broker.bootstrap, set(cases)) if k == "benefit-changed"]
        assert sorted(d["case_id"] for d in changed) == cases
        assert {(d["previous_amount"], d["monthly_amount"], d["effective_from"]) for d in changed} == {
            ("870.00", "1050.00", effective.isoformat())
        }


async def test_a_case_approved_later_from_before_a_standard_is_paid_under_it_from_its_date(
    broker: EmbeddedBroker, tmp_path: Path
) -> None:
    """The recalculation ran on the standard's date, before this case existed. Approved afterwards from a month
    before that date, the case is paid under the new standard from its date — one BenefitChanged, as the job
    would have published — not at the old amount for good."""
    app, _, cw = assistance_today(broker, tmp_path)
    effective = next_month_start(date.today())
    async with serving(app) as api:
        await add_standard(api, cw, effective)
        app.state.clock = lambda: effective
        service = app.state.service
        [job] = await recalculate_due_standards(service.sessions, service.outbox, effective)
        assert (job.examined, job.finished) == (0, True), "no case yet"

        case_id = await approved(api, cw)  # paid from 2026-01-01, (690 − 400) × 3 = 870 then
        case = (await api.get(f"/cases/{case_id}", headers=cw)).json()
        assert case["monthly_amount"] == "1050.00", "(750 − 400) × 3 from the standard's date"
        history = (await api.get(f"/cases/{case_id}/history", headers=cw)).json()
        assert [(h["kind"], h["effective_from"], h["amount"]) for h in history] == [
            ("approved", "2026-01-01", "870.00"),
            ("amount changed", effective.isoformat(), "1050.00"),
        ]
        paid = await api.post("/payment-runs", json={"month": effective.isoformat()}, headers=cw)
        assert paid.status_code == 200, paid.text
        payments = (await api.get(f"/cases/{case_id}/payments", headers=cw)).json()
        assert [(p["month"], p["amount"]) for p in payments] == [(effective.isoformat(), "1050.00")]
        assert await recalculate_due_standards(service.sessions, service.outbox, effective) == [], "nothing due"

    async def published() -> bool:
        kinds = [k for k, _ in await events_of_cases(broker.bootstrap, {case_id})]
        return kinds.count("benefit-approved") == 1 and kinds.count("benefit-changed") == 1

    await eventually(published, what="the approval and the change under the new standard")
    [changed] = [d for k, d in await events_of_cases(broker.bootstrap, {case_id}) if k == "benefit-changed"]
    assert (changed["previous_amount"], changed["monthly_amount"], changed["effective_from"]) == (
        "870.00", "1050.00", effective.isoformat())  # fmt: skip
