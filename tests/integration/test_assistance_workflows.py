"""Assistance's part in two one-thing workflows, on the real broker and SQLite: a road renamed updates the
addresses of the households on it (one HouseholdAddressesUpdated per rename, also for none); a marriage or a
divorce re-checks the households of both parties (one HouseholdsRechecked per registration, in the journey)."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import date
from pathlib import Path
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer, TopicPartition

from civic.auth import Principal, Role, identity_headers
from civic.broker import EmbeddedBroker
from civic.config import Settings
from civic.identity import pseudonym
from contracts.marriage import DivorceRegistered, MarriageRegistered
from contracts.placenames import DoorPlateChanged, RoadRenamed
from services.assistance.main import build_app
from tests.apps import serving
from tests.conftest import eventually
from tests.factories import resident_id
from tests.kit import ProducerSide, inbox_ids, outbox_pending, settings_for

CASEWORKER = Principal(subject="cw-1", role=Role.CASEWORKER, domain="assistance")
ADDRESSES_UPDATED = "civic.assistance.household-addresses-updated.v1"
RECHECKED = "civic.assistance.households-rechecked.v1"


async def publish(settings: Settings, *events: Any) -> list[str]:
    """Each event in its own transaction, so each gets an id (and a journey) of its own."""
    producer = ProducerSide(settings)
    await producer.start()
    try:
        ids = await producer.write(events)
        await eventually(lambda: _drained(producer), what="events published")
        return ids
    finally:
        await producer.stop()


async def _drained(producer: ProducerSide) -> bool:
    return await outbox_pending(producer.engine) == 0


async def on_topic(bootstrap: str, topic: str, wanted: Any) -> list[dict[str, Any]]:
    """Every record on ``topic`` so far whose data ``wanted`` accepts, with its CloudEvents headers."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        await consumer._client.force_metadata_update()
        partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or set())]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        end = await consumer.end_offsets(partitions)
        seen: list[dict[str, Any]] = []
        async with asyncio.timeout(60):
            while [tp for tp in partitions if await consumer.position(tp) < end[tp]]:
                for records in (await consumer.getmany(timeout_ms=200)).values():
                    for r in records:
                        data = json.loads(r.value or b"{}")
                        headers = {k: v.decode() for k, v in r.headers}
                        if wanted(headers["ce_type"], data):
                            seen.append({"type": headers["ce_type"], "headers": headers, "data": data})
        return seen
    finally:
        await consumer.stop()


def household(ids: list[str], income: str = "400", address: dict[str, Any] | None = None) -> dict[str, Any]:
    relations = ["本人", "子女", "子女"]
    body: dict[str, Any] = {
        "region_code": "371002",
        "area": "urban",
        "members": [{"resident_id": r, "relation": relations[i]} for i, r in enumerate(ids)],
        "incomes": [{"resident_id": r, "kind": "wages", "monthly_amount": income} for r in ids],
    }
    if address is not None:
        body["address"] = address
    return body


async def approved(api: httpx.AsyncClient, cw: dict[str, str], body: dict[str, Any]) -> tuple[str, str]:
    h = await api.post("/households", json=body, headers=cw)
    assert h.status_code == 201, h.text
    app = await api.post("/applications", json={"household_id": h.json()["id"], "benefit": "dibao"}, headers=cw)
    app_id = app.json()["id"]
    assert (await api.post(f"/applications/{app_id}/verify", headers=cw)).status_code == 200
    decided = await api.post(f"/applications/{app_id}/approve", json={"paid_from": "2026-01-01"}, headers=cw)
    assert decided.status_code == 200, decided.text
    return h.json()["id"], decided.json()["case_id"]


async def test_a_renamed_road_updates_every_household_on_it_once(broker: EmbeddedBroker, tmp_path: Path) -> None:
    settings = settings_for(f"assistance-{uuid.uuid4().hex[:6]}", tmp_path, broker.bootstrap)
    placenames = settings_for("placenames", tmp_path / "placenames", broker.bootstrap)
    cw = identity_headers(CASEWORKER, settings)
    road, other, empty = (f"R-{uuid.uuid4().hex[:10]}" for _ in range(3))
    app = build_app(settings)
    async with serving(app) as api:
        on_road = [
            {"road_code": road, "road_name": "新华路", "number": 12, "suffix": "1", "detail": "3单元201室"},
            {"road_code": road, "road_name": "新华路", "number": 5},
        ]
        homes = []
        for address in [*on_road, {"road_code": other, "road_name": "新华路", "number": 12}, None]:
            created = await api.post("/households", json=household([resident_id()], address=address), headers=cw)
            assert created.status_code == 201, created.text
            homes.append(created.json())
        assert homes[0]["address"]["text"] == "新华路12-1号3单元201室"
        assert homes[3]["address"] is None, "a household without an address is registered as before"
        bad = await api.post("/households", headers=cw,
                             json=household([resident_id()], address={"road_code": road, "road_name": "x", "number": 0}))  # fmt: skip
        assert bad.status_code == 422 and bad.json()["field"] == "address.number"

        renamed = RoadRenamed(road_code=road, region_code="371002", old_name="新华路", new_name="和平路",
                              effective_on=date(2026, 11, 1))  # fmt: skip
        [rename_id] = await publish(placenames, renamed)

        async def outcome(code: str) -> list[dict[str, Any]]:
            return await on_topic(broker.bootstrap, "civic.assistance",
                                  lambda t, d: t == ADDRESSES_UPDATED and d["road_code"] == code)  # fmt: skip

        async def announced() -> bool:
            return len(await outcome(road)) == 1

        await eventually(announced, what="HouseholdAddressesUpdated for the renamed road")
        [event] = await outcome(road)
        assert event["data"] == {"road_code": road, "new_name": "和平路", "households_updated": 2}
        assert event["headers"]["ce_subject"] == road
        assert event["headers"]["ce_correlationid"] == rename_id, "the journey of the rename"
        assert event["headers"]["ce_causationid"] == rename_id

        shown = [(await api.get(f"/households/{h['id']}", headers=cw)).json()["address"] for h in homes]
        assert [a["text"] if a else None for a in shown] == ["和平路12-1号3单元201室", "和平路5号", "新华路12号", None]
        member = identity_headers(Principal(subject=homes[1]["members"][0]["resident_id"], role=Role.CITIZEN), settings)
        assert (await api.get(f"/households/{homes[1]['id']}", headers=member)).json()["address"]["text"] == "和平路5号"

        # The same rename published again (another event id), and a rename of a road no household lives on.
        again_id, empty_id = await publish(placenames, renamed, renamed.model_copy(update={"road_code": empty}))

        async def empty_announced() -> bool:
            return len(await outcome(empty)) == 1

        await eventually(empty_announced, what="HouseholdAddressesUpdated for a road with no household")
        [none] = await outcome(empty)
        assert none["data"]["households_updated"] == 0 and none["headers"]["ce_correlationid"] == empty_id

        async def duplicate_handled() -> bool:
            return again_id in await inbox_ids(app.state.service.engine)

        await eventually(duplicate_handled, what="the second copy of the rename handled")
        assert len(await outcome(road)) == 1, "one HouseholdAddressesUpdated per rename"
        moved = await api.put(f"/households/{homes[1]['id']}/address", headers=member,
                              json={"road_code": other, "road_name": "新华路", "number": 7})  # fmt: skip
        assert moved.status_code == 200 and moved.json()["address"]["text"] == "新华路7号"
        stranger = identity_headers(Principal(subject=resident_id(), role=Role.CITIZEN), settings)
        hidden = await api.put(f"/households/{homes[1]['id']}/address", headers=stranger,
                               json={"road_code": other, "road_name": "新华路", "number": 8})  # fmt: skip
        assert hidden.status_code == 404


async def test_marriage_and_divorce_recheck_the_households_of_both_parties(
    broker: EmbeddedBroker, tmp_path: Path
) -> None:
    settings = settings_for(f"assistance-{uuid.uuid4().hex[:6]}", tmp_path, broker.bootstrap)
    marriage = settings_for("marriage", tmp_path / "marriage", broker.bootstrap)
    cw = identity_headers(CASEWORKER, settings)
    applicant, child, spouse = resident_id(date(1980, 1, 2)), resident_id(date(2012, 5, 6)), resident_id(female=True)
    app = build_app(settings)
    async with serving(app) as api:
        household_id, case_id = await approved(api, cw, household([applicant, child]))
        assert (await api.get(f"/cases/{case_id}", headers=cw)).json()["monthly_amount"] == "580.00"
        # The caseworker records the spouse moving in (no income) before the registration reaches assistance.
        joined = await api.post(f"/households/{household_id}/members", headers=cw,
                                json={"resident_id": spouse, "relation": "配偶"})  # fmt: skip
        assert joined.status_code == 201, joined.text

        registered = MarriageRegistered(resident_id=applicant, spouse_resident_id=spouse,
                                        registration_id=uuid.uuid4().hex, registered_on=date(2026, 3, 15))  # fmt: skip
        marriage_ids = await publish(marriage, registered, registered)  # the second copy: another event id

        async def rechecks(person: str) -> list[dict[str, Any]]:
            return await on_topic(broker.bootstrap, "civic.assistance",
                                  lambda t, d: t == RECHECKED and d["resident_id"] == person)  # fmt: skip

        async def rechecked() -> bool:
            return len(await rechecks(applicant)) == 1

        await eventually(rechecked, what="HouseholdsRechecked after the marriage")
        [event] = await rechecks(applicant)
        assert event["data"]["trigger"] == "civic.marriage.marriage-registered.v1"
        assert (event["data"]["households_rechecked"], event["data"]["benefits_changed"]) == (1, 1)
        key = settings.pseudonym_key.get_secret_value().encode()
        assert event["headers"]["ce_subject"] == pseudonym(applicant, key), "the marriage event's subject"
        assert event["headers"]["ce_correlationid"] in marriage_ids

        case = (await api.get(f"/cases/{case_id}", headers=cw)).json()
        assert case["monthly_amount"] == "1270.00", "(690 × 3 − 800) on the recorded members, from April"
        history = (await api.get(f"/cases/{case_id}/history", headers=cw)).json()
        assert [(h["kind"], h["effective_from"], h["amount"]) for h in history][1:] == [
            ("amount changed", "2026-04-01", "1270.00")
        ]
        changed = await on_topic(broker.bootstrap, "civic.assistance",
                                 lambda t, d: t.endswith("benefit-changed.v1") and d["case_id"] == case_id)  # fmt: skip
        assert [e["data"]["monthly_amount"] for e in changed] == ["1270.00"]
        reviews = (await api.get(f"/households/{household_id}/reviews", headers=cw)).json()
        assert len(reviews) == 1 and "verify" in reviews[0]["reason"]

        async def both_handled() -> bool:
            return set(marriage_ids) <= set(await inbox_ids(app.state.service.engine))

        await eventually(both_handled, what="both copies of the marriage handled")
        assert len(await rechecks(applicant)) == 1, "one HouseholdsRechecked per registration"

        # A divorce of two people assistance does not know: still one outcome, with nothing re-checked.
        strangers = resident_id(), resident_id(female=True)
        divorce = DivorceRegistered(resident_id=strangers[0], spouse_resident_id=strangers[1],
                                    registration_id=uuid.uuid4().hex, registered_on=date(2026, 3, 20))  # fmt: skip
        await publish(marriage, divorce)

        async def divorce_rechecked() -> bool:
            return len(await rechecks(strangers[0])) == 1

        await eventually(divorce_rechecked, what="HouseholdsRechecked after an unrelated divorce")
        [outcome] = await rechecks(strangers[0])
        assert outcome["data"]["trigger"] == "civic.marriage.divorce-registered.v1"
        assert (outcome["data"]["households_rechecked"], outcome["data"]["benefits_changed"]) == (0, 0)


async def test_a_changed_house_number_moves_the_households_at_it(broker: EmbeddedBroker, tmp_path: Path) -> None:
    settings = settings_for(f"assistance-{uuid.uuid4().hex[:6]}", tmp_path, broker.bootstrap)
    placenames = settings_for("placenames", tmp_path / "placenames", broker.bootstrap)
    cw = identity_headers(CASEWORKER, settings)
    road = f"R-{uuid.uuid4().hex[:10]}"
    async with serving(build_app(settings)) as api:
        homes = []
        for number in (3, 5):
            address = {"road_code": road, "road_name": "海港路", "number": number, "detail": "2单元101室"}
            created = await api.post("/households", json=household([resident_id()], address=address), headers=cw)
            assert created.status_code == 201, created.text
            homes.append(created.json()["id"])
        change = DoorPlateChanged(plate_id="p-1", road_code=road, region_code="371002", old_number=3, number=7,
                                  suffix="1", address="海港路7-1号", smart_code="SMART1", changed_on=date(2026, 11, 20))  # fmt: skip
        await publish(placenames, change, change)  # the second: the same change published again

        async def shown() -> list[str]:
            return [(await api.get(f"/households/{h}", headers=cw)).json()["address"]["text"] for h in homes]

        async def moved() -> bool:
            return (await shown())[0] == "海港路7-1号2单元101室"

        await eventually(moved, what="the household at No. 3 shown at No. 7-1")
        assert await shown() == ["海港路7-1号2单元101室", "海港路5号2单元101室"], "the neighbour stays where it is"
