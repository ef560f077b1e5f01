"""The same RoadRenamed and MarriageRegistered messages delivered twice (a relay restarted between publishing and
deleting): one address update and one HouseholdAddressesUpdated, one re-check and one HouseholdsRechecked, one
BenefitChanged."""

from __future__ import annotations

import uuid
from datetime import date
from pathlib import Path

from aiokafka import AIOKafkaProducer

from civic.auth import Principal, Role, identity_headers
from civic.broker import EmbeddedBroker
from contracts.marriage import MarriageRegistered
from contracts.placenames import RoadRenamed
from services.assistance.main import build_app
from tests.apps import serving
from tests.conftest import eventually
from tests.factories import resident_id
from tests.integration.test_assistance_workflows import ADDRESSES_UPDATED, RECHECKED, approved, household, on_topic
from tests.kit import inbox_ids, message_of, settings_for

CASEWORKER = Principal(subject="cw-1", role=Role.CASEWORKER, domain="assistance")


async def test_workflow_events_delivered_twice_have_one_effect(broker: EmbeddedBroker, tmp_path: Path) -> None:
    settings = settings_for(f"assistance-{uuid.uuid4().hex[:6]}", tmp_path, broker.bootstrap)
    cw = identity_headers(CASEWORKER, settings)
    road = f"R-{uuid.uuid4().hex[:10]}"
    applicant, child, spouse = resident_id(date(1981, 1, 2)), resident_id(date(2013, 5, 6)), resident_id(female=True)
    app = build_app(settings)
    producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap, acks="all")
    await producer.start()
    try:
        async with serving(app) as api:
            address = {"road_code": road, "road_name": "新华路", "number": 3}
            household_id, case_id = await approved(api, cw, household([applicant, child], address=address))
            await api.post(f"/households/{household_id}/members", headers=cw,
                           json={"resident_id": spouse, "relation": "配偶"})  # fmt: skip
            rename = message_of(RoadRenamed(road_code=road, region_code="371002", old_name="新华路",
                                            new_name="和平路", effective_on=date(2026, 11, 1)), settings)  # fmt: skip
            marriage = message_of(MarriageRegistered(resident_id=applicant, spouse_resident_id=spouse,
                                                     registration_id=uuid.uuid4().hex,
                                                     registered_on=date(2026, 3, 15)), settings)  # fmt: skip
            for msg in (rename, rename, marriage, marriage):
                await producer.send_and_wait(msg.topic, msg.value, key=msg.key, headers=msg.headers)

            async def both_handled() -> bool:
                return {rename.event_id, marriage.event_id} <= set(await inbox_ids(app.state.service.engine))

            await eventually(both_handled, what="the rename and the marriage handled")
            runner = app.state.service.runners[0]
            await eventually(lambda: _duplicates_seen(runner, 2), what="both duplicates refused by the inbox")

            async def outcomes() -> list[str]:
                seen = await on_topic(broker.bootstrap, "civic.assistance", lambda t, d: (
                    (t == ADDRESSES_UPDATED and d["road_code"] == road)
                    or (t == RECHECKED and d["resident_id"] == applicant)
                    or (t.endswith("benefit-changed.v1") and d["case_id"] == case_id)))  # fmt: skip
                return sorted(e["type"].split(".")[2] for e in seen)

            async def published() -> bool:
                return await outcomes() == ["benefit-changed", "household-addresses-updated", "households-rechecked"]

            await eventually(published, what="one outcome of each kind")
            shown = (await api.get(f"/households/{household_id}", headers=cw)).json()["address"]["text"]
            assert shown == "和平路3号"
            assert len((await api.get(f"/households/{household_id}/reviews", headers=cw)).json()) == 1
            history = (await api.get(f"/cases/{case_id}/history", headers=cw)).json()
            assert [h["kind"] for h in history] == ["approved", "amount changed"]
    finally:
        await producer.stop()


async def _duplicates_seen(runner: object, n: int) -> bool:
    return int(runner.stats.duplicates) >= n
