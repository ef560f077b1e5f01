"""Who may do what in eldercare's home and community services: no identity is 401; writes need an eldercare
caseworker (alarms also a department's system); a citizen's own records are theirs, anyone else's do not exist for
them (404); auditors read with resident IDs masked; nothing an unauthorised caller tried was written."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

from civic.auth import Principal, Role, identity_headers
from civic.broker import EmbeddedBroker
from civic.identity import mask
from tests.factories import resident_id
from tests.integration.test_eldercare_allowances import eldercare


async def test_the_home_and_community_services_authorization_matrix(broker: EmbeddedBroker, tmp_path: Path) -> None:
    elder, stranger = resident_id(date(1940, 10, 10)), resident_id(date(1945, 5, 5))
    async with eldercare(broker, tmp_path) as ec:
        await ec.register(elder, door_plate={"road_code": "R-sec", "road_name": "青岛路", "number": 9})
        await ec.api.post(f"/time-bank/{elder}/earnings", headers=ec.cw,
                          json={"hours": "1", "service": "陪聊", "on": "2026-11-01"})  # fmt: skip
        await ec.api.post(f"/elders/{elder}/visits", headers=ec.cw,
                          json={"visited_on": "2026-11-01", "visitor": "社工", "outcome": "well"})  # fmt: skip
        service = (await ec.api.post("/home-services", headers=ec.cw, json={
            "resident_id": elder, "service": "meal_assistance", "started_on": "2026-11-01"})).json()  # fmt: skip

        device = (await ec.api.post("/devices", headers=ec.cw, json={
            "device_id": "sec-button-1", "kind": "emergency_button", "resident_id": elder,
            "installed_on": "2026-10-01"})).json()["device_id"]  # fmt: skip

        def as_role(role: Role, domain: str | None = None) -> dict[str, str]:
            return identity_headers(Principal(subject=f"{role.value}-1", role=role, domain=domain), ec.settings)

        alarm = {"alarm_id": "sec-1", "resident_id": elder, "alarm": "sos",
                 "raised_at": datetime.now(UTC).isoformat()}  # fmt: skip
        writes = [
            ("POST", f"/time-bank/{elder}/earnings", {"hours": "5", "service": "x", "on": "2026-11-02"}),
            ("POST", f"/time-bank/{elder}/spendings", {"hours": "1", "service": "x", "on": "2026-11-02"}),
            ("POST", f"/elders/{elder}/visits", {"visited_on": "2026-11-02", "visitor": "x", "outcome": "well"}),
            ("POST", "/home-services", {"resident_id": elder, "service": "day_care", "started_on": "2026-11-02"}),
            ("POST", f"/home-services/{service['id']}/end", {"ended_on": "2026-11-02", "reason": "x"}),
            ("POST", "/alarms", alarm),
            (
                "POST",
                "/devices",
                {"device_id": "sec-2", "kind": "door_sensor", "resident_id": elder, "installed_on": "2026-10-02"},
            ),
            (
                "POST",
                f"/devices/{device}/move",
                {"from_resident_id": elder, "resident_id": stranger, "moved_on": "2026-10-03"},
            ),
            (
                "POST",
                f"/devices/{device}/retire",
                {"from_resident_id": elder, "retired_on": "2026-10-03", "reason": "x"},
            ),
        ]
        for method, path, body in writes:
            assert (await ec.api.request(method, path, json=body)).status_code == 401, path
            others = [as_role(Role.CASEWORKER, "marriage"), as_role(Role.AUDITOR), as_role(Role.OPERATOR),
                      ec.citizen(elder)]  # fmt: skip
            if path != "/alarms":
                others.append(as_role(Role.DEPARTMENT))
            for who in others:
                response = await ec.api.request(method, path, json=body, headers=who)
                assert response.status_code == 403, (path, response.status_code, response.text)

        own = [
            f"/time-bank/{elder}",
            f"/elders/{elder}/visits",
            f"/elders/{elder}/home-services",
            f"/elders/{elder}",
            f"/elders/{elder}/devices",
            f"/devices/{device}",
        ]
        for path in own:
            assert (await ec.api.get(path, headers=ec.citizen(elder))).status_code == 200, path
            theirs = await ec.api.get(path, headers=ec.citizen(stranger))
            assert theirs.status_code == 404 and elder not in theirs.text, path
            audited = await ec.api.get(path, headers=as_role(Role.AUDITOR))
            assert audited.status_code == 200 and elder not in audited.text and mask(elder) in audited.text, path
        assert (await ec.api.get("/tasks", headers=as_role(Role.AUDITOR))).status_code == 403
        for who in (as_role(Role.AUDITOR), ec.citizen(elder), as_role(Role.DEPARTMENT)):
            assert (await ec.api.get("/devices", headers=who)).status_code == 403, "the registry is the caseworkers'"

        account = (await ec.api.get(f"/time-bank/{elder}", headers=ec.cw)).json()
        assert account["balance"] == "1.00" and len(account["entries"]) == 1, "nothing the others tried was written"
        assert [s["service"] for s in (await ec.api.get(f"/elders/{elder}/home-services", headers=ec.cw)).json()] \
            == ["meal_assistance"]  # fmt: skip
        assert len((await ec.api.get(f"/elders/{elder}/visits", headers=ec.cw)).json()) == 1
        assert (await ec.api.get("/tasks", headers=ec.cw)).json() == []
        devices = (await ec.api.get("/devices", headers=ec.cw)).json()
        assert [(d["device_id"], d["status"], len(d["history"])) for d in devices] == [(device, "installed", 1)]
