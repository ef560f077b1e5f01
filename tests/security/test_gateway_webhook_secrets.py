"""Webhook secrets are stored sealed: the department sees its secret once (registration, rotation), the database
holds no clear copy, and deliveries are still signed with it. The gateway runs in-process for real, with a real
receiver that verifies every signature."""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI, Request, Response
from sqlalchemy import text
from sqlmodel.ext.asyncio.session import AsyncSession

from civic.auth import Role
from civic.broker import EmbeddedBroker
from civic.db import make_engine
from gateway.main import build_app
from gateway.settings import GatewaySettings
from gateway.subscriptions.tables import Delivery, FeedEntry
from gateway.testing import live
from gateway.tokens import issue_dev_token
from tests.apps import serving
from tests.conftest import eventually

DEATH = "civic.funeral.death-registered.v1"


class Receiver:
    """Accepts a delivery only if it is signed with the secret it was told (``secret``)."""

    def __init__(self) -> None:
        self.secret = ""
        self.verified: list[str] = []
        self.refused = 0

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/hook")
        async def hook(request: Request) -> Response:
            body = await request.body()
            expected = hmac.new(self.secret.encode(), request.headers["x-civic-timestamp"].encode() + b"." + body,
                                hashlib.sha256).hexdigest()  # fmt: skip
            if not hmac.compare_digest(request.headers["x-civic-signature"], f"sha256={expected}"):
                self.refused += 1
                return Response(status_code=401)
            self.verified.append(request.headers["x-civic-delivery-id"])
            return Response(status_code=204)

        return app


def settings_for(tmp_path: Path, broker: EmbeddedBroker, **changes: Any) -> GatewaySettings:
    return GatewaySettings(
        service_name=f"gateway-{uuid.uuid4().hex[:8]}", data_dir=tmp_path, dev_issuer=True,
        kafka_bootstrap=broker.bootstrap, service_urls={}, delivery_poll_s=0.05, webhook_max_attempts=1,
        webhook_allow_private_networks=True,  # the receiver listens on 127.0.0.1
        webhook_secret_key="a-test-key-of-more-than-32-characters-" + uuid.uuid4().hex, **changes,
    )  # fmt: skip


def bearer(settings: GatewaySettings, role: Role, subject: str) -> dict[str, str]:
    return {"authorization": f"Bearer {issue_dev_token(settings, role=role, subject=subject)}"}


async def due_delivery(settings: GatewaySettings, sub_id: str) -> str:
    """One event in the subscription's feed with its webhook delivery due, as the fan-out writes them."""
    now, delivery_id = datetime.now(UTC), str(uuid.uuid4())
    engine = make_engine(settings.resolved_database_url())
    try:
        async with AsyncSession(engine) as session:
            entry = FeedEntry(subscription_id=sub_id, event_id=str(uuid.uuid4()), type=DEATH, payload="{}",
                              created_at=now)  # fmt: skip
            session.add(entry)
            await session.flush()
            assert entry.seq is not None
            session.add(Delivery(id=delivery_id, subscription_id=sub_id, seq=entry.seq, state="pending",
                                 next_attempt_at=now))  # fmt: skip
            await session.commit()
    finally:
        await engine.dispose()
    return delivery_id


async def stored_rows(settings: GatewaySettings) -> str:
    engine = make_engine(settings.resolved_database_url())
    try:
        async with engine.connect() as conn:
            rows = (await conn.execute(text("SELECT * FROM subscription"))).all()
    finally:
        await engine.dispose()
    return json.dumps([[str(v) for v in row] for row in rows])


def files_containing(directory: Path, service: str, secret: str) -> list[Path]:
    """The database's files (the journal included) that hold the secret's bytes anywhere."""
    return [f for f in directory.glob(f"{service}.db*") if secret.encode() in f.read_bytes()]


async def test_the_secret_is_shown_once_stored_sealed_and_still_signs(tmp_path: Path, broker: EmbeddedBroker) -> None:
    settings = settings_for(tmp_path, broker)
    pensions = bearer(settings, Role.DEPARTMENT, "dept-pensions")
    receiver = Receiver()
    async with live(receiver.app()) as hook, serving(build_app(settings), "gateway") as gw:
        created = await gw.post("/subscriptions", headers=pensions,
                                json={"event_types": [DEATH], "webhook_url": f"{hook.url}/hook"})  # fmt: skip
        assert created.status_code == 201, created.text
        sub_id, secret = created.json()["id"], created.json()["secret"]
        receiver.secret = secret
        assert len(secret) >= 32

        listed = (await gw.get("/subscriptions", headers=pensions)).text
        assert secret not in listed and "secret" not in json.loads(listed)[0], "shown only at creation"
        rows = await stored_rows(settings)
        assert sub_id in rows, "the row is there"
        assert secret not in rows, "but not its secret in clear"
        assert not files_containing(tmp_path, settings.service_name, secret)

        first = await due_delivery(settings, sub_id)

        async def verified(delivery_id: str) -> bool:
            return delivery_id in receiver.verified

        await eventually(lambda: verified(first), timeout=10, what="a delivery signed with the secret")

        # Rotation: the owner gets a new secret (once), and deliveries from then on are signed with it.
        assert (await gw.post(f"/subscriptions/{sub_id}/secret",
                              headers=bearer(settings, Role.DEPARTMENT, "dept-power"))).status_code == 404  # fmt: skip
        assert (await gw.post(f"/subscriptions/{sub_id}/secret",
                              headers=bearer(settings, Role.OPERATOR, "op-1"))).status_code == 403  # fmt: skip
        rotated = await gw.post(f"/subscriptions/{sub_id}/secret", headers=pensions)
        assert rotated.status_code == 200, rotated.text
        new_secret = rotated.json()["secret"]
        assert new_secret != secret and new_secret not in await stored_rows(settings)
        receiver.secret = new_secret
        second = await due_delivery(settings, sub_id)
        await eventually(lambda: verified(second), timeout=10, what="a delivery signed with the rotated secret")
        assert receiver.refused == 0


async def test_a_clear_secret_from_before_is_sealed_at_start(tmp_path: Path, broker: EmbeddedBroker) -> None:
    settings = settings_for(tmp_path, broker)
    async with serving(build_app(settings), "gateway"):
        pass  # the schema is in place
    sub_id, secret = str(uuid.uuid4()), "a-clear-secret-written-before-sealing-0123456789"
    engine = make_engine(settings.resolved_database_url())
    try:
        async with engine.begin() as conn:
            await conn.execute(
                text("INSERT INTO subscription (id, department, event_types, filter, fields, webhook_url, secret, "
                     "active, created_at) VALUES (:id, 'dept-pensions', :types, '{}', '[]', NULL, :secret, 1, :now)"),
                {"id": sub_id, "types": json.dumps([DEATH]), "secret": secret, "now": datetime.now(UTC)},
            )  # fmt: skip
    finally:
        await engine.dispose()
    async with serving(build_app(settings), "gateway"):
        rows = await stored_rows(settings)
    assert sub_id in rows and secret not in rows and "v1." in rows


def test_production_refuses_the_development_key() -> None:
    strong = "s" * 40
    production = {"environment": "production", "pseudonym_key": strong, "internal_key": strong,
                  "database_url": "postgresql+asyncpg://db/civic"}  # fmt: skip
    with pytest.raises(RuntimeError, match="CIVIC_WEBHOOK_SECRET_KEY"):
        GatewaySettings(**production).refuse_development_secrets()  # type: ignore[arg-type]
    with pytest.raises(RuntimeError, match="CIVIC_WEBHOOK_SECRET_KEY"):
        GatewaySettings(**production, webhook_secret_key="short").refuse_development_secrets()  # type: ignore[arg-type]
    GatewaySettings(**production, webhook_secret_key="k" * 40).refuse_development_secrets()  # type: ignore[arg-type]
