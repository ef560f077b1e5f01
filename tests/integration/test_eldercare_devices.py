"""The registry of monitoring devices through eldercare's API on the real broker and SQLite: a device registered,
moved (history kept) and retired; the platform's alarms naming only the device reach the elder it watched on the
alarm's day, once per alarm id; unknown and retired devices and bad input refused with nothing written; a death
makes the devices due for removal (their alarms still taken, flagged) and its revocation puts them back."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import httpx

from civic.auth import Principal, Role, identity_headers
from civic.broker import EmbeddedBroker
from civic.clock import CHINA, china_today
from civic.identity import mask
from contracts.funeral import DeathRevoked
from tests.conftest import eventually
from tests.factories import resident_id
from tests.integration.test_eldercare_allowances import Eldercare, eldercare
from tests.integration.test_eldercare_reactions import death, deliver

TODAY = china_today()  # the day the service's clock says it is (the fixture's, as the kernel's)
INSTALLED, RETIRED = "civic.eldercare.device-installed.v1", "civic.eldercare.device-retired.v1"


def device_id() -> str:
    return f"zs5g-{uuid.uuid4().hex[:10]}"


def days_ago(n: int) -> datetime:
    """Noon in China ``n`` days before ``TODAY``: on the day meant, even if China's midnight passes during the run."""
    return datetime.combine(TODAY - timedelta(days=n), time(12), tzinfo=CHINA)


def platform(ec: Eldercare) -> dict[str, str]:
    return identity_headers(Principal(subject="5g-monitoring", role=Role.DEPARTMENT), ec.settings)


async def register_device(ec: Eldercare, device: str, elder: str, kind: str = "fall_sensor",
                          installed_on: date = TODAY - timedelta(days=30), **more: str) -> httpx.Response:  # fmt: skip
    body = {"device_id": device, "kind": kind, "resident_id": elder, "installed_on": installed_on.isoformat(), **more}
    return await ec.api.post("/devices", json=body, headers=ec.cw)


async def alarm(ec: Eldercare, device: str, raised_at: datetime | None = None, alarm_id: str | None = None,
                kind: str = "fall") -> httpx.Response:  # fmt: skip
    body = {"alarm_id": alarm_id or f"al-{uuid.uuid4().hex[:10]}", "device_id": device, "alarm": kind,
            "raised_at": (raised_at or datetime.now(UTC)).isoformat()}  # fmt: skip
    return await ec.api.post("/alarms", json=body, headers=platform(ec))


async def tasks(ec: Eldercare) -> list[dict[str, Any]]:
    return list((await ec.api.get("/tasks", headers=ec.cw)).json())


def problem(response: httpx.Response, status: int, kind: str, field: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert (response.json()["type"].rsplit("/", 1)[-1], response.json()["field"]) == (kind, field), response.text


async def test_a_device_registered_moved_and_retired_sends_each_alarm_to_the_elder_it_watched_that_day(
    broker: EmbeddedBroker, tmp_path: Path
) -> None:
    wang, li = resident_id(date(1939, 4, 4), female=True), resident_id(date(1941, 9, 9))
    sensor = device_id()
    async with eldercare(broker, tmp_path) as ec:
        ec.clock.today = TODAY  # the service's day stays the module's, even past China's midnight
        await ec.register(wang, community="鲸园街道戚家庄社区", address="戚家庄12号")
        await ec.register(li, community="竹岛街道海埠社区")
        registered = await register_device(ec, sensor, wang, address="戚家庄12号 卫生间")
        assert registered.status_code == 201, registered.text
        assert (registered.json()["status"], registered.json()["community"]) == ("installed", "鲸园街道戚家庄社区")

        opened = await alarm(ec, sensor, alarm_id="first")
        assert opened.status_code == 201, opened.text
        task = opened.json()
        assert (task["resident_id"], task["device_id"], task["community"], task["region_code"]) == \
            (mask(wang), sensor, "鲸园街道戚家庄社区", "371002")  # fmt: skip
        assert task["elder_deceased"] is False
        resent = await asyncio.gather(*(alarm(ec, sensor, alarm_id="first") for _ in range(2)))
        assert [r.status_code for r in resent] == [200, 200] and {r.json()["id"] for r in resent} == {task["id"]}

        moved = await ec.api.post(f"/devices/{sensor}/move", headers=ec.cw,
                                  json={"from_resident_id": wang, "resident_id": li,
                                        "moved_on": (TODAY - timedelta(days=10)).isoformat()})  # fmt: skip
        assert moved.status_code == 200, moved.text
        assert [(h["resident_id"], h["ended_by"]) for h in moved.json()["history"]] == [(wang, "moved"), (li, None)]
        now_li = (await alarm(ec, sensor)).json()
        assert (now_li["resident_id"], now_li["community"]) == (mask(li), "竹岛街道海埠社区")
        late = await alarm(ec, sensor, raised_at=days_ago(20))
        assert late.status_code == 201 and late.json()["resident_id"] == mask(wang), "the home it was in when it rang"
        too_early = await alarm(ec, sensor, raised_at=days_ago(40))
        problem(too_early, 422, "device-not-installed", "device_id")

        in_haibu = await ec.api.get("/devices", params={"community": "竹岛街道海埠社区"}, headers=ec.cw)
        assert [d["device_id"] for d in in_haibu.json()] == [sensor], "listed by where it is now"
        assert (await ec.api.get("/devices", params={"community": "鲸园街道戚家庄社区"}, headers=ec.cw)).json() == []
        li_sees = await ec.api.get(f"/elders/{li}/devices", headers=ec.citizen(li))
        assert [d["device_id"] for d in li_sees.json()] == [sensor]
        assert [h["resident_id"] for h in li_sees.json()[0]["history"]] == [li], "not the previous elder's span"
        assert (await ec.api.get(f"/elders/{wang}/devices", headers=ec.citizen(wang))).json() == []
        assert (await ec.api.get(f"/devices/{sensor}", headers=ec.citizen(wang))).status_code == 404
        assert (await ec.api.get(f"/devices/{sensor}", headers=ec.citizen(li))).status_code == 200
        assert (await ec.api.get(f"/elders/{li}/devices", headers=ec.citizen(wang))).status_code == 404
        assert (await ec.api.post(f"/devices/{sensor}/retire", headers=ec.citizen(li),
                                  json={"from_resident_id": li, "retired_on": TODAY.isoformat(), "reason": "x"})).status_code == 403  # fmt: skip

        retired = await ec.api.post(f"/devices/{sensor}/retire", headers=ec.cw,
                                    json={"from_resident_id": li, "retired_on": TODAY.isoformat(), "reason": "collected, battery dead"})  # fmt: skip
        assert retired.status_code == 200 and retired.json()["status"] == "retired", retired.text
        before = len(await tasks(ec))
        problem(await alarm(ec, sensor), 422, "device-retired", "device_id")
        problem(await alarm(ec, "never-registered"), 422, "device-unknown", "device_id")
        assert len(await tasks(ec)) == before, "nothing written"
        assert (await alarm(ec, sensor, alarm_id="first")).json()["id"] == task["id"], "a resend still finds it"
        assert (await alarm(ec, sensor, raised_at=days_ago(1))).status_code == 201, "rang before it was collected"
        again = await ec.api.post(f"/devices/{sensor}/move", headers=ec.cw,
                                  json={"from_resident_id": li, "resident_id": wang, "moved_on": TODAY.isoformat()})  # fmt: skip
        problem(again, 409, "device-retired", "device_id")
        problem(await register_device(ec, sensor, wang), 409, "device-already-registered", "device_id")
        assert (await ec.api.get(f"/elders/{li}/devices", headers=ec.cw)).json() == []

        events = await ec.published({wang, li})
        facts = [(k, d["resident_id"], d["device_id"]) for k, d in events if k in (INSTALLED, RETIRED)]
        assert sorted(facts) == sorted([(INSTALLED, wang, sensor), (INSTALLED, li, sensor), (RETIRED, li, sensor)])


async def test_bad_device_and_alarm_input_is_refused_naming_the_field_and_nothing_is_written(
    broker: EmbeddedBroker, tmp_path: Path
) -> None:
    elder, unknown = resident_id(date(1940, 1, 1)), resident_id(date(1942, 2, 2))
    sensor = device_id()
    async with eldercare(broker, tmp_path) as ec:
        ec.clock.today = TODAY  # the service's day stays the module's, even past China's midnight
        await ec.register(elder)
        wrong_check = elder[:-1] + ("0" if elder[-1] != "0" else "1")
        problem(await register_device(ec, sensor, wrong_check), 422, "validation-error", "resident_id")
        problem(await register_device(ec, sensor, elder, kind="toaster"), 422, "validation-error", "kind")
        problem(await register_device(ec, sensor, elder, installed_on=TODAY + timedelta(days=2)), 422,
                "date-in-future", "installed_on")  # fmt: skip
        problem(await register_device(ec, sensor, unknown), 422, "elder-not-registered", "resident_id")
        problem(await register_device(ec, "has space", elder), 422, "validation-error", "device_id")
        problem(await register_device(ec, sensor, elder, colour="red"), 422, "validation-error", "colour")
        assert (await ec.api.get("/devices", headers=ec.cw)).json() == [], "nothing written"

        assert (await register_device(ec, sensor, elder)).status_code == 201
        both = {"alarm_id": "x-1", "device_id": sensor, "resident_id": elder, "alarm": "sos",
                "raised_at": datetime.now(UTC).isoformat()}  # fmt: skip
        problem(await ec.api.post("/alarms", json=both, headers=platform(ec)), 422, "device-or-resident",
                "resident_id")  # fmt: skip
        neither = {k: v for k, v in both.items() if k not in ("device_id", "resident_id")}
        problem(await ec.api.post("/alarms", json=neither, headers=platform(ec)), 422, "device-or-resident",
                "device_id")  # fmt: skip
        assert await tasks(ec) == []

        def move(**body: str) -> Any:
            return ec.api.post(f"/devices/{sensor}/move", headers=ec.cw, json={"from_resident_id": elder, **body})

        problem(await move(resident_id=elder, moved_on=TODAY.isoformat()), 422, "same-elder", "resident_id")
        problem(await move(from_resident_id=unknown, resident_id=unknown, moved_on=TODAY.isoformat()), 409,
                "device-changed", "from_resident_id")  # fmt: skip
        problem(await move(resident_id=unknown, moved_on=TODAY.isoformat()), 422, "elder-not-registered",
                "resident_id")  # fmt: skip
        await ec.register(unknown)
        problem(await move(resident_id=unknown, moved_on=(TODAY - timedelta(days=31)).isoformat()), 422,
                "date-out-of-range", "moved_on")  # fmt: skip
        problem(await move(resident_id=unknown, moved_on=(TODAY + timedelta(days=2)).isoformat()), 422,
                "date-out-of-range", "moved_on")  # fmt: skip
        retire = await ec.api.post(f"/devices/{sensor}/retire", headers=ec.cw,
                                   json={"from_resident_id": elder, "retired_on": (TODAY - timedelta(days=31)).isoformat(),
                                         "reason": "x"})  # fmt: skip
        problem(retire, 422, "date-out-of-range", "retired_on")
        assert (await ec.api.post("/devices/nope/retire", headers=ec.cw, json={
            "from_resident_id": elder, "retired_on": TODAY.isoformat(), "reason": "x"})).status_code == 404  # fmt: skip
        shown = (await ec.api.get(f"/devices/{sensor}", headers=ec.cw)).json()
        assert (shown["status"], len(shown["history"]), shown["resident_id"]) == ("installed", 1, elder)


async def test_two_caseworkers_moving_the_same_device_at_once_one_wins(broker: EmbeddedBroker, tmp_path: Path) -> None:
    first, second, third = (resident_id(date(1938 + i, 1, 1)) for i in range(3))
    sensor = device_id()
    async with eldercare(broker, tmp_path) as ec:
        ec.clock.today = TODAY  # the service's day stays the module's, even past China's midnight
        for rid in (first, second, third):
            await ec.register(rid)
        await register_device(ec, sensor, first)
        # Both read it at the first elder's. Whether the requests interleave or not, the second move must not
        # silently take the device from the elder the first one gave it to.
        answers = await asyncio.gather(*(ec.api.post(f"/devices/{sensor}/move", headers=ec.cw, json={
            "from_resident_id": first, "resident_id": rid, "moved_on": TODAY.isoformat()})
            for rid in (second, third)))  # fmt: skip
        assert sorted(a.status_code for a in answers) == [200, 409], [a.text for a in answers]
        loser = next(a for a in answers if a.status_code == 409)
        assert loser.json()["type"].endswith("/device-changed"), loser.text
        shown = (await ec.api.get(f"/devices/{sensor}", headers=ec.cw)).json()
        assert [h["ended_by"] for h in shown["history"]] == ["moved", None], "one move, one history line"

        retire = {"from_resident_id": shown["resident_id"], "retired_on": TODAY.isoformat(), "reason": "collected"}
        move = {"from_resident_id": shown["resident_id"], "resident_id": first, "moved_on": TODAY.isoformat()}
        racing = await asyncio.gather(ec.api.post(f"/devices/{sensor}/retire", headers=ec.cw, json=retire),
                                       ec.api.post(f"/devices/{sensor}/retire", headers=ec.cw, json=retire),
                                       ec.api.post(f"/devices/{sensor}/move", headers=ec.cw, json=move))  # fmt: skip
        assert sorted(a.status_code for a in racing) == [200, 409, 409], [a.text for a in racing]
        shown = (await ec.api.get(f"/devices/{sensor}", headers=ec.cw)).json()
        assert len(shown["history"]) == len({h["installed_on"] + h["resident_id"] for h in shown["history"]})
        assert shown["history"][-1]["removed_on"] == (TODAY.isoformat() if shown["status"] == "retired" else None)


async def test_a_death_makes_the_devices_due_for_removal_their_alarms_flagged_and_revocation_puts_them_back(
    broker: EmbeddedBroker, tmp_path: Path
) -> None:
    elder, widow = resident_id(date(1936, 3, 3)), resident_id(date(1939, 5, 5), female=True)
    smoke, button, gas = device_id(), device_id(), device_id()
    async with eldercare(broker, tmp_path) as ec:
        ec.clock.today = TODAY  # the service's day stays the module's, even past China's midnight
        await ec.register(elder, community="鲸园街道戚家庄社区")
        await ec.register(widow, community="鲸园街道戚家庄社区")
        for device, kind in ((smoke, "smoke_detector"), (button, "emergency_button"), (gas, "gas_detector")):
            assert (await register_device(ec, device, elder, kind=kind)).status_code == 201
        registration = f"d-{elder[-6:]}"
        await deliver(broker, "funeral", death(elder, registration, TODAY - timedelta(days=1)))  # delivered twice

        async def statuses() -> dict[str, str]:
            listed = (await ec.api.get("/devices", headers=ec.cw)).json()
            return {d["device_id"]: d["status"] for d in listed}

        async def marked() -> bool:
            return (await statuses())[smoke] == "removal_due"

        await eventually(marked, what="the deceased's devices due for removal")
        assert await statuses() == {smoke: "removal_due", button: "removal_due", gas: "removal_due"}
        due = (await ec.api.get("/devices", params={"status": "removal_due"}, headers=ec.cw)).json()
        assert sorted(d["device_id"] for d in due) == sorted([smoke, button, gas])

        fire = await alarm(ec, smoke, kind="smoke")
        assert fire.status_code == 201, "a smoke alarm in the home is taken all the same"
        assert (fire.json()["resident_id"], fire.json()["elder_deceased"]) == (mask(elder), True)
        assert (await ec.api.get(f"/tasks/{fire.json()['id']}", headers=ec.cw)).json()["resident_id"] == elder
        problem(await register_device(ec, device_id(), elder), 409, "deceased", "resident_id")

        given = await ec.api.post(f"/devices/{button}/move", headers=ec.cw,
                                  json={"from_resident_id": elder, "resident_id": widow, "moved_on": TODAY.isoformat()})  # fmt: skip
        assert given.status_code == 200 and given.json()["status"] == "installed", "the widow keeps the button"
        collected = await ec.api.post(f"/devices/{gas}/retire", headers=ec.cw,
                                      json={"from_resident_id": elder, "retired_on": TODAY.isoformat(),
                                            "reason": "collected after death"})  # fmt: skip
        assert collected.status_code == 200

        revoked = DeathRevoked(resident_id=elder, registration_id=registration, reason="wrong person",
                               revoked_at=datetime.now(UTC))  # fmt: skip
        await deliver(broker, "funeral", revoked)

        async def back() -> bool:
            return (await statuses())[smoke] == "installed"

        await eventually(back, what="the smoke detector installed again")
        assert await statuses() == {smoke: "installed", button: "installed", gas: "retired"}, \
            "what a caseworker changed meanwhile stays as they left it"  # fmt: skip
        assert [d["device_id"] for d in (await ec.api.get(f"/elders/{widow}/devices", headers=ec.cw)).json()] \
            == [button]  # fmt: skip
        assert (await alarm(ec, smoke, kind="smoke")).json()["elder_deceased"] is False
        await deliver(broker, "funeral", death(elder, registration, TODAY - timedelta(days=1)))  # an old copy
        await ec.published({elder})  # the outbox has caught up: the copies were handled
        assert (await statuses())[smoke] == "installed", "a copy of the first death does not mark them again"
