"""Address change, on the whole running system: a road renamed has every service that holds addresses on it update
them (assistance's households, eldercare's elders), each answering once; the journey completes when both have.
Effects read back through the gateway."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

import httpx
from aiokafka import AIOKafkaProducer

from civic.auth import Role
from civic.config import Settings
from civic.events import current_correlation_id
from contracts.placenames import RoadRenamed
from tests.conftest import eventually
from tests.factories import resident_id
from tests.kit import message_of


async def _journey(api: httpx.AsyncClient, journey_id: str, operator: dict[str, str]) -> dict[str, Any] | None:
    response = await api.get(f"/journeys/{journey_id}", headers=operator)
    return response.json() if response.status_code == 200 else None


async def _publish_as_placenames(civic_system: Any, event: RoadRenamed, journey_id: str) -> None:
    """The rename as place names publishes it when it takes effect. Played here, not driven through its API: the
    naming workflow takes effect only after a public notice of 20-30 days, and `civic up` runs on today's date."""
    settings = Settings(service_name="placenames", data_dir=civic_system.data_dir, kafka_bootstrap=civic_system.broker)
    token = current_correlation_id.set(journey_id)
    try:
        message = message_of(event, settings)
    finally:
        current_correlation_id.reset(token)
    producer = AIOKafkaProducer(bootstrap_servers=civic_system.broker, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(message.topic, message.value, key=message.key, headers=message.headers)
    finally:
        await producer.stop()


async def test_a_road_renamed_updates_the_addresses_every_service_holds_on_it(civic_system: Any) -> None:
    cw = civic_system.auth(Role.CASEWORKER, "cw-a", "assistance")
    operator = civic_system.auth(Role.OPERATOR, "op-1")
    road = f"E2E{uuid.uuid4().hex[:12].upper()}"
    journey_id = f"e2e-rename-{uuid.uuid4()}"
    person = resident_id(date(1970, 7, 7))
    async with httpx.AsyncClient(base_url=civic_system.gateway_url, timeout=10) as api:
        household = await api.post("/api/assistance/households", headers=cw, json={
            "region_code": "371002", "area": "urban", "members": [{"resident_id": person, "relation": "本人"}],
            "address": {"road_code": road, "road_name": "海滨路", "number": 12, "detail": "3单元201室"},
        })  # fmt: skip
        assert household.status_code == 201, household.text
        assert household.json()["address"]["text"].startswith("海滨路12号")
        elder_cw = civic_system.auth(Role.CASEWORKER, "cw-e", "eldercare")
        elder = resident_id(date(1940, 4, 4), female=True)
        registered = await api.post("/api/eldercare/elders", headers=elder_cw, json={
            "resident_id": elder, "region_code": "371002", "community": "海滨社区", "living_situation": "alone",
            "door_plate": {"road_code": road, "road_name": "海滨路", "number": 30},
        })  # fmt: skip
        assert registered.status_code == 201, registered.text

        renamed = RoadRenamed(road_code=road, region_code="371002", old_name="海滨路", new_name="幸福路",
                              effective_on=date.today())  # fmt: skip
        await _publish_as_placenames(civic_system, renamed, journey_id)

        async def completed() -> bool:
            journey = await _journey(api, journey_id, operator)
            return journey is not None and journey["state"] == "completed"

        await eventually(completed, timeout=60, what="the address-change journey completed")
        journey = await _journey(api, journey_id, operator)
        assert journey is not None and journey["kind"] == "address-change"
        assert {s["name"]: s["state"] for s in journey["steps"]} == {
            "household-addresses": "done",
            "elder-addresses": "done",
        }
        shown = (await api.get(f"/api/assistance/households/{household.json()['id']}", headers=cw)).json()
        assert shown["address"]["text"] == "幸福路12号3单元201室"
        elder_shown = await api.get(f"/api/eldercare/elders/{elder}", headers=elder_cw)
        assert elder_shown.status_code == 200, elder_shown.text
        assert elder_shown.json()["door_plate"]["road_name"] == "幸福路"
        assert elder_shown.json()["address"].startswith("幸福路30号")
        history = [e["type"] for e in journey["history"]]
        for outcome in (
            "civic.assistance.household-addresses-updated.v1",
            "civic.eldercare.elder-addresses-updated.v1",
        ):
            assert history.count(outcome) == 1, "one answer per rename from each service"
