"""Correcting a party's mistyped resident ID through the API: the record, its certificates and the marital status
move from the mistyped ID to the corrected one, the old value is kept with who and why, both people's status
changes are published on the broker; the corrected ID must pass what registration checks (valid, not the other
party, of age on the registration date, no other marriage then or now — also against a racing registration), and a
refusal writes nothing."""

from __future__ import annotations

import asyncio
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import func
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from civic.broker import EmbeddedBroker
from services.marriage.models import Certificate, Correction, CurrentSpouse, Marriage
from tests.integration.test_marriage_corrections import correct
from tests.integration.test_marriage_divorce import apply, certificate
from tests.integration.test_marriage_registration import Registry, events_about, man, registry, woman

TYPE = "civic.marriage."


async def snapshot(reg: Registry) -> tuple[Any, ...]:
    """Everything a correction could write: registrations, current spouses, certificates, corrections."""
    async with AsyncSession(reg.service.engine) as s:
        marriages = [(m.id, m.resident_id, m.spouse_resident_id) for m in (await s.exec(select(Marriage))).all()]
        spouses = [(c.resident_id, c.marriage_id) for c in (await s.exec(select(CurrentSpouse))).all()]
        holders = [(c.number, c.holder_resident_id) for c in (await s.exec(select(Certificate))).all()]
        corrections = (await s.exec(select(func.count()).select_from(Correction))).one()
    return sorted(marriages), sorted(spouses), sorted(holders), corrections


async def test_a_mistyped_id_is_corrected_and_both_people_learn_it(broker: EmbeddedBroker, tmp_path: Path) -> None:
    a, mistyped, meant = man(), woman(), woman()
    async with registry(broker, tmp_path) as reg:
        marriage = (await reg.marry(a, mistyped)).json()
        as_citizen = await correct(
            reg, marriage["id"], reg.citizen(meant), field="spouse_resident_id", new_value=meant, reason="mine"
        )
        assert as_citizen.status_code == 403

        corrected = await correct(
            reg, marriage["id"], field="spouse_resident_id", new_value=meant, reason="ID card copy in file 2026-17"
        )
        assert corrected.status_code == 201, corrected.text
        entry = corrected.json()
        assert (entry["field"], entry["old_value"], entry["new_value"]) == ("spouse_resident_id", mistyped, meant)
        assert (entry["reason"], entry["corrected_by"]) == ("ID card copy in file 2026-17", "cw-1")

        assert (await reg.status_of(meant))["marriage_registration_id"] == marriage["id"]
        assert (await reg.status_of(a))["spouse_resident_id"] == meant
        assert (await reg.status_of(mistyped))["status"] == "unmarried"
        theirs = await reg.client.get(f"/marriages/{marriage['id']}", headers=reg.citizen(meant))
        assert theirs.status_code == 200 and theirs.json()["spouse_resident_id"] == meant
        assert [c["holder_resident_id"] for c in theirs.json()["certificates"]] == [meant], "the certificate follows"
        assert (await reg.client.get(f"/marriages/{marriage['id']}", headers=reg.citizen(mistyped))).status_code == 404
        path = f"/marriages/{marriage['id']}/corrections"
        assert (await reg.client.get(path, headers=reg.citizen(mistyped))).status_code == 404
        history = (await reg.client.get(path, headers=reg.citizen(meant))).json()
        assert history[0]["new_value"] == meant and "*" * 8 in history[0]["old_value"], "a stranger's ID is masked"

        assert (await reg.marry(man(), mistyped)).status_code == 201, "the mistyped ID's person is free to marry"
        assert (await reg.marry(man(), meant)).status_code == 409, "the corrected ID's person is married"
        await reg.drained()

    seen = await events_about(broker, {mistyped, meant}, 5)
    fact = next(d for t, d in seen if t == TYPE + "registration-party-corrected.v1")
    assert (fact["resident_id"], fact["previous_resident_id"], fact["spouse_resident_id"]) == (meant, mistyped, a)
    assert (fact["marriage_registration_id"], fact["marriage_status"]) == (marriage["id"], "married")
    changes = [
        (d["resident_id"], d["previous_status"], d["status"])
        for t, d in seen
        if t == TYPE + "marital-status-changed.v1" and d["cause"] == TYPE + "registration-party-corrected.v1"
    ]
    assert sorted(changes) == sorted([(mistyped, "married", "unmarried"), (meant, "unmarried", "married")])


async def test_the_corrected_id_must_pass_the_registration_rules(broker: EmbeddedBroker, tmp_path: Path) -> None:
    a, mistyped = man(), woman()
    async with registry(broker, tmp_path) as reg:
        marriage = (await reg.marry(a, mistyped)).json()
        married_now = woman()
        assert (await reg.marry(man(), married_now)).status_code == 201
        married_then, h = woman(), man()  # married on the same day as a, divorced since: no longer married now
        assert (await reg.marry(h, married_then)).status_code == 201
        divorce = await apply(reg, h, married_then)
        reg.clock.today = date.fromisoformat(divorce["first_day_for_certificate"])
        assert (await certificate(reg, divorce["id"])).status_code == 200
        revoked = (await reg.marry(man(), woman())).json()
        assert (await reg.client.post(f"/marriages/{revoked['id']}/revocation", json={"reason": "false identity"},
                                      headers=reg.caseworker)).status_code == 200  # fmt: skip

        bad_check = mistyped[:17] + ("0" if mistyped[17] != "0" else "1")
        too_young = woman(date(2006, 6, 16))  # 20 the day after the registration date
        before = await snapshot(reg)
        refusals: list[tuple[str, str, int, str, str]] = [
            (marriage["id"], bad_check, 422, "invalid-resident-id", "new_value"),
            (marriage["id"], "not an id", 422, "invalid-resident-id", "new_value"),
            (marriage["id"], a, 422, "same-person", "new_value"),
            (marriage["id"], mistyped, 422, "no-change", "new_value"),
            (marriage["id"], too_young, 422, "under-legal-age", "new_value"),
            (marriage["id"], married_now, 409, "already-married", "new_value"),
            (marriage["id"], married_then, 409, "already-married", "new_value"),
            (revoked["id"], woman(), 409, "registration-not-correctable", "field"),
            ("no-such-registration", woman(), 404, "not-found", ""),
        ]
        for marriage_id, new_value, code, kind, field in refusals:
            response = await correct(
                reg, marriage_id, field="spouse_resident_id", new_value=new_value, reason="archive"
            )
            assert response.status_code == code, (kind, response.text)
            assert response.headers["content-type"] == "application/problem+json"
            assert response.json()["type"].endswith("/" + kind), (kind, response.text)
            assert response.json().get("field", "") == field, kind
        assert await snapshot(reg) == before, "nothing written by a refused correction"
        assert (await reg.status_of(mistyped))["marriage_registration_id"] == marriage["id"]


async def test_a_correction_racing_a_registration_for_the_same_person(broker: EmbeddedBroker, tmp_path: Path) -> None:
    async with registry(broker, tmp_path) as reg:
        for _ in range(3):
            a, mistyped, contested = man(), woman(), woman()
            marriage = (await reg.marry(a, mistyped)).json()
            corrected, registered = await asyncio.gather(
                correct(reg, marriage["id"], field="spouse_resident_id", new_value=contested, reason="archive"),
                reg.marry(man(), contested),
            )
            codes = sorted([corrected.status_code, registered.status_code])
            assert codes == [201, 409], (corrected.text, registered.text)
            loser = corrected if corrected.status_code == 409 else registered
            assert loser.json()["type"].endswith("/already-married")
            winner_id = marriage["id"] if corrected.status_code == 201 else registered.json()["id"]
            assert (await reg.status_of(contested))["marriage_registration_id"] == winner_id
            if corrected.status_code == 409:
                assert (await reg.status_of(mistyped))["marriage_registration_id"] == marriage["id"]
