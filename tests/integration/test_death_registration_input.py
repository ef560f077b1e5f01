"""Bad input to death registration gets problem+json naming the field, and nothing is written: no
registration, no event. Registering needs an identity. A broker outage does not stop registrations; the events
wait and then flow."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from civic.app import Service
from civic.auth import Principal, Role, identity_headers
from civic.broker import EmbeddedBroker
from civic.config import Settings
from civic.outbox import OutboxRecord
from services.funeral.main import build_app
from services.funeral.models import DeathRegistration
from tests.apps import serving
from tests.conftest import eventually
from tests.factories import resident_id
from tests.kit import settings_for

BORN = date(1948, 2, 29)


def caseworker(settings: Settings) -> dict[str, str]:
    return identity_headers(Principal(subject="cw-1", role=Role.CASEWORKER, domain="funeral"), settings)


def valid_body(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "resident_id": resident_id(BORN),
        "date_of_death": "2026-11-02",
        "reported_by": {"name": "王芳", "relation": "配偶"},
    }
    body.update(changes)
    return body


async def rows(service: Service) -> tuple[int, int]:
    """Registrations, and death-registered events waiting in the outbox."""
    async with AsyncSession(service.engine) as s:
        regs = (await s.exec(select(func.count()).select_from(DeathRegistration))).one()
        events = (
            await s.exec(
                select(func.count())
                .select_from(OutboxRecord)
                .where(OutboxRecord.event_type == "civic.funeral.death-registered.v1")
            )
        ).one()
    return int(regs), int(events)


BAD_INPUT: list[tuple[dict[str, Any], str, str]] = [
    (valid_body(resident_id="11010519491231002Y"), "resident_id", "validation-error"),
    (valid_body(resident_id="110105194912310021"), "resident_id", "validation-error"),  # wrong check char
    (valid_body(resident_id="11010519490231002X"), "resident_id", "validation-error"),  # 31 February
    (valid_body(date_of_death="2026-02-30"), "date_of_death", "validation-error"),
    (valid_body(date_of_death=(date.today() + timedelta(days=2)).isoformat()), "date_of_death", "impossible-date"),
    (valid_body(date_of_death="1948-02-28"), "date_of_death", "impossible-date"),  # before birth
    (valid_body(cause_of_death="secret"), "cause_of_death", "validation-error"),  # unknown field
    (valid_body(reported_by={"name": "", "relation": "子女"}), "reported_by.name", "validation-error"),
    (valid_body(reported_by={"name": "a", "relation": "子女", "x": 1}), "reported_by.x", "validation-error"),
    (valid_body(source="coroner"), "source", "validation-error"),
    (valid_body(region_code="37100"), "region_code", "validation-error"),
    (valid_body(medical_certificate_number="no spaces allowed"), "medical_certificate_number", "validation-error"),
    (
        {"date_of_death": "2026-11-02", "reported_by": {"name": "a", "relation": "b"}},
        "resident_id",
        "validation-error",
    ),
]


async def test_bad_input_is_a_problem_naming_the_field_and_writes_nothing(
    broker: EmbeddedBroker, tmp_path: Path
) -> None:
    # One app for every case: starting and stopping a service (its consumer group) costs about two seconds.
    app = build_app(settings_for("funeral", tmp_path, broker.bootstrap, max_body_bytes=2048))
    headers = caseworker(app.state.service.settings)
    async with serving(app) as client:
        oversized = await client.post("/deaths", json=valid_body(place_of_death="x" * 5000), headers=headers)
        assert oversized.status_code == 413, "refused before it is read"
        assert oversized.headers["content-type"] == "application/problem+json"
        assert oversized.json()["type"].endswith("/body-too-large")
        malformed = await client.post(
            "/deaths", content=b"{not json", headers={"content-type": "application/json", **headers}
        )
        assert malformed.status_code == 422
        assert malformed.headers["content-type"] == "application/problem+json"
        assert await rows(app.state.service) == (0, 0)
        for body, field, kind in BAD_INPUT:
            response = await client.post("/deaths", json=body, headers=caseworker(app.state.service.settings))
            assert response.status_code == 422, (field, response.text)
            assert response.headers["content-type"] == "application/problem+json"
            problem = response.json()
            assert problem["type"].endswith("/" + kind), (field, problem)
            assert problem["status"] == 422
            assert problem["field"] == field, problem
            assert str(body.get("resident_id", "")) not in response.text or not body.get("resident_id")
            assert await rows(app.state.service) == (0, 0), field


async def test_registering_needs_an_identity_that_may_report(broker: EmbeddedBroker, tmp_path: Path) -> None:
    app = build_app(settings_for("funeral", tmp_path, broker.bootstrap))
    settings = app.state.service.settings
    async with serving(app) as client:
        anonymous = await client.post("/deaths", json=valid_body())
        assert anonymous.status_code == 401
        assert anonymous.json()["type"].endswith("/unauthenticated")
        forged = await client.post("/deaths", json=valid_body(), headers={"x-civic-identity": "not-a-token"})
        assert forged.status_code == 401
        other_domain = Principal(subject="cw-2", role=Role.CASEWORKER, domain="marriage")
        refused = await client.post("/deaths", json=valid_body(), headers=identity_headers(other_domain, settings))
        assert refused.status_code == 403
        auditor = Principal(subject="audit-1", role=Role.AUDITOR)
        assert (
            await client.post("/deaths", json=valid_body(), headers=identity_headers(auditor, settings))
        ).status_code == 403
        assert await rows(app.state.service) == (0, 0)


async def test_registering_the_same_death_twice_returns_the_registration(
    broker: EmbeddedBroker, tmp_path: Path
) -> None:
    app = build_app(settings_for("funeral", tmp_path, broker.bootstrap))
    body = valid_body()
    async with serving(app) as client:
        first = await client.post("/deaths", json=body, headers=caseworker(app.state.service.settings))
        assert first.status_code == 201
        again = await client.post("/deaths", json=body, headers=caseworker(app.state.service.settings))
        assert again.status_code == 200, again.text
        assert again.json()["id"] == first.json()["id"]
        assert again.json()["report"]["outcome"] == "same-death"
        assert (await rows(app.state.service))[0] == 1


async def test_registrations_are_accepted_while_the_broker_is_down(broker: EmbeddedBroker, tmp_path: Path) -> None:
    app = build_app(settings_for("funeral", tmp_path, broker.bootstrap))
    service: Service = app.state.service
    async with serving(app) as client:
        await eventually(lambda: _ready(client), what="funeral ready")
        broker.pause()
        try:
            ids = []
            for _ in range(3):
                response = await client.post("/deaths", json=valid_body(), headers=caseworker(service.settings))
                assert response.status_code == 201, response.text
                ids.append(response.json()["id"])
            assert (await rows(service))[1] == 3, "the events wait in the outbox"
            ready = await client.get("/readyz")
            assert ready.status_code == 200, "a broker outage must not take the API out of service"
        finally:
            broker.resume()
        await eventually(lambda: _outbox_empty(service), what="the waiting events published after the outage")
        for registration_id in ids:
            got = await client.get(f"/deaths/{registration_id}", headers=caseworker(service.settings))
            assert got.status_code == 200
            assert got.json()["status"] == "registered"
            assert "*" * 8 in got.json()["resident_id"], "resident IDs are masked in responses"


async def _ready(client: Any) -> bool:
    return bool((await client.get("/readyz")).status_code == 200)


async def _outbox_empty(service: Service) -> bool:
    return (await rows(service))[1] == 0
