"""A new standard from a future date recalculates the benefits it affects (resumable, safe to re-run); a
marriage opens a re-check of the households involved; key groups overdue for their monthly visit are listed."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from civic.auth import Principal, Role, identity_headers
from civic.broker import EmbeddedBroker
from civic.clock import china_today
from civic.config import Settings
from contracts.marriage import MarriageRegistered
from services.assistance.main import build_app
from tests.apps import serving
from tests.conftest import eventually
from tests.factories import resident_id
from tests.kit import settings_for

CASEWORKER = Principal(subject="cw-1", role=Role.CASEWORKER, domain="assistance")


def household_body(ids: list[str], income_each: str = "400") -> dict[str, Any]:
    relations = ["本人", "配偶", "子女", "子女"]
    return {
        "region_code": "371002",
        "area": "urban",
        "members": [{"resident_id": r, "relation": relations[i]} for i, r in enumerate(ids)],
        "incomes": [{"resident_id": r, "kind": "wages", "monthly_amount": income_each} for r in ids],
    }


async def approved_household(api: httpx.AsyncClient, cw: dict[str, str], ids: list[str]) -> tuple[str, str]:
    h = await api.post("/households", json=household_body(ids), headers=cw)
    assert h.status_code == 201, h.text
    app = await api.post("/applications", json={"household_id": h.json()["id"], "benefit": "dibao"}, headers=cw)
    assert app.status_code == 201, app.text
    app_id = app.json()["id"]
    assert (await api.post(f"/applications/{app_id}/verify", headers=cw)).status_code == 200
    decided = await api.post(f"/applications/{app_id}/approve", json={"paid_from": "2026-01-01"}, headers=cw)
    assert decided.status_code == 200, decided.text
    return h.json()["id"], decided.json()["case_id"]


async def publish(settings: Settings, *events: Any) -> None:
    from tests.kit import ProducerSide

    producer = ProducerSide(settings)
    await producer.start()
    try:
        await producer.write(events)
        await eventually(lambda: _drained(producer), what="events published")
    finally:
        await producer.stop()


async def _drained(producer: Any) -> bool:
    from tests.kit import outbox_pending

    return await outbox_pending(producer.engine) == 0


def next_month_start() -> date:
    today = china_today()  # the service's day: on a month's last evening (UTC) China is already in the next
    return date(today.year + (today.month == 12), today.month % 12 + 1, 1)


async def test_a_future_standard_is_recalculated_resumably_and_once(broker: EmbeddedBroker, tmp_path: Path) -> None:
    settings = settings_for(f"assistance-{uuid.uuid4().hex[:6]}", tmp_path, broker.bootstrap)
    cw = identity_headers(CASEWORKER, settings)
    effective = next_month_start()
    async with serving(build_app(settings)) as api:
        cases = [
            (await approved_household(api, cw, [resident_id(), resident_id(female=True), resident_id()]))[1]
            for _ in range(3)
        ]
        past = await api.post("/policy/parameters", headers=cw, json={
            "region_code": "371000", "area": "urban", "name": "dibao_standard", "effective_from": "2020-06-01",
            "value": "750", "per": "month", "source": "test"})  # fmt: skip
        assert past.status_code == 422 and past.json()["field"] == "effective_from"
        added = await api.post("/policy/parameters", headers=cw, json={
            "region_code": "371000", "area": "urban", "name": "dibao_standard",
            "effective_from": effective.isoformat(), "value": "750", "per": "month", "source": "test decision"})  # fmt: skip
        assert added.status_code == 201, added.text
        body = {"region_code": "371000", "effective_from": effective.isoformat()}
        part = (await api.post("/policy/recalculations", json={**body, "max_cases": 2}, headers=cw)).json()
        assert part == {"examined": 2, "changed": 2, "finished": False}
        rest = (await api.post("/policy/recalculations", json=body, headers=cw)).json()
        assert rest == {"examined": 1, "changed": 1, "finished": True}
        again = (await api.post("/policy/recalculations", json=body, headers=cw)).json()
        assert again == {"examined": 3, "changed": 0, "finished": True}, "a re-run changes nothing"
        for case_id in cases:
            case = (await api.get(f"/cases/{case_id}", headers=cw)).json()
            assert case["monthly_amount"] == "1050.00"  # (750 − 400) × 3
            history = (await api.get(f"/cases/{case_id}/history", headers=cw)).json()
            assert [h["kind"] for h in history] == ["approved", "amount changed"]
            assert history[1]["effective_from"] == effective.isoformat()


async def test_marriage_opens_a_recheck_and_key_groups_are_visited(broker: EmbeddedBroker, tmp_path: Path) -> None:
    settings = settings_for(f"assistance-{uuid.uuid4().hex[:6]}", tmp_path, broker.bootstrap)
    marriage = settings_for("marriage", tmp_path / "marriage", broker.bootstrap)
    cw = identity_headers(CASEWORKER, settings)
    ids = [resident_id(date(1985, 1, 1)), resident_id(date(1987, 1, 1), female=True)]
    async with serving(build_app(settings)) as api:
        household_id, _ = await approved_household(api, cw, ids)
        event = MarriageRegistered(resident_id=ids[0], spouse_resident_id=resident_id(female=True),
                                   registration_id=uuid.uuid4().hex, registered_on=date.today())  # fmt: skip
        await publish(marriage, event, event)

        async def reviewed() -> bool:
            return len((await api.get(f"/households/{household_id}/reviews", headers=cw)).json()) == 1

        await eventually(reviewed, what="a re-check of the household")
        citizen = identity_headers(Principal(subject=ids[1], role=Role.CITIZEN), settings)
        assert (await api.get(f"/households/{household_id}/reviews", headers=citizen)).status_code == 200

        orphan = resident_id(date(2015, 6, 1))
        opened = await api.post("/cases", headers=cw, json={"benefit": "child_welfare", "resident_id": orphan,
                                "region_code": "371002", "monthly_amount": "1400.00", "paid_from": "2026-01-01"})  # fmt: skip
        assert opened.status_code == 201
        overdue = (await api.get("/visits/overdue", headers=cw)).json()
        assert [o["case_id"] for o in overdue] == [opened.json()["id"]]
        today = datetime.now(UTC).date()
        visit = await api.post("/visits", headers=cw, json={"resident_id": orphan, "visited_on": today.isoformat()})
        assert visit.status_code == 201
        assert (await api.get("/visits/overdue", headers=cw)).json() == []
        future = await api.post("/visits", headers=cw,
                                json={"resident_id": orphan, "visited_on": (today + timedelta(days=2)).isoformat()})  # fmt: skip
        assert future.status_code == 422 and future.json()["field"] == "visited_on"
