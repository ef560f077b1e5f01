"""Idempotency keys expire: a key older than ``idempotency_ttl_s`` acts as new, and old rows are purged. The
gateway runs in-process in front of a real HTTP service that counts its effects; a key is aged by moving its
stored ``created_at`` back in the database (no waiting)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import text, update
from sqlmodel import col

from civic.auth import Role
from civic.broker import EmbeddedBroker
from civic.db import make_engine
from gateway.main import build_app
from gateway.settings import GatewaySettings
from gateway.tables import IdempotencyRecord
from gateway.testing import LiveServer, live
from gateway.tokens import issue_dev_token
from tests.apps import serving
from tests.conftest import eventually


@pytest.fixture
async def service() -> AsyncIterator[tuple[list[dict[str, Any]], LiveServer]]:
    effects: list[dict[str, Any]] = []
    app = FastAPI()

    @app.post("/things", status_code=201)
    async def make(body: dict[str, Any]) -> dict[str, Any]:
        effects.append(body)
        return {"n": len(effects)}

    async with live(app) as server:
        yield effects, server


def settings_for(tmp_path: Path, broker: EmbeddedBroker, url: str, **changes: Any) -> GatewaySettings:
    return GatewaySettings(
        service_name=f"gateway-{uuid.uuid4().hex[:8]}", data_dir=tmp_path, dev_issuer=True,
        kafka_bootstrap=broker.bootstrap, service_urls={"funeral": url}, idempotency_ttl_s=3600, **changes,
        consumers_enabled=False,  # it only routes: no catching up on the shared broker beside the test's requests
    )  # fmt: skip


async def age_keys(settings: GatewaySettings, key: str, by: timedelta) -> None:
    engine = make_engine(settings.resolved_database_url())
    try:
        async with engine.begin() as conn:  # through the table's own column type, as the gateway writes it
            await conn.execute(update(IdempotencyRecord).where(col(IdempotencyRecord.key) == key)
                               .values(created_at=datetime.now(UTC) - by))  # fmt: skip
    finally:
        await engine.dispose()


async def stored_keys(settings: GatewaySettings) -> list[str]:
    engine = make_engine(settings.resolved_database_url())
    try:
        async with engine.connect() as conn:
            return sorted((await conn.execute(text("SELECT key FROM idempotency_key"))).scalars().all())
    finally:
        await engine.dispose()


async def test_an_expired_key_acts_as_new(
    tmp_path: Path, broker: EmbeddedBroker, service: tuple[list[dict[str, Any]], LiveServer]
) -> None:
    effects, server = service
    settings = settings_for(tmp_path, broker, server.url)
    token = issue_dev_token(settings, role=Role.CASEWORKER, subject="cw-1", domain="funeral")
    headers = {"authorization": f"Bearer {token}", "idempotency-key": "k-1"}
    async with serving(build_app(settings), "gateway") as gw:
        first = await gw.post("/api/funeral/things", json={"a": 1}, headers=headers)
        await age_keys(settings, "k-1", timedelta(minutes=59))
        within = await gw.post("/api/funeral/things", json={"a": 1}, headers=headers)
        assert within.headers.get("idempotent-replayed") == "true" and within.json() == first.json()
        assert effects == [{"a": 1}], "still within the time a key is kept: replayed"

        await age_keys(settings, "k-1", timedelta(minutes=61))
        again = await gw.post("/api/funeral/things", json={"a": 2}, headers=headers)
        assert again.status_code == 201 and "idempotent-replayed" not in again.headers, again.text
        assert effects == [{"a": 1}, {"a": 2}], "an expired key is a new key (another body is no conflict)"
        repeat = await gw.post("/api/funeral/things", json={"a": 2}, headers=headers)
        assert repeat.headers.get("idempotent-replayed") == "true" and len(effects) == 2, "and is kept anew"


async def test_expired_keys_are_purged(
    tmp_path: Path, broker: EmbeddedBroker, service: tuple[list[dict[str, Any]], LiveServer]
) -> None:
    _, server = service
    settings = settings_for(tmp_path, broker, server.url, idempotency_purge_every_s=0.05)
    token = issue_dev_token(settings, role=Role.CASEWORKER, subject="cw-1", domain="funeral")
    async with serving(build_app(settings), "gateway") as gw:
        for key in ("old", "fresh"):
            response = await gw.post("/api/funeral/things", json={"k": key},
                                     headers={"authorization": f"Bearer {token}", "idempotency-key": key})  # fmt: skip
            assert response.status_code == 201
        await age_keys(settings, "old", timedelta(hours=2))

        async def purged() -> bool:
            return await stored_keys(settings) == ["fresh"]

        await eventually(purged, what="the expired key to be purged, and only it")
