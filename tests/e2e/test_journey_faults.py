"""身后一件事 under faults, on the whole running system: a service killed mid-journey, the broker frozen.
After each: the journey completes and nothing was done twice."""

from __future__ import annotations

import os
import signal
from datetime import date
from pathlib import Path
from typing import Any

import httpx

from civic.auth import Role
from tests.conftest import eventually
from tests.factories import resident_id


def _pids_of(civic_system: Any, needle: bytes) -> list[int]:
    found = []
    for pid in civic_system.children():
        try:
            if needle in Path(f"/proc/{pid}/cmdline").read_bytes():
                found.append(pid)
        except OSError:
            pass
    return found


async def _open_case(api: httpx.AsyncClient, cw: dict[str, str], person: str) -> str:
    case = await api.post("/api/assistance/cases", headers=cw, json={
        "resident_id": person, "region_code": "371002", "monthly_amount": "690.00", "paid_from": "2025-01-01"})  # fmt: skip
    assert case.status_code == 201, case.text
    return str(case.json()["id"])


async def _register_death(api: httpx.AsyncClient, funeral: dict[str, str], person: str) -> str:
    death = await api.post("/api/funeral/deaths", headers=funeral, json={
        "resident_id": person, "date_of_death": "2026-11-02", "reported_by": {"name": "钱进", "relation": "子女"}})  # fmt: skip
    assert death.status_code == 201, death.text
    return str(death.json()["journey_id"])


async def _completed_once(api: httpx.AsyncClient, civic_system: Any, journey_id: str, case_id: str) -> None:
    operator = civic_system.auth(Role.OPERATOR, "op-1")
    cw = civic_system.auth(Role.CASEWORKER, "cw-a", "assistance")

    async def completed() -> bool:
        response = await api.get(f"/journeys/{journey_id}", headers=operator)
        return response.status_code == 200 and response.json()["state"] == "completed"

    await eventually(completed, timeout=90, what="the journey to complete after the fault")
    history = (await api.get(f"/journeys/{journey_id}", headers=operator)).json()["history"]
    done = [e["type"] for e in history if e["dead_letter_of"] is None]
    for fact in ("civic.assistance.benefits-of-deceased-stopped.v1", "civic.eldercare.care-of-deceased-ended.v1"):
        assert done.count(fact) == 1, f"{fact} happened {done.count(fact)} times"
    case = (await api.get(f"/api/assistance/cases/{case_id}", headers=cw)).json()
    assert case["status"] == "stopped" and case["stopped_from"] == "2026-12-01", "no benefit paid after the death"


async def test_a_service_killed_mid_journey_is_restarted_and_the_journey_completes_once(civic_system: Any) -> None:
    cw = civic_system.auth(Role.CASEWORKER, "cw-a", "assistance")
    funeral = civic_system.auth(Role.CASEWORKER, "cw-f", "funeral")
    person = resident_id(date(1933, 9, 9))
    async with httpx.AsyncClient(base_url=civic_system.gateway_url, timeout=10) as api:
        case_id = await _open_case(api, cw, person)
        (assistance,) = _pids_of(civic_system, b"services.assistance.main:app")
        os.kill(assistance, signal.SIGKILL)  # assistance is gone while the death is registered
        journey_id = await _register_death(api, funeral, person)

        async def restarted() -> bool:
            return bool(set(_pids_of(civic_system, b"services.assistance.main:app")) - {assistance})

        await eventually(restarted, timeout=60, what="civic up to restart assistance")
        await _completed_once(api, civic_system, journey_id, case_id)


async def test_a_frozen_broker_delays_the_journey_and_loses_nothing(civic_system: Any) -> None:
    cw = civic_system.auth(Role.CASEWORKER, "cw-a", "assistance")
    funeral = civic_system.auth(Role.CASEWORKER, "cw-f", "funeral")
    person = resident_id(date(1932, 8, 8))
    (broker,) = _pids_of(civic_system, f"127.0.0.1:{civic_system.broker_port}".encode())
    async with httpx.AsyncClient(base_url=civic_system.gateway_url, timeout=10) as api:
        case_id = await _open_case(api, cw, person)
        os.kill(broker, signal.SIGSTOP)
        try:
            journey_id = await _register_death(api, funeral, person)  # accepted while the broker is frozen
        finally:
            os.kill(broker, signal.SIGCONT)
        await _completed_once(api, civic_system, journey_id, case_id)
