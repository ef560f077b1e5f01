"""The authorization matrix: every route of the public API × every role, plus no token at all.

The routes come from the gateway's merged OpenAPI document (the services' real documents under ``/api/<domain>``,
and the gateway's own routes), so a route added later is covered without touching this file — a service route by
the rules below, a new gateway route by failing until it has a line in ``OWN_ROUTES``.

What is checked is the gateway's decision, so behind it each domain is a stand-in that serves the real service's
OpenAPI document and answers every other request 200 with the identity the gateway forwarded (record ownership is
the services' own check, tested with each service: e.g. ``tests/security/test_funeral_access.py``). The gateway
runs for real (uvicorn, lifespan, broker, database), in this process.
"""

from __future__ import annotations

import asyncio
import importlib
import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request

from civic.auth import IDENTITY_HEADER, Principal, Role, read_forwarded
from civic.broker import EmbeddedBroker
from civic.config import DOMAINS
from gateway.main import build_app
from gateway.settings import GatewaySettings
from gateway.testing import LiveServer, live
from gateway.tokens import issue_dev_token
from tests.factories import resident_id

PUBLIC = "public"  # no token needed (the gateway's own health endpoints)
CIT, AUD, DEP, OPS = Role.CITIZEN, Role.AUDITOR, Role.DEPARTMENT, Role.OPERATOR

# The issue's rules for the gateway's own routes, written out: who may call each. Citizens: their own journeys;
# caseworkers: their domain's routes only (none of these); auditors: read-only, and the audit log; department
# systems: their subscriptions only; operators: journeys, dead letters (per journey or per consumer group) and
# the subscriptions' scopes and failed deliveries.
OWN_ROUTES: dict[tuple[str, str], set[Role] | str] = {
    ("GET", "/healthz"): PUBLIC,
    ("GET", "/readyz"): PUBLIC,
    ("GET", "/audit"): {AUD},
    ("GET", "/journeys"): {CIT, AUD, OPS},
    ("GET", "/journeys/notifications"): {CIT},
    ("GET", "/journeys/{journey_id}"): {CIT, AUD, OPS},
    ("POST", "/journeys/{journey_id}/replay"): {OPS},
    ("GET", "/dead-letters/{group}"): {AUD, OPS},
    ("POST", "/dead-letters/{group}/replay"): {OPS},
    ("GET", "/subscriptions"): {DEP, AUD, OPS},
    ("POST", "/subscriptions"): {DEP},
    ("PUT", "/subscriptions/{sub_id}/scope"): {OPS},
    ("GET", "/subscriptions/{sub_id}/deliveries"): {DEP, AUD, OPS},
    ("POST", "/subscriptions/{sub_id}/deliveries/{delivery_id}/resend"): {DEP, OPS},
    ("POST", "/subscriptions/{sub_id}/secret"): {DEP},
    ("GET", "/subscriptions/{sub_id}/events"): {DEP},
}


# Routes with no personal record that every caller with a token may use: checking a presented electronic
# marriage certificate, and the keys to check it offline.
CERTIFICATE_CHECKS = {("POST", "/api/marriage/certificates/verify"), ("GET", "/api/marriage/certificates/jwks.json")}
# A department system's service routes: those, and the monitoring platform's alarms.
DEPARTMENT_SERVICE_ROUTES = CERTIFICATE_CHECKS | {("POST", "/api/eldercare/alarms")}


def service_route_allowed(caller: Principal, domain: str, method: str, template: str) -> bool:
    """The issue's rules for ``/api/<domain>/…`` (the public ones: the services' operations endpoints are not in
    the document, see the last test)."""
    if (method, template) in CERTIFICATE_CHECKS:
        return True
    match caller.role:
        case Role.CITIZEN:
            return True  # every service, which shows them their own records only
        case Role.CASEWORKER:
            return caller.domain == domain
        case Role.AUDITOR:
            return method == "GET"
        case Role.DEPARTMENT:
            return (method, template) in DEPARTMENT_SERVICE_ROUTES
        case Role.OPERATOR:
            return False


CITIZEN_ID = resident_id(date(1961, 5, 4))
CALLERS = [
    Principal(subject=CITIZEN_ID, role=Role.CITIZEN),
    *(Principal(subject=f"cw-{d}", role=Role.CASEWORKER, domain=d) for d in DOMAINS),
    Principal(subject="aud-1", role=Role.AUDITOR),
    Principal(subject="dept-matrix", role=Role.DEPARTMENT),
    Principal(subject="op-1", role=Role.OPERATOR),
]


def stand_in(domain: str, settings: GatewaySettings) -> FastAPI:
    """The domain's real OpenAPI document; any other request answered with the identity forwarded to it."""
    real = importlib.import_module(f"services.{domain}.main").app
    document = real.openapi()
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)

    @app.get("/openapi.json")
    async def openapi() -> dict[str, Any]:
        return document

    @app.api_route("/{path:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
    async def anything(path: str, request: Request) -> dict[str, Any]:
        forwarded = read_forwarded(request.headers[IDENTITY_HEADER], settings)
        return {"domain": domain, "path": f"/{path}", "identity": forwarded.model_dump(mode="json")}

    return app


@dataclass
class Gateway:
    settings: GatewaySettings
    api: httpx.AsyncClient
    subscription_id: str
    tokens: dict[Principal, str] = field(default_factory=dict)

    def bearer(self, caller: Principal) -> dict[str, str]:
        if caller not in self.tokens:  # signing loads the issuer's key: slow enough to do once per caller
            self.tokens[caller] = issue_dev_token(self.settings, role=caller.role, subject=caller.subject,
                                                  domain=caller.domain)  # fmt: skip
        return {"authorization": f"Bearer {self.tokens[caller]}"}


@pytest.fixture
async def gateway(tmp_path: Path, broker: EmbeddedBroker) -> AsyncIterator[Gateway]:
    settings = GatewaySettings(
        service_name=f"gateway-{uuid.uuid4().hex[:8]}", data_dir=tmp_path, dev_issuer=True,
        kafka_bootstrap=broker.bootstrap, rate_limit_per_s=100_000, rate_limit_burst=100_000, delivery_poll_s=0.05,
        service_urls={},
        # The journey tracker reads every event the session's earlier tests left on the shared broker: in small
        # transactions, so that its writes to the SQLite file never hold up the audit log's for long.
        consumer_batch_size=20,
    )  # fmt: skip
    servers = [LiveServer(stand_in(d, settings)) for d in DOMAINS]
    for server in servers:
        await server.start()
    settings.service_urls = {d: s.url for d, s in zip(DOMAINS, servers, strict=True)}
    try:
        async with live(build_app(settings), lifespan="on") as server, \
                httpx.AsyncClient(base_url=server.url, timeout=30) as api:  # fmt: skip  # decisions, not latency: a loaded CI machine is slow
            gw = Gateway(settings, api, "")
            created = await api.post("/subscriptions", headers=gw.bearer(CALLERS[-2]),
                                     json={"event_types": ["civic.funeral.death-registered.v1"]})  # fmt: skip
            assert created.status_code == 201, created.text
            gw.subscription_id = created.json()["id"]
            yield gw
    finally:
        for server in servers:
            await server.stop()


@dataclass(frozen=True)
class Route:
    method: str
    template: str  # as in the public document

    def url(self, subscription_id: str) -> str:
        values = {"sub_id": subscription_id}
        return re.sub(r"\{(\w+)\}", lambda m: values.get(m.group(1), f"no-such-{m.group(1)}"), self.template)

    @property
    def domain(self) -> str | None:
        match = re.match(r"/api/([^/{]+)/", self.template)
        return match.group(1) if match else None


async def public_routes(api: httpx.AsyncClient) -> list[Route]:
    document = (await api.get("/api/openapi.json")).json()
    assert "x-civic-unavailable" not in document, document.get("x-civic-unavailable")
    return [
        Route(method.upper(), path)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if isinstance(operation, dict) and "responses" in operation
    ]


def expectation(route: Route, caller: Principal | None) -> bool | str:
    """True (let through), False (refused), or PUBLIC; without a caller, whether the route is public."""
    rule = OWN_ROUTES[route.method, route.template] if route.domain is None else None
    if rule == PUBLIC:
        return PUBLIC
    if caller is None:
        return False
    if route.domain is not None:
        return service_route_allowed(caller, route.domain, route.method, route.template)
    return isinstance(rule, set) and caller.role in rule


async def call(gw: Gateway, route: Route, headers: dict[str, str]) -> httpx.Response:
    url = route.url(gw.subscription_id)
    body = {} if route.method in ("POST", "PUT", "PATCH") else None
    if route.template.endswith("/events"):  # an endless stream: the status and headers are the answer
        async with gw.api.stream(route.method, url, headers=headers) as response:
            if response.status_code == 200:
                await response.aclose()
            else:
                await response.aread()
            return response
    return await gw.api.request(route.method, url, headers=headers, json=body)


def problem_type(response: httpx.Response) -> str:
    assert response.headers["content-type"] == "application/problem+json", response.text
    kind = response.json()["type"]
    assert isinstance(kind, str)
    return kind


async def test_every_route_against_every_role(gateway: Gateway) -> None:
    routes = await public_routes(gateway.api)
    own = {(r.method, r.template) for r in routes if r.domain is None}
    assert own == set(OWN_ROUTES), (
        "a gateway route without an expectation (or an expectation without a route): decide who may call "
        f"{sorted(own ^ set(OWN_ROUTES))} in OWN_ROUTES and in gateway.policy.GATEWAY_ROUTES"
    )
    for domain in DOMAINS:
        assert any(r.domain == domain for r in routes), f"no {domain} routes in the merged document"

    gate = asyncio.Semaphore(8)
    wrong: list[str] = []

    async def check(route: Route, caller: Principal | None) -> None:
        headers = gateway.bearer(caller) if caller else {}
        async with gate:
            response = await call(gateway, route, headers)
        who = f"{caller.role}{'/' + caller.domain if caller and caller.domain else ''}" if caller else "no token"
        case = f"{route.method} {route.template} as {who}: {response.status_code}"
        expected = expectation(route, caller)
        if expected == PUBLIC:
            if response.status_code != 200:
                wrong.append(f"{case}, expected 200 (public)")
        elif caller is None:
            if response.status_code != 401 or not problem_type(response).endswith("/unauthenticated"):
                wrong.append(f"{case}, expected 401 unauthenticated")
            elif not response.headers.get("www-authenticate", "").startswith("Bearer"):
                wrong.append(f"{case}, expected a WWW-Authenticate: Bearer challenge")
        elif expected:
            if response.status_code in (401, 403):
                wrong.append(f"{case}, expected to be let through ({response.text[:200]})")
            elif route.domain is not None:
                # It reached the service, as this caller and no one else.
                seen = response.json().get("identity") if response.status_code == 200 else None
                if seen != caller.model_dump(mode="json"):
                    wrong.append(f"{case}, expected the service to answer for this caller, got {response.text[:200]}")
        elif response.status_code != 403 or not problem_type(response).endswith("/forbidden"):
            wrong.append(f"{case}, expected 403 forbidden ({response.text[:200]})")

    await asyncio.gather(*(check(route, caller) for route in routes for caller in [*CALLERS, None]))
    assert not wrong, f"{len(wrong)} of {len(routes) * (len(CALLERS) + 1)} decisions differ:\n" + "\n".join(
        sorted(wrong)
    )


async def test_operators_watch_services_health_but_read_no_records(gateway: Gateway) -> None:
    operator = gateway.bearer(CALLERS[-1])
    for domain in DOMAINS:
        assert (await gateway.api.get(f"/api/{domain}/healthz", headers=operator)).status_code == 200
        assert (await gateway.api.get(f"/api/{domain}/readyz", headers=operator)).status_code == 200
        refused = await gateway.api.get(f"/api/{domain}/healthz/more", headers=operator)
        assert refused.status_code == 403, refused.text
    records = await gateway.api.get(f"/api/funeral/deaths/{CITIZEN_ID}", headers=operator)
    assert records.status_code == 403 and problem_type(records).endswith("/forbidden")


async def test_refusal_comes_before_the_body_is_looked_at(gateway: Gateway) -> None:
    """A caller who may not use a route learns nothing about what it expects (no 422 with its fields)."""
    citizen = gateway.bearer(CALLERS[0])
    for method, url in (("POST", "/subscriptions"), ("PUT", f"/subscriptions/{gateway.subscription_id}/scope")):
        response = await gateway.api.request(method, url, headers=citizen, content=b"not json")
        assert response.status_code == 403, response.text
