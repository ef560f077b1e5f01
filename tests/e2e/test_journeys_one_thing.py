"""The one-thing journeys beyond 身后一件事, on the whole running system, through the gateway only: each from the
request to every effect, read back from the services, and the journey as the citizen sees it."""

from __future__ import annotations

from datetime import date
from typing import Any

import httpx

from civic.auth import Role
from tests.conftest import eventually
from tests.factories import resident_id


async def _journey_of(api: httpx.AsyncClient, headers: dict[str, str], kind: str) -> dict[str, Any] | None:
    mine = await api.get("/journeys", headers=headers, params={"kind": kind})
    assert mine.status_code == 200, mine.text
    return next(iter(mine.json()), None)


async def _state_is(api: httpx.AsyncClient, headers: dict[str, str], kind: str, state: str) -> bool:
    journey = await _journey_of(api, headers, kind)
    return journey is not None and journey["state"] == state


async def _apply(api: httpx.AsyncClient, cw: dict[str, str], members: list[str], income: str) -> str:
    """A household in Weihai applies for 低保; returns the application, verified and awaiting the decision."""
    household = await api.post("/api/assistance/households", headers=cw, json={
        "region_code": "371002", "area": "urban",
        "members": [{"resident_id": m, "relation": "本人" if i == 0 else "配偶"} for i, m in enumerate(members)],
        "incomes": [{"resident_id": members[0], "kind": "wages", "monthly_amount": income}],
    })  # fmt: skip
    assert household.status_code == 201, household.text
    application = await api.post("/api/assistance/applications", headers=cw,
                                 json={"household_id": household.json()["id"], "benefit": "dibao"})  # fmt: skip
    assert application.status_code == 201, application.text
    app_id = str(application.json()["id"])
    assert (await api.post(f"/api/assistance/applications/{app_id}/verify", headers=cw)).status_code == 200
    return app_id


async def test_an_approved_household_with_an_elderly_member_is_served_by_every_department(civic_system: Any) -> None:
    cw = civic_system.auth(Role.CASEWORKER, "cw-a", "assistance")
    elder_cw = civic_system.auth(Role.CASEWORKER, "cw-e", "eldercare")
    funeral_cw = civic_system.auth(Role.CASEWORKER, "cw-f", "funeral")
    applicant, wife = resident_id(date(1949, 4, 4)), resident_id(date(1952, 5, 5), female=True)
    me = civic_system.auth(Role.CITIZEN, applicant)
    async with httpx.AsyncClient(base_url=civic_system.gateway_url, timeout=10) as api:
        app_id = await _apply(api, cw, [applicant, wife], income="200")
        approved = await api.post(f"/api/assistance/applications/{app_id}/approve", headers=cw,
                                  json={"paid_from": "2026-01-01"})  # fmt: skip
        assert approved.status_code == 200, approved.text

        await eventually(lambda: _state_is(api, me, "assistance-application", "completed"), timeout=60,
                         what="救助一件事 completed after the approval")  # fmt: skip
        journey = await _journey_of(api, me, "assistance-application")
        assert journey is not None and journey["state_zh"] == "全部办结"
        steps = {s["name"]: (s["state"], s["state_zh"]) for s in journey["steps"]}
        assert steps["decision"] == ("done", "已办结")
        assert steps["elders-enrolled"] == ("done", "已办结")
        assert steps["funeral-services-marked"] == ("done", "已办结")
        assert all(state == "done" for state, _ in steps.values()), steps

        # Every effect, read back from the departments themselves.
        for person in (applicant, wife):
            allowances = await api.get(f"/api/eldercare/elders/{person}/allowances", headers=elder_cw)
            assert allowances.status_code == 200, allowances.text
            subsidy = [a for a in allowances.json() if a["allowance"] == "difficult_elderly"]
            assert [a["status"] for a in subsidy] == ["active"], f"the elderly member {person[-4:]} is enrolled"
            entitled = await api.get(f"/api/funeral/entitlements/{person}", headers=funeral_cw)
            assert entitled.status_code == 200, entitled.text
            assert entitled.json()["free_basic_funeral_services"] is True

        news = await api.get("/journeys/notifications", headers=me)
        assert news.status_code == 200, news.text
        (notice,) = [n for n in news.json() if n["journey_id"] == journey["id"]]
        assert notice["text_zh"].startswith("您的救助申请已办结") and notice["state"] == "completed"


async def test_a_rejected_application_ends_the_journey_with_the_reason_and_no_department_acts(
    civic_system: Any,
) -> None:
    cw = civic_system.auth(Role.CASEWORKER, "cw-a", "assistance")
    funeral_cw = civic_system.auth(Role.CASEWORKER, "cw-f", "funeral")
    applicant = resident_id(date(1948, 8, 8))
    me = civic_system.auth(Role.CITIZEN, applicant)
    async with httpx.AsyncClient(base_url=civic_system.gateway_url, timeout=10) as api:
        app_id = await _apply(api, cw, [applicant], income="3000")
        rejected = await api.post(f"/api/assistance/applications/{app_id}/reject", headers=cw,
                                  json={"reason": "收入超过低保标准"})  # fmt: skip
        assert rejected.status_code == 200, rejected.text

        await eventually(lambda: _state_is(api, me, "assistance-application", "ended"), timeout=60,
                         what="救助一件事 ended by the rejection")  # fmt: skip
        journey = await _journey_of(api, me, "assistance-application")
        assert journey is not None and journey["state_zh"] == "已终止"
        decision = next(s for s in journey["steps"] if s["name"] == "decision")
        assert decision["reason"] == "civic.assistance.application-rejected.v1"
        assert all(s["state"] == "pending" for s in journey["steps"] if s["name"] != "decision")
        entitled = await api.get(f"/api/funeral/entitlements/{applicant}", headers=funeral_cw)
        assert entitled.json()["free_basic_funeral_services"] is False
        news = (await api.get("/journeys/notifications", headers=me)).json()
        assert [n["state"] for n in news if n["journey_id"] == journey["id"]] == ["ended"]


async def test_elders_turning_80_get_the_allowance_unasked_and_each_sees_their_own_journey(civic_system: Any) -> None:
    elder_cw = civic_system.auth(Role.CASEWORKER, "cw-e", "eldercare")
    # Both turned 80 this year; the daily job grants both in one run.
    elders = [resident_id(date(1946, 3, 3)), resident_id(date(1946, 7, 7), female=True)]
    async with httpx.AsyncClient(base_url=civic_system.gateway_url, timeout=10) as api:
        for elder in elders:
            registered = await api.post("/api/eldercare/elders", headers=elder_cw, json={
                "resident_id": elder, "region_code": "371002", "community": "环翠楼社区",
                "living_situation": "alone",
            })  # fmt: skip
            assert registered.status_code == 201, registered.text
        run = await api.post("/api/eldercare/age-allowance-runs", headers=elder_cw,
                             json={"on": date.today().isoformat()})  # fmt: skip
        assert run.status_code == 200, run.text
        assert len(run.json()["granted"]) >= 2

        journeys: dict[str, str] = {}
        for elder in elders:
            me = civic_system.auth(Role.CITIZEN, elder)

            async def granted(me: dict[str, str] = me) -> bool:
                return await _state_is(api, me, "turning-80", "completed")

            await eventually(granted, timeout=60, what="the turning-80 journey seen by the elder")
            mine = (await api.get("/journeys", headers=me, params={"kind": "turning-80"})).json()
            assert len(mine) == 1, "one journey per elder, though one run granted both"
            journey = mine[0]
            assert (journey["label_zh"], journey["state_zh"]) == ("高龄补贴免申即享", "全部办结")
            assert [(s["label_zh"], s["state_zh"]) for s in journey["steps"]] == [
                ("高龄补贴已核发，按月发放", "已办结")
            ]
            assert journey["history"] is None, "the citizen sees steps, not internals"
            journeys[elder] = journey["id"]

            allowances = await api.get(f"/api/eldercare/elders/{elder}/allowances", headers=me)
            assert allowances.status_code == 200, allowances.text
            assert [(a["allowance"], a["status"]) for a in allowances.json()] == [("age", "active")]

            news = await api.get("/journeys/notifications", headers=me)
            assert news.status_code == 200, news.text
            (notice,) = [n for n in news.json() if n["kind"] == "turning-80"]
            assert notice["journey_id"] == journey["id"] and "高龄补贴" in notice["text_zh"]
            assert "age allowance" in notice["text_en"]

        first, second = elders
        assert journeys[first] != journeys[second]
        other = civic_system.auth(Role.CITIZEN, second)
        assert (await api.get(f"/journeys/{journeys[first]}", headers=other)).status_code == 404
        assert journeys[first] not in [n["journey_id"] for n in (await api.get("/journeys/notifications",
                                                                               headers=other)).json()]  # fmt: skip
        operator = civic_system.auth(Role.OPERATOR, "op-1")
        assert (await api.get("/journeys/notifications", headers=operator)).status_code == 403
