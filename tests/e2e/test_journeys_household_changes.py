"""A changed household, on the whole running system: a marriage registered through the gateway has assistance
re-check the households of both parties, and the journey completes. Effects read back through the gateway. (The
divorce, which waits for its cooling-off period, is in test_journeys_over_weeks.py.)"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

import httpx

from civic.auth import Role
from tests.conftest import eventually
from tests.factories import resident_id


async def _journey(api: httpx.AsyncClient, journey_id: str, operator: dict[str, str]) -> dict[str, Any] | None:
    response = await api.get(f"/journeys/{journey_id}", headers=operator)
    return response.json() if response.status_code == 200 else None


async def test_a_marriage_registered_has_assistance_recheck_the_households(civic_system: Any) -> None:
    cw = civic_system.auth(Role.CASEWORKER, "cw-a", "assistance")
    registrar = civic_system.auth(Role.CASEWORKER, "cw-m", "marriage")
    operator = civic_system.auth(Role.OPERATOR, "op-1")
    groom, bride = resident_id(date(1988, 6, 6)), resident_id(date(1990, 9, 9), female=True)
    journey_id = f"e2e-marriage-{uuid.uuid4()}"  # the registration's request starts the journey under this id
    async with httpx.AsyncClient(base_url=civic_system.gateway_url, timeout=10) as api:
        household = await api.post("/api/assistance/households", headers=cw, json={
            "region_code": "371002", "area": "urban", "members": [{"resident_id": groom, "relation": "本人"}],
        })  # fmt: skip
        assert household.status_code == 201, household.text
        married = await api.post("/api/marriage/marriages", headers={**registrar, "x-correlation-id": journey_id},
                                 json={"resident_id": groom, "name": "张伟", "spouse_resident_id": bride,
                                       "spouse_name": "李娜", "office_code": "371002", "both_present": True})  # fmt: skip
        assert married.status_code == 201, married.text

        async def completed() -> bool:
            journey = await _journey(api, journey_id, operator)
            return journey is not None and journey["state"] == "completed"

        await eventually(completed, timeout=60, what="the marriage journey completed")
        journey = await _journey(api, journey_id, operator)
        assert journey is not None and journey["kind"] == "marriage"
        assert [(s["name"], s["state"]) for s in journey["steps"]] == [("households-rechecked", "done")]
        history = [e["type"] for e in journey["history"]]
        assert history.count("civic.assistance.households-rechecked.v1") == 1

        reviews = await api.get(f"/api/assistance/households/{household.json()['id']}/reviews", headers=cw)
        assert reviews.status_code == 200, reviews.text
        assert len(reviews.json()) == 1 and "marriage" in reviews.json()[0]["reason"]

        groom_sees = civic_system.auth(Role.CITIZEN, groom)
        mine = (await api.get("/journeys", headers=groom_sees, params={"kind": "marriage"})).json()
        assert [(j["id"], j["label_zh"], j["state_zh"]) for j in mine] == [(journey_id, "结婚登记一件事", "全部办结")]
        news = (await api.get("/journeys/notifications", headers=groom_sees)).json()
        assert any(n["journey_id"] == journey_id and "重新核对" in n["text_zh"] for n in news)
        bride_sees = civic_system.auth(Role.CITIZEN, bride)  # the other party follows her marriage too
        hers = (await api.get("/journeys", headers=bride_sees, params={"kind": "marriage"})).json()
        assert [j["id"] for j in hers] == [journey_id]
        assert (await api.get(f"/journeys/{journey_id}", headers=bride_sees)).status_code == 200
        her_news = (await api.get("/journeys/notifications", headers=bride_sees)).json()
        assert [n["journey_id"] for n in her_news] == [journey_id]
        stranger = civic_system.auth(Role.CITIZEN, resident_id(date(1991, 1, 1)))
        assert (await api.get(f"/journeys/{journey_id}", headers=stranger)).status_code == 404
