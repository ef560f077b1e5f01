"""临时救助 through the API on the real broker and SQLite: an emergency advance paid at once and flagged when its
paperwork is overdue; an expenditure grant approved once and paid in stages by a job that pays nothing twice."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from civic.auth import Principal, Role, identity_headers
from civic.broker import EmbeddedBroker
from civic.config import Settings
from civic.events import Event
from contracts.funeral import DeathRegistered, DeathRevoked, Reporter
from services.assistance.main import build_app
from services.assistance.policy_store import PolicyParameter
from tests.apps import serving
from tests.conftest import eventually
from tests.factories import resident_id
from tests.kit import ProducerSide, inbox_ids, outbox_pending, settings_for

CASEWORKER = Principal(subject="cw-1", role=Role.CASEWORKER, domain="assistance")
TEMPORARY = "civic.assistance.temporary-"


async def on_topic(bootstrap: str, people: set[str]) -> list[dict[str, Any]]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        await consumer._client.force_metadata_update()
        topic = "civic.assistance"
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
                        kind = dict(r.headers)["ce_type"].decode()
                        if data.get("resident_id") in people and kind.startswith(TEMPORARY):
                            seen.append({"type": kind.removeprefix(TEMPORARY).removesuffix(".v1"), "data": data})
        return seen
    finally:
        await consumer.stop()


async def test_emergency_advance_and_staged_expenditure(broker: EmbeddedBroker, tmp_path: Path) -> None:
    settings = settings_for(f"assistance-{uuid.uuid4().hex[:6]}", tmp_path, broker.bootstrap)
    cw = identity_headers(CASEWORKER, settings)
    app = build_app(settings)
    day = [date(2026, 3, 10)]
    app.state.clock = lambda: day[0]
    person, patient = resident_id(date(1975, 4, 4)), resident_id(date(1960, 2, 2), female=True)
    advance = {"resident_id": person, "region_code": "371002", "area": "urban", "situation": "house fire",
               "amount": "800.00", "reported_at": (datetime.now(UTC) - timedelta(hours=2)).isoformat()}  # fmt: skip
    async with serving(app) as api:
        # The sources give no cap: until the region sets one, no advance is granted, and nothing is written.
        missing = await api.post("/temporary-assistance/emergency", json=advance, headers=cw)
        assert missing.status_code == 422, missing.text
        assert missing.json()["field"] == "temporary_emergency_advance_cap"
        async with app.state.service.sessions() as session:
            for name, value, per in (("temporary_emergency_advance_cap", "1000", "once"),
                                     ("temporary_emergency_paperwork_days", "10", "days"),
                                     ("temporary_expenditure_cap", "20000", "once")):  # fmt: skip
                session.add(PolicyParameter(region_code="371000", area="all", name=name, value=value, per=per,
                                            effective_from=date(2026, 1, 1), source="test: local decision"))  # fmt: skip
            await session.commit()

        citizen = identity_headers(Principal(subject=person, role=Role.CITIZEN), settings)
        assert (await api.post("/temporary-assistance/emergency", json=advance, headers=citizen)).status_code == 403
        above = await api.post("/temporary-assistance/emergency", json={**advance, "amount": "1000.01"}, headers=cw)
        assert above.status_code == 422 and above.json()["field"] == "amount"

        granted = await api.post("/temporary-assistance/emergency", json=advance, headers=cw)
        assert granted.status_code == 201, granted.text
        grant = granted.json()
        assert (grant["status"], grant["paperwork_due"]) == ("open", "2026-03-20")
        assert grant["stages"] == [{"number": 1, "due_on": "2026-03-10", "amount": "800.00", "paid_on": "2026-03-10",
                                    "cancelled": False}]  # fmt: skip
        assert any("within the 24" in r for r in grant["explanation"])
        assert (await api.get(f"/temporary-assistance/{grant['id']}", headers=citizen)).status_code == 200
        stranger = identity_headers(Principal(subject=resident_id(), role=Role.CITIZEN), settings)
        assert (await api.get(f"/temporary-assistance/{grant['id']}", headers=stranger)).status_code == 404

        stages = [{"due_on": "2026-03-10", "amount": "4000.00"}, {"due_on": "2026-04-10", "amount": "3000.00"},
                  {"due_on": "2026-05-10", "amount": "3000.00"}]  # fmt: skip
        body = {"resident_id": patient, "region_code": "371002", "area": "rural", "situation": "surgery",
                "amount": "10000.00", "stages": stages}  # fmt: skip
        short = await api.post("/temporary-assistance/expenditure", json={**body, "amount": "11000.00"}, headers=cw)
        assert short.status_code == 422 and short.json()["field"] == "stages"
        approved = await api.post("/temporary-assistance/expenditure", json=body, headers=cw)
        assert approved.status_code == 201, approved.text
        expenditure = approved.json()
        assert [s["paid_on"] for s in expenditure["stages"]] == ["2026-03-10", None, None]

        async def run(on: str | None = None) -> dict[str, Any]:
            response = await api.post("/temporary-assistance/runs", json={"on": on} if on else {}, headers=cw)
            assert response.status_code == 200, response.text
            return dict(response.json())

        assert (await api.post("/temporary-assistance/runs", json={"on": "2026-03-11"}, headers=cw)).status_code == 422
        day[0] = date(2026, 4, 12)  # a day after the second stage, and the advance's paperwork overdue
        assert await run() == {"on": "2026-04-12", "stages_paid": 1, "advances_flagged": 1}
        assert await run() == {"on": "2026-04-12", "stages_paid": 0, "advances_flagged": 0}, "a re-run pays nothing"
        flagged = (await api.get("/temporary-assistance/flagged", headers=cw)).json()
        assert [(g["id"], g["flagged_on"]) for g in flagged] == [(grant["id"], "2026-04-12")]
        done = await api.post(f"/temporary-assistance/{grant['id']}/paperwork", headers=cw,
                              json={"note": "statement and hospital receipt received"})  # fmt: skip
        assert done.json()["status"] == "completed" and done.json()["flagged_on"] == "2026-04-12"
        assert (await api.get("/temporary-assistance/flagged", headers=cw)).json() == []
        again = await api.post(f"/temporary-assistance/{grant['id']}/paperwork", headers=cw, json={"note": "x"})
        assert again.status_code == 409

        day[0] = date(2026, 6, 1)
        assert await run() == {"on": "2026-06-01", "stages_paid": 1, "advances_flagged": 0}
        final = (await api.get(f"/temporary-assistance/{expenditure['id']}", headers=cw)).json()
        assert final["status"] == "paid"
        assert [s["paid_on"] for s in final["stages"]] == ["2026-03-10", "2026-04-12", "2026-06-01"]

        expected = sorted(["assistance-granted", "assistance-granted", "assistance-paid", "assistance-paid",
                           "assistance-paid", "assistance-paid", "advance-flagged", "advance-paperwork-completed"])  # fmt: skip

        async def all_published() -> bool:
            return sorted(e["type"] for e in await on_topic(broker.bootstrap, {person, patient})) == expected

        await eventually(all_published, what="one event per grant, payment and flag")
        [completed] = [e["data"] for e in await on_topic(broker.bootstrap, {person})
                       if e["type"] == "advance-paperwork-completed"]  # fmt: skip
        assert (completed["grant_id"], completed["late"]) == (grant["id"], True)
        paid = [e["data"] for e in await on_topic(broker.bootstrap, {patient}) if e["type"] == "assistance-paid"]
        assert sorted((p["stage"], p["amount"]) for p in paid) == [(1, "4000.00"), (2, "3000.00"), (3, "3000.00")]


async def test_no_stage_is_paid_after_death_and_a_revoked_death_pays_it_late(
    broker: EmbeddedBroker, tmp_path: Path
) -> None:
    settings = settings_for(f"assistance-{uuid.uuid4().hex[:6]}", tmp_path, broker.bootstrap)
    funeral = settings_for("funeral", tmp_path / "funeral", broker.bootstrap)
    cw = identity_headers(CASEWORKER, settings)
    app = build_app(settings)
    day = [date(2026, 3, 10)]
    app.state.clock = lambda: day[0]
    patient = resident_id(date(1950, 2, 2))
    async with serving(app) as api:
        async with app.state.service.sessions() as session:
            session.add(PolicyParameter(region_code="371000", area="all", name="temporary_expenditure_cap",
                                        value="20000", per="once", effective_from=date(2026, 1, 1), source="test"))  # fmt: skip
            await session.commit()
        stages = [{"due_on": "2026-03-10", "amount": "2000.00"}, {"due_on": "2026-04-10", "amount": "2000.00"}]
        grant = (await api.post("/temporary-assistance/expenditure", headers=cw, json={
            "resident_id": patient, "region_code": "371002", "area": "urban", "situation": "dialysis",
            "amount": "4000.00", "stages": stages})).json()  # fmt: skip
        registration = uuid.uuid4().hex
        death = DeathRegistered(resident_id=patient, registration_id=registration, date_of_death=date(2026, 3, 25),
                                registered_at=datetime.now(UTC), reported_by=Reporter(name="张伟", relation="子女"))  # fmt: skip
        [death_id] = await publish(funeral, death)

        async def death_known() -> bool:
            return death_id in await inbox_ids(app.state.service.engine)

        await eventually(death_known, what="the death registered in assistance")
        refused = await api.post("/temporary-assistance/expenditure", headers=cw, json={
            "resident_id": patient, "region_code": "371002", "area": "urban", "situation": "x",
            "amount": "1.00", "stages": [{"due_on": "2026-03-26", "amount": "1.00"}]})  # fmt: skip
        assert refused.status_code == 409 and refused.json()["field"] == "resident_id", "nothing granted to the dead"
        day[0] = date(2026, 4, 15)
        run = await api.post("/temporary-assistance/runs", json={}, headers=cw)
        assert run.json()["stages_paid"] == 0, "the stage due after the death is not paid"

        await publish(funeral, DeathRevoked(resident_id=patient, registration_id=registration, reason="wrong person",
                                            revoked_at=datetime.now(UTC)))  # fmt: skip

        async def paid_after_revocation() -> bool:
            await api.post("/temporary-assistance/runs", json={}, headers=cw)
            read = (await api.get(f"/temporary-assistance/{grant['id']}", headers=cw)).json()
            return [s["paid_on"] for s in read["stages"]] == ["2026-03-10", "2026-04-15"]

        await eventually(paid_after_revocation, what="the stage paid once the death was revoked")
        assert (await api.get(f"/temporary-assistance/{grant['id']}", headers=cw)).json()["status"] == "paid"


async def publish(settings: Settings, *events: Event) -> list[str]:
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
