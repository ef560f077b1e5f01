"""The two journeys whose first step waits for weeks, driven through the gateway only, on a system of their own
whose calendar the test moves forward (``CIVIC_CLOCK_OFFSET_FILE``): a road renamed after its public notice
(地名管理条例: expert review, notice, decision), and a divorce by agreement after its 30-day cooling-off period
(Civil Code art. 1077). Each ends with every service's effect read back through the gateway."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

import httpx

from civic.auth import Role
from tests.conftest import eventually
from tests.factories import resident_id

HUANCUI_STREET = "371002001"  # 环翠楼街道, 威海市环翠区 (place-names seed)


async def _journey(api: httpx.AsyncClient, journey_id: str, operator: dict[str, str]) -> dict[str, Any] | None:
    response = await api.get(f"/journeys/{journey_id}", headers=operator)
    return response.json() if response.status_code == 200 else None


async def _completed(api: httpx.AsyncClient, journey_id: str, operator: dict[str, str], what: str) -> dict[str, Any]:
    async def completed() -> bool:
        journey = await _journey(api, journey_id, operator)
        return journey is not None and journey["state"] == "completed"

    await eventually(completed, timeout=60, what=what)
    journey = await _journey(api, journey_id, operator)
    assert journey is not None
    return journey


async def _through_notice(api: httpx.AsyncClient, system: Any, office: dict[str, str], proposal: dict[str, Any],
                          decision_headers: dict[str, str] | None = None) -> dict[str, Any]:  # fmt: skip
    """A naming case from proposal to approval: two expert opinions, the public notice, the calendar moved past
    its last day, the decision."""
    proposed = await api.post("/api/placenames/naming-cases", headers=office, json=proposal)
    assert proposed.status_code == 201, proposed.text
    case_id = proposed.json()["id"]
    for expert in ("王教授", "李研究员"):
        opinion = {"expert": expert, "supports": True, "opinion": "名称规范，寓意良好"}
        given = await api.post(f"/api/placenames/naming-cases/{case_id}/opinions", headers=office, json=opinion)
        assert given.status_code == 201, given.text
    notice = await api.post(f"/api/placenames/naming-cases/{case_id}/notice", headers=office)
    assert notice.status_code == 200, notice.text
    too_soon = await api.post(f"/api/placenames/naming-cases/{case_id}/decision", headers=office,
                              json={"approved": True, "reasons": "无异议"})  # fmt: skip
    assert too_soon.status_code == 422 and too_soon.json()["type"].endswith("/public-notice-not-over")
    today = system.move_clock(0)
    system.move_clock((date.fromisoformat(notice.json()["notice_until"]) - today).days + 1)
    decided = await api.post(f"/api/placenames/naming-cases/{case_id}/decision",
                             headers={**office, **(decision_headers or {})},
                             json={"approved": True, "reasons": "公示期满无异议，予以批准"})  # fmt: skip
    assert decided.status_code == 200 and decided.json()["status"] == "effective", decided.text
    result: dict[str, Any] = decided.json()
    return result


async def test_a_road_renamed_after_its_public_notice_updates_every_address_on_it(civic_system_in_time: Any) -> None:
    system = civic_system_in_time
    office = system.auth(Role.CASEWORKER, "cw-p", "placenames")
    assistance = system.auth(Role.CASEWORKER, "cw-a", "assistance")
    eldercare = system.auth(Role.CASEWORKER, "cw-e", "eldercare")
    operator = system.auth(Role.OPERATOR, "op-1")
    journey_id = f"e2e-rename-{uuid.uuid4()}"  # the decision's request starts the journey under this id
    async with httpx.AsyncClient(base_url=system.gateway_url, timeout=10) as api:
        named = await _through_notice(api, system, office, {
            "action": "name", "kind": "road", "division_code": HUANCUI_STREET, "name": "海滨路",
            "pinyin": "hai bin lu", "origin": "沿海滨而建",
        })  # fmt: skip
        road = named["place_code"]
        person, elder = resident_id(date(1970, 7, 7)), resident_id(date(1940, 4, 4), female=True)
        household = await api.post("/api/assistance/households", headers=assistance, json={
            "region_code": "371002", "area": "urban", "members": [{"resident_id": person, "relation": "本人"}],
            "address": {"road_code": road, "road_name": "海滨路", "number": 12, "detail": "3单元201室"},
        })  # fmt: skip
        assert household.status_code == 201, household.text
        registered = await api.post("/api/eldercare/elders", headers=eldercare, json={
            "resident_id": elder, "region_code": "371002", "community": "海滨社区", "living_situation": "alone",
            "door_plate": {"road_code": road, "road_name": "海滨路", "number": 30},
        })  # fmt: skip
        assert registered.status_code == 201, registered.text

        renamed = await _through_notice(api, system, office, {
            "action": "rename", "place_code": road, "name": "幸福路", "pinyin": "xing fu lu",
            "reason": "道路拓宽后统一命名",
        }, decision_headers={"x-correlation-id": journey_id})  # fmt: skip
        assert renamed["place_code"] == road

        journey = await _completed(api, journey_id, operator, "the address-change journey completed")
        assert journey["kind"] == "address-change"
        assert {s["name"]: s["state"] for s in journey["steps"]} == {
            "household-addresses": "done",
            "elder-addresses": "done",
        }
        shown = (await api.get(f"/api/assistance/households/{household.json()['id']}", headers=assistance)).json()
        assert shown["address"]["text"] == "幸福路12号3单元201室"
        elder_shown = (await api.get(f"/api/eldercare/elders/{elder}", headers=eldercare)).json()
        assert elder_shown["door_plate"]["road_name"] == "幸福路"
        name = (await api.get(f"/api/placenames/names/{road}", headers=office)).json()
        assert (name["name"], name["former_names"]) == ("幸福路", ["海滨路"])
        history = [e["type"] for e in journey["history"]]
        assert history.count("civic.placenames.road-renamed.v1") == 1
        for outcome in (
            "civic.assistance.household-addresses-updated.v1",
            "civic.eldercare.elder-addresses-updated.v1",
        ):
            assert history.count(outcome) == 1, "one answer per rename from each service"


async def test_a_divorce_after_its_cooling_off_period_has_assistance_recheck_the_household(
    civic_system_in_time: Any,
) -> None:
    system = civic_system_in_time
    registrar = system.auth(Role.CASEWORKER, "cw-m", "marriage")
    assistance = system.auth(Role.CASEWORKER, "cw-a", "assistance")
    operator = system.auth(Role.OPERATOR, "op-1")
    husband, wife = resident_id(date(1980, 1, 8)), resident_id(date(1982, 2, 9), female=True)
    journey_id = f"e2e-divorce-{uuid.uuid4()}"  # the certificate's request starts the journey under this id
    async with httpx.AsyncClient(base_url=system.gateway_url, timeout=10) as api:
        married = await api.post("/api/marriage/marriages", headers=registrar, json={
            "resident_id": husband, "name": "王强", "spouse_resident_id": wife, "spouse_name": "赵敏",
            "office_code": "371002", "both_present": True,
        })  # fmt: skip
        assert married.status_code == 201, married.text
        household = await api.post("/api/assistance/households", headers=assistance, json={
            "region_code": "371002", "area": "urban",
            "members": [{"resident_id": husband, "relation": "本人"}, {"resident_id": wife, "relation": "配偶"}],
        })  # fmt: skip
        assert household.status_code == 201, household.text

        applied = await api.post("/api/marriage/divorces", headers=registrar,
                                 json={"resident_id": husband, "spouse_resident_id": wife, "office_code": "371002"})  # fmt: skip
        assert applied.status_code == 201, applied.text
        divorce = applied.json()
        certificate = f"/api/marriage/divorces/{divorce['id']}/certificate"
        early = await api.post(certificate, headers=registrar, json={"both_present": True})
        assert early.status_code == 422 and early.json()["type"].endswith("/still-in-cooling-off-period")

        first_day = date.fromisoformat(divorce["first_day_for_certificate"])  # moved past rest days if need be
        system.move_clock((first_day - system.move_clock(0)).days)
        granted = await api.post(certificate, headers={**registrar, "x-correlation-id": journey_id},
                                 json={"both_present": True})  # fmt: skip
        assert granted.status_code == 200, granted.text

        journey = await _completed(api, journey_id, operator, "the divorce journey completed")
        assert journey["kind"] == "divorce"
        assert [(s["name"], s["state"]) for s in journey["steps"]] == [("households-rechecked", "done")]
        reviews = await api.get(f"/api/assistance/households/{household.json()['id']}/reviews", headers=assistance)
        assert reviews.status_code == 200, reviews.text
        # The marriage may have reached assistance after the household was recorded, and have its review too.
        assert len([r for r in reviews.json() if "divorce" in r["reason"]]) == 1
        for party in (husband, wife):  # both parties follow their divorce
            theirs = (await api.get("/journeys", headers=system.auth(Role.CITIZEN, party))).json()
            assert [j["label_zh"] for j in theirs if j["id"] == journey_id] == ["离婚登记一件事"]
