"""身后一件事, marriage's step: funeral (in-process) registers a death, marriage records the surviving spouse as
widowed; the death revoked restores the marriage; duplicates change nothing; a deceased with no spouse is said so."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaProducer
from sqlmodel.ext.asyncio.session import AsyncSession

from civic.auth import Principal, Role, identity_headers
from civic.broker import EmbeddedBroker
from civic.events import Event
from contracts.funeral import DeathRegistered, DeathRevoked, Reporter
from services.funeral.main import build_app as build_funeral
from services.marriage.models import DeathNotice
from tests.apps import serving
from tests.conftest import eventually
from tests.integration.test_marriage_registration import Registry, events_about, man, registry, woman
from tests.kit import message_of, settings_for


async def publish(broker: EmbeddedBroker, reg: Registry, *events: Event, twice: bool = False) -> None:
    """Publish as funeral's relay would (funeral has no revocation route yet); ``twice`` redelivers each."""
    producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap, acks="all")
    await producer.start()
    try:
        for event in events:
            m = message_of(event, reg.settings)
            for _ in range(2 if twice else 1):
                await producer.send_and_wait(m.topic, m.value, key=m.key, headers=m.headers)
    finally:
        await producer.stop()


async def status_is(reg: Registry, rid: str, expected: str) -> None:
    async def check() -> bool:
        return bool((await reg.status_of(rid))["status"] == expected)

    await eventually(check, what=f"marital status {expected}")


async def test_widowhood_and_its_reversal(broker: EmbeddedBroker, tmp_path: Path) -> None:
    husband, wife, single = man(), woman(), man()
    funeral = build_funeral(settings_for("funeral", tmp_path, broker.bootstrap))
    async with registry(broker, tmp_path) as reg, serving(funeral, "funeral") as funeral_client:
        marriage = (await reg.marry(husband, wife)).json()
        headers = identity_headers(Principal(subject="cw-9", role=Role.CASEWORKER, domain="funeral"), reg.settings)
        death = await funeral_client.post(
            "/deaths",
            headers=headers,
            json={
                "resident_id": husband,
                "date_of_death": "2026-06-01",
                "reported_by": {"name": "李娜", "relation": "配偶"},
            },
        )
        assert death.status_code == 201, death.text
        registration_id = death.json()["id"]

        await status_is(reg, wife, "widowed")
        widow = await reg.status_of(wife)
        assert (widow["since"], widow["marriage_registration_id"]) == ("2026-06-01", marriage["id"])
        assert (await reg.status_of(husband))["status"] == "deceased"

        # The same death again under a new event id (funeral's relay re-sent it): nothing changes.
        again = DeathRegistered(
            resident_id=husband,
            registration_id=registration_id,
            date_of_death=datetime(2026, 6, 1).date(),
            registered_at=datetime.now(UTC),
            reported_by=Reporter(name="李娜", relation="配偶"),
        )
        revoked = DeathRevoked(
            resident_id=husband, registration_id=registration_id, reason="wrong person", revoked_at=datetime.now(UTC)
        )
        await publish(broker, reg, again, revoked, revoked, twice=True)
        await status_is(reg, wife, "married")
        assert (await reg.status_of(husband))["status"] == "married"
        assert (await reg.status_of(wife))["marriage_registration_id"] == marriage["id"]

        single_death = await funeral_client.post(
            "/deaths",
            headers=headers,
            json={
                "resident_id": single,
                "date_of_death": "2026-06-02",
                "reported_by": {"name": "王芳", "relation": "子女"},
            },
        )
        assert single_death.status_code == 201

        async def noted() -> bool:
            async with AsyncSession(reg.service.engine) as s:
                return (await s.get(DeathNotice, single_death.json()["id"])) is not None

        await eventually(noted, what="the single person's death noted")
        await reg.drained()

    seen: list[tuple[str, dict[str, Any]]] = await events_about(broker, {husband, wife, single}, 8)
    types = [t.removeprefix("civic.marriage.") for t, _ in seen]
    assert types.count("spouse-widowed.v1") == 1, types
    assert types.count("widowhood-reversed.v1") == 1, types
    widowed = next(d for t, d in seen if t.endswith("spouse-widowed.v1"))
    assert widowed == {
        "resident_id": wife,
        "deceased_resident_id": husband,
        "death_registration_id": registration_id,
        "widowed_on": "2026-06-01",
    }
    no_spouse = [d for t, d in seen if t.endswith("deceased-had-no-spouse.v1")]
    assert [d["resident_id"] for d in no_spouse] == [single]


async def test_a_survivor_who_remarried_is_not_made_a_bigamist(broker: EmbeddedBroker, tmp_path: Path) -> None:
    husband, wife, second = man(), woman(), man()
    registration_id = str(uuid.uuid4())
    async with registry(broker, tmp_path) as reg:
        assert (await reg.marry(husband, wife)).status_code == 201
        died = DeathRegistered(
            resident_id=husband,
            registration_id=registration_id,
            date_of_death=datetime(2026, 1, 5).date(),
            registered_at=datetime.now(UTC),
            reported_by=Reporter(name="李娜", relation="配偶"),
        )
        await publish(broker, reg, died)
        await status_is(reg, wife, "widowed")
        assert (await reg.marry(second, wife)).status_code == 201
        refused = await reg.marry(husband, woman())
        assert refused.status_code == 409 and refused.json()["type"].endswith("/party-deceased")
        await publish(
            broker,
            reg,
            DeathRevoked(
                resident_id=husband, registration_id=registration_id, reason="error", revoked_at=datetime.now(UTC)
            ),
        )
        await reg.drained()
        types = [t for t, _ in await events_about(broker, {wife}, 7)]
        assert "civic.marriage.widowhood-not-reversed.v1" in types, types
        assert (await reg.status_of(wife))["spouse_resident_id"] == second
        assert (await reg.status_of(husband))["status"] == "deceased"
