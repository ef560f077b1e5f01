"""Rate limits shared by gateway replicas: two gateway apps (two replicas) on ONE database, in front of a real HTTP
service, a client's requests alternating between them. The sync step the background task runs every
``rate_limit_sync_s`` is called directly between requests (the background one is set to a minute, so it runs at
start only), which makes every count here exact instead of timing-dependent."""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text

from civic.auth import Role
from civic.broker import EmbeddedBroker
from civic.db import make_engine
from civic.identity import pseudonym
from gateway.main import build_app
from gateway.ratelimit_shared import SharedRateLimits
from gateway.settings import GatewaySettings
from gateway.testing import LiveServer, live
from gateway.tokens import issue_dev_token
from tests.apps import serving
from tests.conftest import eventually
from tests.factories import resident_id

BURST = 10
PATH = "/api/funeral/people/p1"


@pytest.fixture
async def service() -> AsyncIterator[LiveServer]:
    app = FastAPI()

    @app.get("/people/{person}")
    async def person(person: str) -> dict[str, str]:
        return {"person": person}

    async with live(app) as server:
        yield server


def settings_for(tmp_path: Path, broker: EmbeddedBroker, url: str, name: str, **changes: Any) -> GatewaySettings:
    """Replicas: the same service name and data directory, so the same database (SQLite file or PostgreSQL)."""
    values: dict[str, Any] = {
        # Next to no refill while a test runs, wherever it falls in a window (the leniency for a client new to a
        # replica credits up to two windows' refill: 0.0001/s × 240 s < 0.03 of a request): what is accepted is
        # the burst.
        "rate_limit_per_s": 0.0001,
        "rate_limit_burst": BURST,
        "rate_limit_sync_s": 60.0,
        "rate_limit_shared": True,  # on SQLite too (it is on by default with PostgreSQL only)
    }
    return GatewaySettings(
        service_name=name, data_dir=tmp_path, dev_issuer=True, kafka_bootstrap=broker.bootstrap,
        service_urls={"funeral": url}, consumers_enabled=False, **(values | changes),
    )  # fmt: skip


def auth(settings: GatewaySettings, subject: str) -> dict[str, str]:
    token = issue_dev_token(settings, role=Role.CASEWORKER, subject=subject, domain="funeral")
    return {"authorization": f"Bearer {token}"}


@contextlib.asynccontextmanager
async def replicas(
    settings: GatewaySettings,
) -> AsyncIterator[tuple[tuple[httpx.AsyncClient, httpx.AsyncClient], tuple[SharedRateLimits, SharedRateLimits]]]:
    first, second = build_app(settings), build_app(settings)
    async with serving(first, "gateway-a") as a, serving(second, "gateway-b") as b:
        shared: tuple[SharedRateLimits, SharedRateLimits] = (
            first.state.shared_rate_limits, second.state.shared_rate_limits)  # fmt: skip
        if settings.shares_rate_limits():  # let the background task's run at start-up pass, so that counts are exact

            async def started() -> bool:
                return all(replica.runs > 0 for replica in shared)

            await eventually(started, what="the replicas' first sync at start-up")
        yield (a, b), shared


async def rows(settings: GatewaySettings) -> list[tuple[str, int, int]]:
    engine = make_engine(settings.resolved_database_url())
    try:
        async with engine.connect() as conn:
            result = await conn.execute(
                text("SELECT client, window_start_ms, count FROM rate_limit_window ORDER BY client, window_start_ms")
            )
            return [(str(c), int(w), int(n)) for c, w, n in result]
    finally:
        await engine.dispose()


async def execute(settings: GatewaySettings, statement: str) -> None:
    engine = make_engine(settings.resolved_database_url())
    try:
        async with engine.begin() as conn:
            await conn.execute(text(statement))
    finally:
        await engine.dispose()


async def alternate(
    gateways: tuple[httpx.AsyncClient, httpx.AsyncClient], headers: dict[str, str], rounds: int,
    shared: tuple[SharedRateLimits, SharedRateLimits] | None,
) -> list[int]:  # fmt: skip
    """One request to each replica per round, then (if ``shared``) each replica's sync: one sync interval per
    round. The statuses in order."""
    statuses: list[int] = []
    for _ in range(rounds):
        for gw in gateways:
            response = await gw.get(PATH, headers=headers)
            assert response.status_code in (200, 429), response.text
            statuses.append(response.status_code)
        if shared:
            for replica in shared:
                assert await replica.sync()
    return statuses


async def test_two_replicas_on_one_database_hold_a_client_to_one_limit(
    tmp_path: Path, broker: EmbeddedBroker, service: LiveServer
) -> None:
    settings = settings_for(tmp_path, broker, service.url, f"gateway-{uuid.uuid4().hex[:8]}")
    headers = auth(settings, "cw-busy")
    async with replicas(settings) as (gateways, shared):
        statuses = await alternate(gateways, headers, rounds=3 * BURST, shared=shared)
        accepted = statuses.count(200)
        # The module's bound: one bucket (BURST; the refill is ~0 here) plus what the other replica accepted in
        # the last two sync intervals (one request per interval here). Separate buckets would give 2 × BURST.
        assert BURST <= accepted <= BURST + 2, statuses
        assert statuses[-4:] == [429] * 4, "once over the cluster-wide limit, every replica refuses"
        for gw in gateways:
            refused = await gw.get(PATH, headers=headers)
            assert refused.status_code == 429
            assert refused.headers["content-type"] == "application/problem+json"
            assert refused.json()["type"].endswith("/rate-limited")
            assert int(refused.headers["retry-after"]) >= 1

        # Other clients keep their own limits, cluster-wide too.
        calm = await alternate(gateways, auth(settings, "cw-calm"), rounds=2, shared=shared)
        assert calm == [200] * 4

        # The worst case the module states: a client new to both replicas firing a whole burst at each before
        # any sync gets both bursts once — and then owes the excess on every replica (Retry-After says how long).
        headers = auth(settings, "cw-bursty")
        first, second = gateways
        assert [(await first.get(PATH, headers=headers)).status_code for _ in range(BURST)] == [200] * BURST
        assert [(await second.get(PATH, headers=headers)).status_code for _ in range(BURST)] == [200] * BURST
        for replica in shared:
            assert await replica.sync()
        for replica in shared:
            assert await replica.sync()
        for gw in gateways:
            owed = await gw.get(PATH, headers=headers)
            assert owed.status_code == 429
            # About BURST tokens owed at 0.0001/s: ~100,000 s (less the refill the replica that first saw the client
            # on the other credits it with).
            assert int(owed.headers["retry-after"]) >= 500, owed.headers


async def test_separate_buckets_give_a_client_twice_the_limit(
    tmp_path: Path, broker: EmbeddedBroker, service: LiveServer
) -> None:
    """The same traffic with sharing off (each replica on its own, as before): twice the limit gets through —
    so the bound above is what sharing buys, not something the test's traffic would show anyway."""
    settings = settings_for(tmp_path, broker, service.url, f"gateway-{uuid.uuid4().hex[:8]}", rate_limit_shared=False)
    async with replicas(settings) as (gateways, _):
        statuses = await alternate(gateways, auth(settings, "cw-busy"), rounds=3 * BURST, shared=None)
    assert statuses.count(200) == 2 * BURST
    assert await rows(settings) == [], "nothing is written when sharing is off"


async def test_a_replica_goes_on_serving_on_its_own_limits_while_the_shared_table_cannot_be_reached(
    tmp_path: Path, broker: EmbeddedBroker, service: LiveServer
) -> None:
    settings = settings_for(tmp_path, broker, service.url, f"gateway-{uuid.uuid4().hex[:8]}")
    headers = auth(settings, "cw-1")
    async with replicas(settings) as ((first, second), (shared_first, shared_second)):
        assert (await second.get(PATH, headers=headers)).status_code == 200, "the second replica knows the client"
        await execute(settings, "ALTER TABLE rate_limit_window RENAME TO rate_limit_window_away")
        try:
            statuses = [(await first.get(PATH, headers=headers)).status_code for _ in range(BURST + 2)]
            assert statuses == [200] * BURST + [429] * 2, "local limits hold; no 500 from the limiter"
            assert await shared_first.sync() is False, "the sync says it could not reach the table, and raises nothing"
            assert not shared_first.reachable
            assert (await first.get(PATH, headers=headers)).status_code == 429
            assert (await first.get(PATH, headers=auth(settings, "cw-2"))).status_code == 200
        finally:
            await execute(settings, "ALTER TABLE rate_limit_window_away RENAME TO rate_limit_window")

        # Back: the counts kept through the outage are handed on, and the other replica takes them off.
        assert await shared_first.sync() is True and shared_first.reachable
        assert sorted((client, count) for client, _, count in await rows(settings)) == [
            ("caseworker:cw-1", BURST),
            ("caseworker:cw-2", 1),
        ]
        assert await shared_second.sync()
        assert (await second.get(PATH, headers=headers)).status_code == 429, "the whole cluster's count applies"


async def test_old_windows_are_purged_and_the_background_task_hands_counts_on(
    tmp_path: Path, broker: EmbeddedBroker, service: LiveServer
) -> None:
    settings = settings_for(tmp_path, broker, service.url, f"gateway-{uuid.uuid4().hex[:8]}")
    async with replicas(settings) as ((first, _), (shared, _)):
        assert (await first.get(PATH, headers=auth(settings, "cw-old"))).status_code == 200
        an_hour_ago = time.time() - 3600
        assert await shared.sync(now=an_hour_ago)  # its count lands in a window an hour old
        assert (await first.get(PATH, headers=auth(settings, "cw-new"))).status_code == 200
        assert await shared.sync()
        assert [client for client, _, _ in await rows(settings)] == ["caseworker:cw-new"]

        assert await shared.purge(before_ms=int(time.time() * 1000) + shared.window_ms) == 1
        assert await rows(settings) == []

    # The background task (a short interval here) does the same without being called.
    settings = settings_for(tmp_path, broker, service.url, f"gateway-{uuid.uuid4().hex[:8]}", rate_limit_sync_s=0.05)
    async with replicas(settings) as ((first, _), _):
        assert (await first.get(PATH, headers=auth(settings, "cw-bg"))).status_code == 200

        async def handed_on() -> bool:
            return [(client, count) for client, _, count in await rows(settings)] == [("caseworker:cw-bg", 1)]

        await eventually(handed_on, what="the background sync to add the replica's count")


async def test_a_citizens_counts_name_them_by_pseudonym_not_resident_id(
    tmp_path: Path, broker: EmbeddedBroker, service: LiveServer
) -> None:
    settings = settings_for(tmp_path, broker, service.url, f"gateway-{uuid.uuid4().hex[:8]}")
    citizen = resident_id(date(1950, 5, 5))
    token = issue_dev_token(settings, role=Role.CITIZEN, subject=citizen)
    async with replicas(settings) as ((first, _), (shared, _)):
        assert (await first.get(PATH, headers={"authorization": f"Bearer {token}"})).status_code == 200
        assert await shared.sync()
        key = settings.pseudonym_key.get_secret_value().encode()
        assert [client for client, _, _ in await rows(settings)] == [f"citizen:{pseudonym(citizen, key)}"]
