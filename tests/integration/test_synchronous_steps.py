"""Synchronous steps (``civic.steps``), the baseline bench.journeys compares choreography with: a service with its
consumers off applies an event when an orchestrator posts it, once, and answers with the events it published."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

from civic.auth import Principal, Role, identity_headers
from civic.broker import EmbeddedBroker
from civic.outbox import Outbox
from civic.steps import message_of_row
from contracts.funeral import DeathRegistered, Reporter
from tests.integration.test_marriage_registration import man, registry, woman


async def test_a_service_applies_a_posted_event_once_and_answers_with_what_it_published(
    broker: EmbeddedBroker, tmp_path: Path
) -> None:
    husband, wife = man(), woman()
    async with registry(broker, tmp_path, synchronous_steps=True, consumers_enabled=False) as reg:
        assert (await reg.marry(husband, wife)).status_code == 201
        orchestrator = identity_headers(
            Principal(subject="orchestrator", role=Role.CASEWORKER, domain=reg.settings.service_name), reg.settings
        )
        types = await reg.client.get("/steps", headers=orchestrator)
        assert types.status_code == 200 and "civic.funeral.death-registered.v1" in types.json()

        death = DeathRegistered(resident_id=husband, registration_id="d-1", date_of_death=date(2026, 6, 1),
                                registered_at=datetime.now(UTC), reported_by=Reporter(name="李娜", relation="配偶"))  # fmt: skip
        message = message_of_row(Outbox(reg.settings.model_copy(update={"service_name": "funeral"})).record(death))
        applied = await reg.client.post("/steps", headers=orchestrator, json=message.model_dump())
        assert applied.status_code == 200, applied.text
        assert applied.json()["handled_by"] == [reg.settings.service_name]
        published = [dict(m["headers"])["ce_type"] for m in applied.json()["published"]]
        assert "civic.marriage.marital-status-changed.v1" in published
        assert (await reg.status_of(wife))["status"] == "widowed", "applied at once, with no consumer running"

        again = await reg.client.post("/steps", headers=orchestrator, json=message.model_dump())
        assert again.status_code == 200 and again.json() == {"handled_by": [], "published": []}, "once only"

        garbled = message.model_dump() | {"value": json.dumps({"resident_id": "not an id"})}
        refused = await reg.client.post("/steps", headers=orchestrator, json=garbled)
        assert refused.status_code == 422 and refused.json()["field"] == "value"
        citizen = await reg.client.post("/steps", headers=reg.citizen(wife), json=message.model_dump())
        assert citizen.status_code == 403


async def test_without_the_setting_there_is_no_such_route(broker: EmbeddedBroker, tmp_path: Path) -> None:
    async with registry(broker, tmp_path) as reg:
        assert (await reg.client.get("/steps", headers=reg.caseworker)).status_code == 404
