"""Assistance through its API on the real broker and SQLite: a household applies, is approved at the Weihai
figure, is paid monthly (re-run and interrupted runs pay nothing twice); a death stops the deceased's part and
recalculates the household; its revocation restores everything with back-pay per month."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import httpx

from civic.auth import Principal, Role, identity_headers
from civic.broker import EmbeddedBroker
from civic.config import Settings
from contracts.funeral import DeathRegistered, DeathRevoked, Reporter
from services.assistance.main import build_app
from tests.apps import serving
from tests.conftest import eventually
from tests.factories import resident_id
from tests.kit import settings_for

CASEWORKER = Principal(subject="cw-1", role=Role.CASEWORKER, domain="assistance")


def as_(p: Principal, settings: Settings) -> dict[str, str]:
    return identity_headers(p, settings)


def household_body(ids: list[str], income_each: str = "400") -> dict[str, Any]:
    relations = ["本人", "配偶", "子女", "子女"]
    return {
        "region_code": "371002",
        "area": "urban",
        "members": [{"resident_id": r, "relation": relations[i]} for i, r in enumerate(ids)],
        "incomes": [{"resident_id": r, "kind": "wages", "monthly_amount": income_each} for r in ids],
    }


async def approved_household(api: httpx.AsyncClient, cw: dict[str, str], ids: list[str]) -> tuple[str, str]:
    h = await api.post("/households", json=household_body(ids), headers=cw)
    assert h.status_code == 201, h.text
    app = await api.post("/applications", json={"household_id": h.json()["id"], "benefit": "dibao"}, headers=cw)
    assert app.status_code == 201, app.text
    app_id = app.json()["id"]
    assert (await api.post(f"/applications/{app_id}/verify", headers=cw)).status_code == 200
    decided = await api.post(f"/applications/{app_id}/approve", json={"paid_from": "2026-01-01"}, headers=cw)
    assert decided.status_code == 200, decided.text
    return h.json()["id"], decided.json()["case_id"]


async def test_application_to_payment_with_explanation_and_roles(broker: EmbeddedBroker, tmp_path: Path) -> None:
    settings = settings_for(f"assistance-{uuid.uuid4().hex[:6]}", tmp_path, broker.bootstrap)
    cw = as_(CASEWORKER, settings)
    ids = [resident_id(date(1980, 1, 2)), resident_id(date(1982, 3, 4), female=True), resident_id(date(2012, 5, 6))]
    async with serving(build_app(settings)) as api:
        household_id, case_id = await approved_household(api, cw, ids)
        citizen = as_(Principal(subject=ids[1], role=Role.CITIZEN), settings)
        case = (await api.get(f"/cases/{case_id}", headers=citizen)).json()
        assert case["monthly_amount"] == "870.00" and case["status"] == "active"
        application = (await api.get(f"/applications/{case['application_id']}", headers=citizen)).json()
        assert application["explanation"][-1] == "低保 = (690.00 − 400.00) × 3 = 870.00"

        stranger = as_(Principal(subject=resident_id(), role=Role.CITIZEN), settings)
        assert (await api.get(f"/cases/{case_id}", headers=stranger)).status_code == 404
        assert (await api.get(f"/households/{household_id}", headers=stranger)).status_code == 404
        seen = (await api.get(f"/households/{household_id}", headers=citizen)).json()
        assert seen["members"][1]["resident_id"] == ids[1]
        assert "*" * 8 in seen["members"][0]["resident_id"], "other members' IDs are masked to a citizen"
        denied = await api.post(f"/cases/{case_id}/suspend", headers=citizen,
                                json={"effective_from": "2026-03-01", "reason": "x"})  # fmt: skip
        assert denied.status_code == 403

        # interrupted after 0 cases, resumed, re-run: one payment for the month
        first = await api.post("/payment-runs", json={"month": "2026-01-01", "max_cases": 1}, headers=cw)
        assert first.json()["finished"] is False
        for _ in range(2):
            assert (await api.post("/payment-runs", json={"month": "2026-01-01"}, headers=cw)).json()["finished"]
        payments = (await api.get(f"/cases/{case_id}/payments", headers=cw)).json()
        assert payments == [{"month": "2026-01-01", "kind": "regular", "amount": "870.00"}]

        # a member in two households, a negative income, a paid month changed: refused, nothing written
        twice = await api.post("/households", json=household_body([resident_id(), ids[0]]), headers=cw)
        assert twice.status_code == 409 and twice.json()["field"] == "members[1].resident_id"
        negative = await api.post("/households", json=household_body([resident_id()], "-1"), headers=cw)
        assert negative.status_code == 422 and negative.json()["field"] == "incomes.0.monthly_amount"
        paid = await api.post(f"/cases/{case_id}/amount", headers=cw,
                              json={"effective_from": "2026-01-01", "monthly_amount": "900.00", "previous_amount": "870.00",
                                    "reason": "typo"})  # fmt: skip
        assert paid.status_code == 409 and paid.json()["field"] == "effective_from"
        assert (await api.get(f"/cases/{case_id}", headers=cw)).json()["monthly_amount"] == "870.00"

        # suspended Feb; the Feb run skips it; reinstated in March with Feb back-paid
        await api.post(
            f"/cases/{case_id}/suspend", headers=cw, json={"effective_from": "2026-02-01", "reason": "review"}
        )
        await api.post("/payment-runs", json={"month": "2026-02-01"}, headers=cw)
        back = await api.post(f"/cases/{case_id}/reinstate", json={"reason": "documents received"}, headers=cw)
        assert back.json()["status"] == "active"
        await api.post("/payment-runs", json={"month": "2026-03-01"}, headers=cw)
        payments = (await api.get(f"/cases/{case_id}/payments", headers=cw)).json()
        assert [(p["month"], p["kind"], p["amount"]) for p in payments] == [
            ("2026-01-01", "regular", "870.00"),
            ("2026-02-01", "back_pay", "870.00"),
            ("2026-03-01", "regular", "870.00"),
        ]
        kinds = [c["kind"] for c in (await api.get(f"/cases/{case_id}/history", headers=cw)).json()]
        assert kinds == ["approved", "suspended", "reinstated"]


async def publish(settings: Settings, *events: Any) -> None:
    from tests.kit import ProducerSide

    producer = ProducerSide(settings)
    await producer.start()
    try:
        await producer.write(events)
        await eventually(lambda: _drained(producer), what="events published")
    finally:
        await producer.stop()


async def _drained(producer: Any) -> bool:
    from tests.kit import outbox_pending

    return await outbox_pending(producer.engine) == 0


async def test_death_stops_and_recalculates_and_revocation_restores_with_back_pay(
    broker: EmbeddedBroker, tmp_path: Path
) -> None:
    settings = settings_for(f"assistance-{uuid.uuid4().hex[:6]}", tmp_path, broker.bootstrap)
    funeral = settings_for("funeral", tmp_path / "funeral", broker.bootstrap)
    cw = as_(CASEWORKER, settings)
    ids = [resident_id(date(1950, 1, 2)), resident_id(date(1952, 3, 4), female=True), resident_id(date(1990, 5, 6))]
    async with serving(build_app(settings)) as api:
        household_id, case_id = await approved_household(api, cw, ids)
        lone = await api.post("/cases", headers=cw, json={"resident_id": ids[0], "region_code": "371002",
                                                          "monthly_amount": "300.00", "paid_from": "2026-01-01"})  # fmt: skip
        lone_id = lone.json()["id"]
        await api.post("/payment-runs", json={"month": "2026-01-01"}, headers=cw)

        registration = uuid.uuid4().hex
        now = datetime.now(UTC)
        death = DeathRegistered(resident_id=ids[0], registration_id=registration, date_of_death=date(2026, 1, 20),
                                registered_at=now, reported_by=Reporter(name="张伟", relation="子女"))  # fmt: skip
        await publish(funeral, death, death)  # delivered twice: one effect

        async def stopped() -> bool:
            return bool((await api.get(f"/cases/{lone_id}", headers=cw)).json()["status"] == "stopped")

        await eventually(stopped, what="the deceased's own case stopped")
        lone_case = (await api.get(f"/cases/{lone_id}", headers=cw)).json()
        assert lone_case["stopped_from"] == "2026-02-01" and registration in lone_case["stop_reason"]
        household_case = (await api.get(f"/cases/{case_id}", headers=cw)).json()
        assert household_case["status"] == "active"
        assert household_case["monthly_amount"] == "580.00", "(690 − 400) × 2 from the month after the death"

        await api.post("/payment-runs", json={"month": "2026-02-01"}, headers=cw)
        blocked = await api.post("/cases", headers=cw, json={"resident_id": ids[0], "region_code": "371002",
                                                             "monthly_amount": "300.00", "paid_from": "2026-03-01"})  # fmt: skip
        assert blocked.status_code == 409 and blocked.json()["field"] == "resident_id"

        revoked = DeathRevoked(resident_id=ids[0], registration_id=registration, reason="wrong person",
                               revoked_at=now)  # fmt: skip
        await publish(funeral, revoked)

        async def reinstated() -> bool:
            return bool((await api.get(f"/cases/{lone_id}", headers=cw)).json()["status"] == "active")

        await eventually(reinstated, what="the deceased's case reinstated")
        assert (await api.get(f"/cases/{case_id}", headers=cw)).json()["monthly_amount"] == "870.00"
        lone_paid = (await api.get(f"/cases/{lone_id}/payments", headers=cw)).json()
        assert [(p["month"], p["kind"], p["amount"]) for p in lone_paid] == [
            ("2026-01-01", "regular", "300.00"),
            ("2026-02-01", "back_pay", "300.00"),
        ]
        household_paid = (await api.get(f"/cases/{case_id}/payments", headers=cw)).json()
        assert [(p["month"], p["kind"], p["amount"]) for p in household_paid] == [
            ("2026-01-01", "regular", "870.00"),
            ("2026-02-01", "back_pay", "290.00"),
            ("2026-02-01", "regular", "580.00"),
        ]
        members = (await api.get(f"/households/{household_id}", headers=cw)).json()["members"]
        assert [m["died_on"] for m in members] == [None, None, None]


async def test_an_amount_correction_from_a_stale_reading_is_refused_not_written_over_another(
    broker: EmbeddedBroker, tmp_path: Path
) -> None:
    """Two caseworkers read the case at 870.00 and each corrects it: the second correction, made from a reading
    the first has overtaken, is refused naming the field — one after the other, and at the same moment."""
    settings = settings_for(f"assistance-{uuid.uuid4().hex[:6]}", tmp_path, broker.bootstrap)
    cw = as_(CASEWORKER, settings)
    ids = [resident_id(date(1980, 1, 2)), resident_id(date(1982, 3, 4), female=True), resident_id(date(2012, 5, 6))]
    async with serving(build_app(settings)) as api:
        _, case_id = await approved_household(api, cw, ids)
        read = (await api.get(f"/cases/{case_id}", headers=cw)).json()["monthly_amount"]
        assert read == "870.00"

        def correction(amount: str, seen: str = read) -> dict[str, str]:
            return {"effective_from": "2026-03-01", "monthly_amount": amount, "previous_amount": seen,
                    "reason": "income corrected"}  # fmt: skip

        first = await api.post(f"/cases/{case_id}/amount", json=correction("900.00"), headers=cw)
        assert first.status_code == 200 and first.json()["monthly_amount"] == "900.00", first.text
        stale = await api.post(f"/cases/{case_id}/amount", json=correction("950.00"), headers=cw)
        assert stale.status_code == 409 and stale.headers["content-type"] == "application/problem+json"
        assert stale.json()["type"].endswith("/amount-changed") and stale.json()["field"] == "previous_amount"
        assert "900.00" in stale.json()["detail"], "it says what the amount is now"

        # At the same moment, from the same reading: one is written, the other refused.
        both = await asyncio.gather(*(api.post(f"/cases/{case_id}/amount", json=correction(a, "900.00"), headers=cw)
                                      for a in ("910.00", "920.00")))  # fmt: skip
        assert sorted(r.status_code for r in both) == [200, 409], [r.text for r in both]
        [won] = [r.json()["monthly_amount"] for r in both if r.status_code == 200]
        assert (await api.get(f"/cases/{case_id}", headers=cw)).json()["monthly_amount"] == won
        history = (await api.get(f"/cases/{case_id}/history", headers=cw)).json()
        assert [h["amount"] for h in history if h["kind"] == "amount changed"] == ["900.00", won]

        missing = await api.post(f"/cases/{case_id}/amount", headers=cw,
                                 json={"effective_from": "2026-03-01", "monthly_amount": "1.00", "reason": "x"})  # fmt: skip
        assert missing.status_code == 422 and missing.json()["field"] == "previous_amount"
