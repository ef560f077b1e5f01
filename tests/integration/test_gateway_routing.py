"""Routing robustness and idempotency keys, with the gateway in-process in front of a real HTTP service that the
test stops and starts (uvicorn on 127.0.0.1), and a token from the development issuer."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI

from civic.auth import Role
from civic.broker import EmbeddedBroker
from gateway.main import build_app
from gateway.settings import GatewaySettings
from gateway.testing import LiveServer
from gateway.tokens import issue_dev_token
from tests.apps import serving


@dataclass
class Upstream:
    """A stand-in domain service that counts what it did."""

    effects: list[dict[str, Any]] = field(default_factory=list)
    pings: int = 0
    release_slow: asyncio.Event = field(default_factory=asyncio.Event)

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.get("/ping")
        async def ping() -> dict[str, str]:
            self.pings += 1
            return {"pong": "yes"}

        @app.get("/slow")
        async def slow() -> dict[str, str]:
            await self.release_slow.wait()
            return {"late": "yes"}

        @app.post("/things", status_code=201)
        async def make(body: dict[str, Any]) -> dict[str, Any]:
            await asyncio.sleep(0.2)  # the service takes a while, so that concurrent repeats overlap
            self.effects.append(body)
            return {"n": len(self.effects), "id": str(uuid.uuid4())}

        return app


@pytest.fixture
async def upstream() -> AsyncIterator[tuple[Upstream, LiveServer]]:
    state = Upstream()
    server = LiveServer(state.app())
    await server.start()
    yield state, server
    state.release_slow.set()
    await server.stop()


def gateway_settings(tmp_path: Path, broker: EmbeddedBroker, url: str, **changes: Any) -> GatewaySettings:
    return GatewaySettings(
        service_name=f"gateway-{uuid.uuid4().hex[:8]}", data_dir=tmp_path, dev_issuer=True,
        kafka_bootstrap=broker.bootstrap, service_urls={"funeral": url}, **changes,
    )  # fmt: skip


def bearer(settings: GatewaySettings, subject: str = "cw-1") -> dict[str, str]:
    token = issue_dev_token(settings, role=Role.CASEWORKER, subject=subject, domain="funeral")
    return {"authorization": f"Bearer {token}"}


async def test_circuit_opens_while_a_service_is_down_and_closes_when_it_is_back(
    tmp_path: Path, broker: EmbeddedBroker, upstream: tuple[Upstream, LiveServer]
) -> None:
    state, server = upstream
    # No consumers: this gateway only routes (catching up on the shared broker would only add load). The circuit
    # stays open far longer than the test takes, so what it shows does not depend on the machine's speed.
    settings = gateway_settings(tmp_path, broker, server.url, breaker_failure_threshold=3, breaker_open_s=60,
                                gateway_timeout_s=2, consumers_enabled=False)  # fmt: skip
    auth = bearer(settings)
    app = build_app(settings)
    async with serving(app, "gateway") as gw:
        assert (await gw.get("/api/funeral/ping", headers=auth)).json() == {"pong": "yes"}

        slow = await gw.get("/api/funeral/slow", headers=auth)  # a service that does not answer in time
        assert slow.status_code == 504
        assert slow.headers["content-type"] == "application/problem+json"
        assert slow.json()["type"].endswith("/service-timeout")
        state.release_slow.set()

        await server.stop()
        down = await gw.get("/api/funeral/ping", headers=auth)  # tried 3 times (2 retries): the circuit opens
        assert down.status_code == 503, down.text
        assert down.json()["type"].endswith("/service-unavailable")

        # The service is back, but the circuit is open: the gateway answers without sending it anything.
        await server.start()  # same port
        pings = state.pings
        refused = await gw.get("/api/funeral/ping", headers=auth)
        assert refused.status_code == 503
        assert refused.headers["content-type"] == "application/problem+json"
        assert 30 <= int(refused.headers["retry-after"]) <= 60
        assert state.pings == pings, "an open circuit sends nothing to the service"

        # A POST with a key that never reached the service does not use the key up.
        key = {"idempotency-key": "k-down", **auth}
        assert (await gw.post("/api/funeral/things", json={"a": 1}, headers=key)).status_code == 503
        assert state.effects == []

        # The open time passes (moved on, not waited for): the next request is the probe, and closes the circuit.
        app.state.breakers["funeral"].opened_at -= settings.breaker_open_s
        assert (await gw.get("/api/funeral/ping", headers=auth)).status_code == 200
        assert state.pings == pings + 1
        assert (await gw.post("/api/funeral/things", json={"a": 1}, headers=key)).status_code == 201
        assert state.effects == [{"a": 1}]


async def test_idempotency_key_acts_once_even_for_concurrent_repeats(
    tmp_path: Path, broker: EmbeddedBroker, upstream: tuple[Upstream, LiveServer]
) -> None:
    state, server = upstream
    settings = gateway_settings(tmp_path, broker, server.url)
    auth = bearer(settings)
    key = {"idempotency-key": str(uuid.uuid4()), **auth}
    async with serving(build_app(settings), "gateway") as gw:
        first, second = await asyncio.gather(
            gw.post("/api/funeral/things", json={"what": "cremation"}, headers=key),
            gw.post("/api/funeral/things", json={"what": "cremation"}, headers=key),
        )
        assert first.status_code == second.status_code == 201, (first.text, second.text)
        assert first.json() == second.json()
        assert state.effects == [{"what": "cremation"}], "the service acted once"
        assert {first.headers.get("idempotent-replayed"), second.headers.get("idempotent-replayed")} == {None, "true"}

        later = await gw.post("/api/funeral/things", json={"what": "cremation"}, headers=key)
        assert later.json() == first.json()

        other_body = await gw.post("/api/funeral/things", json={"what": "burial"}, headers=key)
        assert other_body.status_code == 422
        assert other_body.headers["content-type"] == "application/problem+json"
        assert other_body.json()["type"].endswith("/idempotency-key-reused")
        assert other_body.json()["field"] == "Idempotency-Key"

        # Keys are per caller: another caller's request with the same key is a request of its own.
        someone_else = {"idempotency-key": key["idempotency-key"], **bearer(settings, "cw-2")}
        assert (await gw.post("/api/funeral/things", json={"what": "cremation"}, headers=someone_else)).json()["n"] == 2
        # Without a key, a POST is just a POST.
        await gw.post("/api/funeral/things", json={"what": "cremation"}, headers=auth)
        assert len(state.effects) == 3
