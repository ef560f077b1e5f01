"""A department's webhook URL cannot make the gateway call inside our network (SSRF): refused at registration,
and checked again before every delivery (DNS may have changed since). The gateway runs in-process for real."""

from __future__ import annotations

import ipaddress
import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI, Request, Response
from sqlmodel.ext.asyncio.session import AsyncSession

from civic.auth import Role
from civic.broker import EmbeddedBroker
from civic.db import make_engine
from gateway.main import build_app
from gateway.settings import GatewaySettings
from gateway.subscriptions.sealing import seal
from gateway.subscriptions.tables import Delivery, FeedEntry, Subscription
from gateway.subscriptions.targets import forbidden_address, pinned
from gateway.testing import live
from gateway.tokens import issue_dev_token
from tests.apps import serving
from tests.conftest import eventually

DEATH = "civic.funeral.death-registered.v1"

REFUSED = {
    "ftp://example.com/hook": "only http and https",
    "file:///etc/passwd": "only http and https",
    "gopher://example.com:70/_x": "only http and https",
    "http://dept:secret@example.com/hook": "credentials",
    "https://@example.com/hook": "credentials",
    "http:///hook": "no host",
    "http://127.0.0.1:8080/hook": "loopback",
    "http://localhost/hook": "loopback",  # a name, resolved
    "http://2130706433/hook": "loopback",  # 127.0.0.1 spelt as one number: resolved, then checked
    "http://[::1]/hook": "loopback",
    "http://[::ffff:127.0.0.1]/hook": "loopback",  # IPv4-mapped IPv6
    "http://10.1.2.3/hook": "private",
    "http://172.16.5.4/hook": "private",
    "http://192.168.0.10/hook": "private",
    "http://[fd00::1]/hook": "private",
    "http://169.254.169.254/latest/meta-data/": "link-local",  # cloud metadata
    "http://[fe80::1]/hook": "link-local",
    "http://224.0.0.1/hook": "multicast",
    "http://240.0.0.1/hook": "reserved",
    "http://0.0.0.0:8000/hook": "unspecified",
    "http://100.64.0.1/hook": "non-public",  # shared address space (carrier-grade NAT)
}


def settings_for(tmp_path: Path, broker: EmbeddedBroker, **changes: Any) -> GatewaySettings:
    return GatewaySettings(
        service_name=f"gateway-{uuid.uuid4().hex[:8]}", data_dir=tmp_path, dev_issuer=True,
        kafka_bootstrap=broker.bootstrap, service_urls={}, delivery_poll_s=0.05, **changes,
    )  # fmt: skip


def department(settings: GatewaySettings, subject: str = "dept-pensions") -> dict[str, str]:
    return {"authorization": f"Bearer {issue_dev_token(settings, role=Role.DEPARTMENT, subject=subject)}"}


def test_the_default_refuses_private_networks() -> None:
    assert GatewaySettings().webhook_allow_private_networks is False


@pytest.mark.parametrize(
    ("address", "kind"),
    [("127.0.0.53", "loopback"), ("10.0.0.1", "private"), ("169.254.169.254", "link-local"),
     ("ff02::1", "multicast"), ("0.0.0.0", "unspecified"), ("::", "unspecified"), ("240.1.2.3", "reserved"),
     ("::ffff:10.0.0.1", "private"), ("2002:7f00:1::", "loopback"), ("93.184.215.14", None),
     ("2606:4700::1111", None)],
)  # fmt: skip
def test_address_kinds(address: str, kind: str | None) -> None:
    assert forbidden_address(ipaddress.ip_address(address)) == kind


async def test_registration_refuses_urls_into_our_network(tmp_path: Path, broker: EmbeddedBroker) -> None:
    settings = settings_for(tmp_path, broker)
    pensions = department(settings)
    async with serving(build_app(settings), "gateway") as gw:
        for url, why in REFUSED.items():
            response = await gw.post("/subscriptions", headers=pensions, json={"event_types": [DEATH],
                                                                              "webhook_url": url})  # fmt: skip
            assert response.status_code == 422, (url, response.text)
            assert response.headers["content-type"] == "application/problem+json"
            problem = response.json()
            assert problem["field"] == "webhook_url", url
            assert problem["type"].endswith("/unsafe-webhook-url"), url
            assert why in problem["detail"], (url, problem["detail"])
        assert (await gw.get("/subscriptions", headers=pensions)).json() == [], "nothing was registered"

        public = await gw.post("/subscriptions", headers=pensions, json={
            "event_types": [DEATH], "webhook_url": "https://93.184.215.14/hooks/civic"})  # fmt: skip
        assert public.status_code == 201, public.text
        assert public.json()["webhook_url"] == "https://93.184.215.14/hooks/civic"


async def test_local_use_may_allow_private_networks(tmp_path: Path, broker: EmbeddedBroker) -> None:
    settings = settings_for(tmp_path, broker, webhook_allow_private_networks=True)
    async with serving(build_app(settings), "gateway") as gw:
        local = await gw.post("/subscriptions", headers=department(settings), json={
            "event_types": [DEATH], "webhook_url": "http://127.0.0.1:9/hook"})  # fmt: skip
        assert local.status_code == 201, local.text
        # The shape is still checked.
        with_password = await gw.post("/subscriptions", headers=department(settings), json={
            "event_types": [DEATH], "webhook_url": "http://a:b@127.0.0.1:9/hook"})  # fmt: skip
        assert with_password.status_code == 422 and with_password.json()["field"] == "webhook_url"


async def test_a_name_is_sent_to_the_address_just_checked() -> None:
    assert (await pinned("https://93.184.215.14:8443/x?y=1")).url == "https://93.184.215.14:8443/x?y=1"
    local = await pinned("http://localhost:9/x", allow_private_networks=True)
    assert local.url == "http://localhost:9/x"


async def pending_delivery(settings: GatewaySettings, url: str) -> str:
    """A subscription of dept-pensions to ``url`` with one delivery due, written as the gateway would have."""
    now = datetime.now(UTC)
    sub_id = str(uuid.uuid4())
    engine = make_engine(settings.resolved_database_url())
    try:
        async with AsyncSession(engine) as session:
            session.add(Subscription(id=sub_id, department="dept-pensions", event_types=json.dumps([DEATH]),
                                     filter="{}", webhook_url=url, secret=seal(settings, sub_id, "s" * 43),
                                     created_at=now))  # fmt: skip
            entry = FeedEntry(subscription_id=sub_id, event_id=str(uuid.uuid4()), type=DEATH, payload="{}",
                              created_at=now)  # fmt: skip
            session.add(entry)
            await session.flush()
            assert entry.seq is not None
            session.add(Delivery(id=str(uuid.uuid4()), subscription_id=sub_id, seq=entry.seq, state="pending",
                                 next_attempt_at=now))  # fmt: skip
            await session.commit()
    finally:
        await engine.dispose()
    return sub_id


class Receiver:
    def __init__(self) -> None:
        self.requests = 0

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/hook")
        async def hook(request: Request) -> Response:
            self.requests += 1
            return Response(status_code=204)

        return app


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[Receiver, str]]:
    state = Receiver()
    async with live(state.app()) as server:
        yield state, f"{server.url}/hook"


async def test_delivery_rechecks_the_address(
    tmp_path: Path, broker: EmbeddedBroker, receiver: tuple[Receiver, str]
) -> None:
    """A subscription whose URL was accepted when its name resolved to a public address, and now points inside
    (DNS rebinding): the delivery is refused, visibly, and nothing reaches the internal address."""
    state, url = receiver
    settings = settings_for(tmp_path, broker, webhook_max_attempts=2, webhook_backoff_initial_s=0.05)
    pensions = department(settings)
    async with serving(build_app(settings), "gateway") as gw:
        sub_id = await pending_delivery(settings, url)

        async def failed() -> bool:
            got = await gw.get(f"/subscriptions/{sub_id}/deliveries", params={"state": "failed"}, headers=pensions)
            return len(got.json()) == 1

        await eventually(failed, timeout=10, what="the delivery to an internal address to be refused")
        [delivery] = (await gw.get(f"/subscriptions/{sub_id}/deliveries", headers=pensions)).json()
        assert delivery["attempts"] == 2 and delivery["last_status"] is None
        assert delivery["last_error"].startswith("refused: ") and "loopback" in delivery["last_error"]
    assert state.requests == 0, "nothing was sent to the internal address"


async def test_redirects_are_not_followed(tmp_path: Path, broker: EmbeddedBroker) -> None:
    """A receiver answering 307 towards another address does not take the gateway there (here both are local,
    with private networks allowed: the redirect alone is what is refused)."""
    hits: list[str] = []
    app = FastAPI()

    @app.post("/hook")
    async def hook() -> Response:
        hits.append("hook")
        return Response(status_code=307, headers={"location": "/inside"})

    @app.post("/inside")
    async def inside() -> Response:
        hits.append("inside")
        return Response(status_code=204)

    settings = settings_for(tmp_path, broker, webhook_allow_private_networks=True, webhook_max_attempts=1)
    pensions = department(settings)
    async with live(app) as server, serving(build_app(settings), "gateway") as gw:
        sub_id = await pending_delivery(settings, f"{server.url}/hook")

        async def failed() -> bool:
            got = await gw.get(f"/subscriptions/{sub_id}/deliveries", params={"state": "failed"}, headers=pensions)
            return len(got.json()) == 1

        await eventually(failed, timeout=10, what="the redirected delivery to count as failed")
        [delivery] = (await gw.get(f"/subscriptions/{sub_id}/deliveries", headers=pensions)).json()
        assert delivery["last_status"] == 307
    assert hits == ["hook"]
