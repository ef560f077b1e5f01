"""Funeral benefits against the real broker, with assistance and eldercare running in the same test: a 低保
recipient's death gets the basic services free (funeral knows from its own projection of assistance's events),
someone else's does not; the eco-burial subsidy by type, once; a revocation cancels both here and is compensated
downstream (assistance reinstates the 低保, eldercare restores its care)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from civic.auth import Principal, Role, identity_headers
from civic.broker import EmbeddedBroker
from services.assistance.main import build_app as build_assistance
from services.eldercare.main import build_app as build_eldercare
from services.funeral.models import EcoBurialSubsidy
from tests.apps import serving
from tests.conftest import eventually
from tests.factories import resident_id
from tests.integration.test_funeral_deaths import Funeral, death, funeral, published, types
from tests.kit import settings_for


@asynccontextmanager
async def assistance(broker: EmbeddedBroker, tmp_path: Path) -> AsyncIterator[tuple[httpx.AsyncClient, dict[str, str]]]:
    settings = settings_for(f"assistance-{uuid.uuid4().hex[:8]}", tmp_path, broker.bootstrap)
    app = build_assistance(settings)
    async with serving(app, "assistance") as client:
        yield client, identity_headers(Principal(subject="cw-a", role=Role.CASEWORKER, domain="assistance"), settings)


async def approve_dibao(client: httpx.AsyncClient, caseworker: dict[str, str], person: str) -> str:
    """A one-person household with no income in Weihai gets 低保, as a caseworker decides it."""
    household = await client.post("/households", headers=caseworker, json={
        "region_code": "371002", "area": "urban", "members": [{"resident_id": person, "relation": "本人"}],
    })  # fmt: skip
    assert household.status_code == 201, household.text
    application = await client.post(
        "/applications", headers=caseworker, json={"household_id": household.json()["id"], "benefit": "dibao"}
    )
    assert application.status_code == 201, application.text
    application_id = application.json()["id"]
    assert (await client.post(f"/applications/{application_id}/verify", headers=caseworker)).status_code == 200
    approved = await client.post(
        f"/applications/{application_id}/approve", headers=caseworker, json={"paid_from": "2026-01-01"}
    )
    assert approved.status_code == 200, approved.text
    return str(approved.json()["case_id"])


async def entitled(f: Funeral, person: str) -> dict[str, Any]:
    response = await f.client.get(f"/entitlements/{person}", headers=f.caseworker)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def benefits(f: Funeral, registration_id: str, headers: dict[str, str]) -> dict[str, Any]:
    response = await f.client.get(f"/deaths/{registration_id}/benefits", headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_free_basic_services_for_the_deceased_in_difficulty_and_their_cancellation_on_revocation(
    broker: EmbeddedBroker, tmp_path: Path
) -> None:
    poor, son = resident_id(date(1944, 8, 8)), resident_id(date(1970, 3, 3))
    other = resident_id(date(1945, 9, 9))
    elder_settings = settings_for(f"eldercare-{uuid.uuid4().hex[:8]}", tmp_path, broker.bootstrap)
    async with (
        assistance(broker, tmp_path) as (aid, aid_worker),
        serving(build_eldercare(elder_settings), "eldercare"),
        funeral(broker, tmp_path) as f,
    ):
        case_id = await approve_dibao(aid, aid_worker, poor)

        async def projected() -> bool:
            return bool((await entitled(f, poor))["free_basic_funeral_services"])

        await eventually(projected, what="funeral's projection of the 低保 approval")
        assert not (await entitled(f, other))["free_basic_funeral_services"]
        assert (await f.client.get(f"/entitlements/{poor}", headers=f.citizen(son))).status_code == 404

        registration = (await f.report(f.citizen(son), **death(poor, name="赵大爷"))).json()
        assert registration["report"]["outcome"] == "registered"
        granted = (await benefits(f, registration["id"], f.citizen(son)))["funeral_benefit"]
        assert granted["kind"] == "free_basic_services"
        assert (granted["amount"], granted["in_kind"], granted["status"]) == ("1200.00", True, "granted")
        assert granted["payee"] == {"name": "王芳", "relation": "子女", "resident_id": son}
        assert case_id in granted["basis"]

        someone_else = (await f.report(f.caseworker, **death(other))).json()
        assert (await benefits(f, someone_else["id"], f.caseworker))["funeral_benefit"] is None

        sea = await f.client.post(f"/deaths/{registration['id']}/eco-burial-subsidy", headers=f.citizen(son), json={
            "burial_type": "sea", "burial_date": "2026-11-10",
            "payee": {"name": "王芳", "relation": "子女", "resident_id": son},
        })  # fmt: skip
        assert sea.status_code == 201, sea.text
        assert (sea.json()["amount"], sea.json()["burial_type"]) == ("800.00", "sea")

        revoked = await f.revoke(registration["id"], "the hospital confused two patients")
        assert revoked.status_code == 200, revoked.text
        after = await benefits(f, registration["id"], f.caseworker)
        assert after["funeral_benefit"]["status"] == "cancelled"
        assert after["eco_burial_subsidy"]["status"] == "cancelled"
        assert "confused" in after["eco_burial_subsidy"]["cancellation_reason"]

        async def reinstated() -> bool:
            state = await entitled(f, poor)
            return bool(state["basis"] and state["basis"][0]["ended_from"] is None)

        # Assistance stopped the 低保 from the month after the death and reinstates it on the revocation; the
        # projection follows both.
        await eventually(reinstated, what="the 低保 reinstated in funeral's projection")

        async def compensated_downstream() -> bool:
            aid_facts = [e["type"] for e in await published(broker, {poor}, topic="civic.assistance")]
            care_facts = [e["type"] for e in await published(broker, {poor}, topic="civic.eldercare")]
            return ("civic.assistance.benefits-of-deceased-reinstated.v1" in aid_facts
                    and "civic.eldercare.care-of-deceased-restored.v1" in care_facts)  # fmt: skip

        await eventually(compensated_downstream, what="assistance's and eldercare's compensation of the revocation")
        await f.drained()

    mine = await published(broker, {poor, other})
    assert types([e for e in mine if e["data"]["resident_id"] == poor]) == [
        "household-marked-for-basic-funeral-services.v1",  # funeral's step of the 低保 application's journey
        "death-registered.v1",
        "funeral-benefit-granted.v1",
        "eco-burial-subsidy-granted.v1",
        "death-revoked.v1",
        "funeral-benefit-cancelled.v1",
        "eco-burial-subsidy-cancelled.v1",
    ]
    assert types([e for e in mine if e["data"]["resident_id"] == other]) == [
        "death-registered.v1",
        "funeral-benefit-not-granted.v1",
    ]
    after_death = [e for e in mine if e["data"]["resident_id"] == poor and "household-marked" not in e["type"]]
    journey = {e["headers"]["ce_correlationid"] for e in after_death}
    assert journey == {registration["journey_id"]}, "every step and its compensation belong to the one journey"
    downstream = await published(broker, {poor}, topic="civic.assistance")
    assistance_facts = [e["type"].removeprefix("civic.assistance.") for e in downstream]
    assert "benefits-of-deceased-stopped.v1" in assistance_facts
    assert assistance_facts[-1] == "benefits-of-deceased-reinstated.v1", assistance_facts

    elder_facts = [
        e["type"].removeprefix("civic.eldercare.") for e in await published(broker, {poor}, "civic.eldercare")
    ]
    assert elder_facts.count("care-of-deceased-ended.v1") == 1, elder_facts
    assert elder_facts.index("care-of-deceased-ended.v1") < elder_facts.index("care-of-deceased-restored.v1")


async def test_eco_burial_subsidy_by_type_once_per_deceased(broker: EmbeddedBroker, tmp_path: Path) -> None:
    weihai, shengzhou, daughter = (
        resident_id(date(1950, 1, 1)),
        resident_id(date(1951, 2, 2), region="330683"),
        (resident_id(date(1975, 5, 5), female=True)),
    )
    payee = {"name": "刘洋", "relation": "女儿", "resident_id": daughter}
    async with funeral(broker, tmp_path) as f:
        reg = (await f.report(f.caseworker, **death(weihai))).json()
        url = f"/deaths/{reg['id']}/eco-burial-subsidy"

        async def ask(**body: Any) -> httpx.Response:
            return await f.client.post(url, headers=f.caseworker, json={"burial_date": "2026-11-12", "payee": payee,
                                                                         **body})  # fmt: skip

        async def written() -> int:
            async with AsyncSession(f.service.engine) as s:
                return int((await s.exec(select(func.count()).select_from(EcoBurialSubsidy))).one())

        cases: list[tuple[dict[str, Any], int, str, str]] = [
            ({"burial_type": "cremated_at_sea"}, 422, "validation-error", "burial_type"),
            ({"burial_type": "sea", "burial_date": "2026-11-01"}, 422, "burial-before-death", "burial_date"),
            ({"burial_type": "sea", "burial_date": "2026-11-21"}, 422, "burial-in-future", "burial_date"),
            ({"burial_type": "sea", "payee": {**payee, "resident_id": "371002197505050000"}}, 422,
             "validation-error", "payee.resident_id"),
        ]  # fmt: skip
        for body, status, kind, field in cases:
            refused = await ask(**body)
            assert (refused.status_code, refused.json()["type"].split("/")[-1], refused.json()["field"]) == (
                status,
                kind,
                field,
            ), refused.text
        assert await written() == 0, "a refused request writes nothing"

        no_ashes = await ask(burial_type="no_ashes_kept")
        assert no_ashes.status_code == 201, no_ashes.text
        assert no_ashes.json()["amount"] == "1000.00"
        assert no_ashes.json()["payee"] == payee
        twice = await ask(burial_type="tree")
        assert (twice.status_code, twice.json()["type"].split("/")[-1]) == (409, "eco-burial-subsidy-already-granted")
        assert await written() == 1, "the second request wrote nothing"

        # Shengzhou has no eco-burial figure in the policy data; it pays everyone the standard funeral benefit.
        hospital = {"name": "嵊州市人民医院", "relation": "医院"}
        sz = (await f.report(f.caseworker, **death(shengzhou, reported_by=hospital))).json()
        none_there = await f.client.post(f"/deaths/{sz['id']}/eco-burial-subsidy", headers=f.caseworker,
                                         json={"burial_type": "sea", "burial_date": "2026-11-12", "payee": payee})  # fmt: skip
        assert (none_there.status_code, none_there.json()["type"].split("/")[-1]) == (422, "no-eco-burial-subsidy")
        standard = (await benefits(f, sz["id"], f.caseworker))["funeral_benefit"]
        assert (standard["kind"], standard["amount"], standard["in_kind"]) == ("standard", "835.21", False)
        assert standard["payee"] is None, "a hospital that reports is not paid"
        named = await f.client.post(f"/deaths/{sz['id']}/funeral-benefit/payee", headers=f.caseworker, json=payee)
        assert named.status_code == 200, named.text
        assert named.json()["payee"] == payee
        renamed = await f.client.post(f"/deaths/{sz['id']}/funeral-benefit/payee", headers=f.caseworker, json=payee)
        assert (renamed.status_code, renamed.json()["type"].split("/")[-1]) == (409, "payee-already-named")

        # A revoked death gets no subsidy; an unknown one is not found.
        assert (await f.revoke(sz["id"])).status_code == 200
        late = await f.client.post(f"/deaths/{sz['id']}/eco-burial-subsidy", headers=f.caseworker,
                                   json={"burial_type": "sea", "burial_date": "2026-11-12", "payee": payee})  # fmt: skip
        assert (late.status_code, late.json()["type"].split("/")[-1]) == (409, "death-revoked")
        unknown = await f.client.post(f"/deaths/{uuid.uuid4()}/eco-burial-subsidy", headers=f.caseworker,
                                      json={"burial_type": "sea", "burial_date": "2026-11-12", "payee": payee})  # fmt: skip
        assert unknown.status_code == 404
        await f.drained()

    granted = [e for e in await published(broker, {weihai}) if e["type"].endswith("eco-burial-subsidy-granted.v1")]
    assert [(e["data"]["burial_type"], e["data"]["amount"]) for e in granted] == [("no_ashes_kept", "1000.00")]
