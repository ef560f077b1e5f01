"""Rate limits, CORS and the audit log, with the gateway in-process in front of a real HTTP service."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from civic.auth import Role
from civic.broker import EmbeddedBroker
from civic.db import make_engine
from gateway.main import build_app
from gateway.settings import GatewaySettings
from gateway.testing import LiveServer, live
from gateway.tokens import issue_dev_token
from tests.apps import serving
from tests.factories import resident_id


def records_service() -> FastAPI:
    app = FastAPI()

    @app.get("/people/{person}")
    async def person(person: str) -> dict[str, str]:
        return {"person": person}

    return app


@pytest.fixture
async def service() -> AsyncIterator[LiveServer]:
    async with live(records_service()) as server:
        yield server


def settings_for(tmp_path: Path, broker: EmbeddedBroker, url: str, **changes: object) -> GatewaySettings:
    return GatewaySettings(
        service_name=f"gateway-{uuid.uuid4().hex[:8]}", data_dir=tmp_path, dev_issuer=True,
        kafka_bootstrap=broker.bootstrap, service_urls={"funeral": url}, **changes,  # type: ignore[arg-type]
        consumers_enabled=False,  # it only routes: no catching up on the shared broker beside the test's requests
    )  # fmt: skip


def auth(settings: GatewaySettings, role: Role, subject: str, domain: str | None = None) -> dict[str, str]:
    return {"authorization": f"Bearer {issue_dev_token(settings, role=role, subject=subject, domain=domain)}"}


async def test_rate_limit_per_client_and_cors(tmp_path: Path, broker: EmbeddedBroker, service: LiveServer) -> None:
    settings = settings_for(tmp_path, broker, service.url, rate_limit_per_s=0.001, rate_limit_burst=3,
                            cors_origins=["https://citizen.example"])  # fmt: skip
    busy, calm = (
        auth(settings, Role.CASEWORKER, "cw-busy", "funeral"),
        auth(settings, Role.CASEWORKER, "cw-calm", "funeral"),
    )
    async with serving(build_app(settings), "gateway") as gw:
        statuses = [(await gw.get("/api/funeral/people/p1", headers=busy)).status_code for _ in range(4)]
        assert statuses == [200, 200, 200, 429]
        limited = await gw.get("/api/funeral/people/p1", headers=busy)
        assert limited.headers["content-type"] == "application/problem+json"
        assert limited.json()["type"].endswith("/rate-limited")
        assert int(limited.headers["retry-after"]) >= 1
        assert (await gw.get("/api/funeral/people/p1", headers=calm)).status_code == 200, "limits are per client"

        # Without a valid token the caller's address is limited (its own bucket, apart from the principals').
        anonymous = [(await gw.get("/api/funeral/people/p1")).status_code for _ in range(4)]
        assert anonymous == [401, 401, 401, 429]

        preflight = await gw.options("/api/funeral/people/p1", headers={
            "origin": "https://citizen.example", "access-control-request-method": "GET",
            "access-control-request-headers": "authorization"})  # fmt: skip
        assert preflight.status_code == 200
        assert preflight.headers["access-control-allow-origin"] == "https://citizen.example"
        stranger = await gw.options("/api/funeral/people/p1", headers={
            "origin": "https://evil.example", "access-control-request-method": "GET"})  # fmt: skip
        assert "access-control-allow-origin" not in stranger.headers


async def test_staff_reads_are_audited_and_only_auditors_read_the_log(
    tmp_path: Path, broker: EmbeddedBroker, service: LiveServer
) -> None:
    settings = settings_for(tmp_path, broker, service.url)
    caseworker = auth(settings, Role.CASEWORKER, "cw-7", "funeral")
    citizen_id = resident_id(date(1950, 3, 1))
    auditor = auth(settings, Role.AUDITOR, "aud-1")
    async with serving(build_app(settings), "gateway") as gw:
        read = await gw.get(f"/api/funeral/people/{citizen_id}", params={"full": "1"},
                            headers={**caseworker, "x-purpose": "benefit review 42"})  # fmt: skip
        assert read.status_code == 200
        await gw.get(f"/api/funeral/people/{citizen_id}", headers=auth(settings, Role.CITIZEN, citizen_id))
        await gw.get("/api/funeral/people/p2", headers=auditor)

        assert (await gw.get("/audit", headers=caseworker)).status_code == 403
        assert (await gw.get("/audit")).status_code == 401
        entries = (await gw.get("/audit", params={"subject": "cw-7"}, headers=auditor)).json()
        assert [(e["role"], e["service"], e["path"], e["query"], e["purpose"], e["request_id"]) for e in entries] == [
            (
                "caseworker",
                "funeral",
                f"/people/{citizen_id}",
                "full=1",
                "benefit review 42",
                read.headers["x-request-id"],
            )
        ]
        everyone = (await gw.get("/audit", headers=auditor)).json()
        assert {e["subject"] for e in everyone} == {"cw-7", "aud-1"}, (
            "a citizen reading their own record is not audited"
        )
        by_record = (await gw.get("/audit", params={"path_contains": citizen_id}, headers=auditor)).json()
        assert [e["subject"] for e in by_record] == ["cw-7"]
        future = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
        assert (await gw.get("/audit", params={"since": future}, headers=auditor)).json() == []

        for method in ("PUT", "PATCH", "DELETE", "POST"):
            refused = await gw.request(method, "/audit", headers=auditor)
            assert refused.status_code == 405, method
            assert refused.headers["content-type"] == "application/problem+json"

    # Append-only in the database as well: SQLite refuses the statement, PostgreSQL's rules make it do nothing.
    engine = make_engine(settings.resolved_database_url())
    try:
        for statement in ("UPDATE audit_entry SET subject = 'nobody'", "DELETE FROM audit_entry"):
            try:
                async with engine.begin() as conn:
                    await conn.execute(text(statement))
            except DBAPIError as refused:
                assert "append-only" in str(refused)
        async with engine.connect() as conn:
            subjects = (await conn.execute(text("SELECT subject FROM audit_entry"))).scalars().all()
        assert sorted(subjects) == ["aud-1", "cw-7"]
    finally:
        await engine.dispose()
