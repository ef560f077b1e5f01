"""Journeys as citizens and operators see them, through the gateway of the whole running system."""

from __future__ import annotations

from datetime import date
from typing import Any

import httpx

from civic.auth import Role
from tests.conftest import eventually
from tests.factories import resident_id


async def test_after_death_journey_completes_and_shows_each_step(civic_system: Any) -> None:
    funeral = civic_system.auth(Role.CASEWORKER, "cw-f", "funeral")
    operator = civic_system.auth(Role.OPERATOR, "op-1")
    deceased = resident_id(date(1936, 3, 3))
    async with httpx.AsyncClient(base_url=civic_system.gateway_url, timeout=10) as api:
        death = await api.post("/api/funeral/deaths", headers=funeral, json={
            "resident_id": deceased, "date_of_death": "2026-11-05",
            "reported_by": {"name": "赵敏", "relation": "子女"},
        })  # fmt: skip
        assert death.status_code == 201, death.text
        journey_id = death.json()["journey_id"]

        async def completed() -> bool:
            response = await api.get(f"/journeys/{journey_id}", headers=operator)
            return response.status_code == 200 and response.json()["state"] == "completed"

        await eventually(completed, timeout=60, what="the after-death journey to complete")
        journey = (await api.get(f"/journeys/{journey_id}", headers=operator)).json()
        assert journey["kind"] == "after-death" and journey["label_zh"] == "身后一件事"
        steps = {s["name"]: s["state"] for s in journey["steps"]}
        assert steps["benefits-stopped"] == "done"
        assert steps["spouse-widowed"] == "not_applicable", "the deceased had no spouse on record"
        assert journey["state_zh"] == "全部办结" and not journey["stuck"]
        types = [e["type"] for e in journey["history"]]
        assert types[0] == "civic.funeral.death-registered.v1"
        assert journey["trace_id"], "operators get the trace id to find the whole journey in tracing"

        listed = (await api.get("/journeys", headers=operator, params={"kind": "after-death"})).json()
        assert journey_id in [j["id"] for j in listed]

        stranger = civic_system.auth(Role.CITIZEN, resident_id(date(1990, 1, 1)))
        assert (await api.get(f"/journeys/{journey_id}", headers=stranger)).status_code == 404
        assert journey_id not in [j["id"] for j in (await api.get("/journeys", headers=stranger)).json()]
        caseworker_list = await api.get("/journeys", headers=funeral)
        assert caseworker_list.status_code == 403


async def test_assistance_application_journey_follows_the_decision_made_later(civic_system: Any) -> None:
    """The approval is a caseworker's later request, with its own correlation id; it still lands on the
    applicant's journey. A rejection ends the journey, with the reason."""
    cw = civic_system.auth(Role.CASEWORKER, "cw-a", "assistance")
    async with httpx.AsyncClient(base_url=civic_system.gateway_url, timeout=10) as api:
        outcomes = {}
        for decision in ("approve", "reject"):
            applicant = resident_id(date(1975, 6, 1))
            household = await api.post("/api/assistance/households", headers=cw, json={
                "region_code": "371002", "area": "urban",
                "members": [{"resident_id": applicant, "relation": "本人"}],
                "incomes": [{"resident_id": applicant, "kind": "wages", "monthly_amount": "300"}],
            })  # fmt: skip
            assert household.status_code == 201, household.text
            application = await api.post("/api/assistance/applications", headers=cw,
                                         json={"household_id": household.json()["id"], "benefit": "dibao"})  # fmt: skip
            assert application.status_code == 201, application.text
            app_id = application.json()["id"]
            assert (await api.post(f"/api/assistance/applications/{app_id}/verify", headers=cw)).status_code == 200
            body = {"paid_from": "2026-01-01"} if decision == "approve" else {"reason": "收入超过低保标准"}
            decided = await api.post(f"/api/assistance/applications/{app_id}/{decision}", headers=cw, json=body)
            assert decided.status_code == 200, decided.text
            outcomes[decision] = applicant

        async def own_journey(applicant: str) -> dict[str, Any] | None:
            mine = (await api.get("/journeys", headers=civic_system.auth(Role.CITIZEN, applicant))).json()
            return next((j for j in mine if j["kind"] == "assistance-application"), None)

        async def decided(applicant: str, state: str) -> bool:
            journey = await own_journey(applicant)
            return journey is not None and journey["state"] == state

        await eventually(lambda: decided(outcomes["approve"], "completed"), timeout=60, what="approved journey")
        await eventually(lambda: decided(outcomes["reject"], "ended"), timeout=60, what="rejected journey")
        rejected = await own_journey(outcomes["reject"])
        assert rejected is not None
        step = rejected["steps"][0]
        assert step["name"] == "decision" and step["reason"] == "civic.assistance.application-rejected.v1"
        assert rejected["state_zh"] == "已终止" and rejected["history"] is None, "citizens see steps, not internals"


async def test_a_death_registered_in_error_is_undone_everywhere(civic_system: Any) -> None:
    funeral = civic_system.auth(Role.CASEWORKER, "cw-f", "funeral")
    assistance = civic_system.auth(Role.CASEWORKER, "cw-a", "assistance")
    operator = civic_system.auth(Role.OPERATOR, "op-1")
    person = resident_id(date(1944, 4, 4))
    async with httpx.AsyncClient(base_url=civic_system.gateway_url, timeout=10) as api:
        case = await api.post("/api/assistance/cases", headers=assistance, json={
            "resident_id": person, "region_code": "371002", "monthly_amount": "690.00", "paid_from": "2025-01-01"})  # fmt: skip
        assert case.status_code == 201, case.text
        death = await api.post("/api/funeral/deaths", headers=funeral, json={
            "resident_id": person, "date_of_death": "2026-09-30", "reported_by": {"name": "孙丽", "relation": "子女"}})  # fmt: skip
        assert death.status_code == 201, death.text
        journey_id, registration_id = death.json()["journey_id"], death.json()["id"]

        async def state_is(state: str) -> bool:
            response = await api.get(f"/journeys/{journey_id}", headers=operator)
            return response.status_code == 200 and response.json()["state"] == state

        await eventually(lambda: state_is("completed"), timeout=60, what="the journey completed before revocation")
        revoked = await api.post(f"/api/funeral/deaths/{registration_id}/revocation", headers=funeral,
                                 json={"reason": "误报：同名人员"})  # fmt: skip
        assert revoked.status_code == 200, revoked.text
        await eventually(lambda: state_is("compensated"), timeout=60, what="every step undone")

        journey = (await api.get(f"/journeys/{journey_id}", headers=operator)).json()
        steps = {s["name"]: s["state"] for s in journey["steps"]}
        assert steps["benefits-stopped"] == "compensated"
        assert steps["care-ended"] == "compensated"
        assert steps["funeral-benefit"] in ("compensated", "not_applicable")
        assert steps["spouse-widowed"] == "not_applicable"
        assert journey["state_zh"] == "已全部撤回"
        restored = (await api.get(f"/api/assistance/cases/{case.json()['id']}", headers=assistance)).json()
        assert restored["status"] == "active", "the benefit is paid again (back-pay is assistance's own test)"
