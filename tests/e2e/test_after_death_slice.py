"""身后一件事, first slice, through the gateway of the system as `civic up` runs it: a death registered at
funeral stops the deceased's 低保 from the next month, and assistance says so on the bus."""

from __future__ import annotations

import asyncio
import json
from datetime import date
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer

from civic.auth import Role
from tests.conftest import eventually
from tests.factories import resident_id


def staff(civic_system: Any, domain: str) -> dict[str, str]:
    headers: dict[str, str] = civic_system.auth(Role.CASEWORKER, f"cw-{domain}", domain)
    return headers


async def test_a_registered_death_stops_the_deceaseds_benefit_from_next_month(civic_system: Any) -> None:
    deceased = resident_id(date(1941, 7, 15))
    async with httpx.AsyncClient(base_url=civic_system.gateway_url, timeout=10) as api:
        case = await api.post("/api/assistance/cases", headers=staff(civic_system, "assistance"), json={
            "resident_id": deceased, "region_code": "371002", "monthly_amount": "690.00", "paid_from": "2025-01-01",
        })  # fmt: skip
        assert case.status_code == 201, case.text
        case_id = case.json()["id"]

        death = await api.post("/api/funeral/deaths", headers=staff(civic_system, "funeral"), json={
            "resident_id": deceased, "date_of_death": "2026-10-31",
            "reported_by": {"name": "刘洋", "relation": "子女"},
        })  # fmt: skip
        assert death.status_code == 201, death.text
        registration = death.json()
        assert registration["resident_id"] == deceased[:6] + "********" + deceased[14:]

        async def stopped() -> bool:
            got = (await api.get(f"/api/assistance/cases/{case_id}", headers=staff(civic_system, "assistance"))).json()
            return bool(got["status"] == "stopped")

        await eventually(stopped, what="the 低保 case stopped after the death")
        final = (await api.get(f"/api/assistance/cases/{case_id}", headers=staff(civic_system, "assistance"))).json()
        assert final["stopped_from"] == "2026-11-01", "paid through the month of death, stopped from the next"
        assert registration["id"] in final["stop_reason"]

        fact = await _assistance_fact_for(civic_system.broker, registration["journey_id"])
        assert fact["data"]["death_registration_id"] == registration["id"]
        assert [c["case_id"] for c in fact["data"]["cases"]] == [case_id]
        assert fact["headers"]["ce_correlationid"] == registration["journey_id"]


async def test_a_death_without_benefits_is_still_answered_by_assistance(civic_system: Any) -> None:
    async with httpx.AsyncClient(base_url=civic_system.gateway_url, timeout=10) as api:
        death = await api.post("/api/funeral/deaths", headers=staff(civic_system, "funeral"), json={
            "resident_id": resident_id(date(1938, 1, 2), female=True), "date_of_death": "2026-11-01",
            "reported_by": {"name": "某医院", "relation": "医院"},
        })  # fmt: skip
        assert death.status_code == 201, death.text
    fact = await _assistance_fact_for(civic_system.broker, death.json()["journey_id"])
    assert fact["data"]["cases"] == []


async def test_bad_input_through_the_gateway_is_a_problem_naming_the_field(civic_system: Any) -> None:
    async with httpx.AsyncClient(base_url=civic_system.gateway_url, timeout=10) as api:
        response = await api.post("/api/funeral/deaths", headers=staff(civic_system, "funeral"), json={
            "resident_id": "371002194107150000", "date_of_death": "2026-11-01",
            "reported_by": {"name": "a", "relation": "b"},
        })  # fmt: skip
        assert response.status_code == 422
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["field"] == "resident_id"
        unknown = await api.get("/api/nowhere/x", headers=staff(civic_system, "funeral"))
        assert unknown.status_code == 404
        assert unknown.json()["type"].endswith("/unknown-domain")


async def _assistance_fact_for(bootstrap: str, journey_id: str, timeout: float = 30) -> dict[str, Any]:
    """The benefits-of-deceased-stopped event of this journey, read from the bus as another department would."""
    consumer = AIOKafkaConsumer("civic.assistance", bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                                enable_auto_commit=False)  # fmt: skip
    await consumer.start()
    try:
        async with asyncio.timeout(timeout):
            async for record in consumer:
                headers = {k: v.decode() for k, v in record.headers}
                if (headers.get("ce_type") == "civic.assistance.benefits-of-deceased-stopped.v1"
                        and headers.get("ce_correlationid") == journey_id):  # fmt: skip
                    return {"headers": headers, "data": json.loads(record.value or b"{}")}
    finally:
        await consumer.stop()
    raise AssertionError("unreachable")
