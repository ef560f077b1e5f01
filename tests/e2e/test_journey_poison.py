"""A poison event in a journey, on the whole running system: funeral cannot handle one household's approval, for
good (its database refuses the row, as a broken schema or a bad constraint would); the journey shows as held up
with the reason, listed among the stuck ones; once the cause is fixed, the operator's replay completes it once."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

import httpx
from sqlalchemy import text

from civic import db
from civic.auth import Role
from civic.config import Settings
from tests.conftest import eventually
from tests.factories import resident_id

MARKED = "civic.funeral.household-marked-for-basic-funeral-services.v1"


def _sqlite(civic_system: Any) -> bool:
    # Asked of the data directory rather than of the settings: what counts is where `civic up` put the data.
    return bool((civic_system.data_dir / "funeral.db").exists())


def _funeral_url(civic_system: Any) -> str:
    """Funeral's own database, wherever this run keeps it (a SQLite file, or PostgreSQL in the PostgreSQL run)."""
    if _sqlite(civic_system):
        return f"sqlite+aiosqlite:///{civic_system.data_dir / 'funeral.db'}"
    return Settings(service_name="funeral", data_dir=civic_system.data_dir).resolved_database_url()


async def _funeral_db(civic_system: Any, *statements: str) -> None:
    engine = db.make_engine(_funeral_url(civic_system))
    try:
        async with engine.begin() as conn:
            for statement in statements:
                await conn.execute(text(statement))
    finally:
        await engine.dispose()


async def _refuse_rows_of(civic_system: Any, household_id: str, trigger: str) -> None:
    """Funeral's database refuses the projection's rows for one household, with ``trigger`` in the error."""
    if _sqlite(civic_system):
        await _funeral_db(civic_system, f"""
            CREATE TRIGGER {trigger} BEFORE INSERT ON difficulty_record WHEN NEW.household_id = '{household_id}'
            BEGIN SELECT RAISE(ABORT, 'difficulty record refused by {trigger}'); END""")  # fmt: skip
        return
    await _funeral_db(civic_system, f"""
        CREATE FUNCTION {trigger}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
            IF NEW.household_id = '{household_id}' THEN
                RAISE EXCEPTION 'difficulty record refused by {trigger}';
            END IF;
            RETURN NEW;
        END $$""", f"""
        CREATE TRIGGER {trigger} BEFORE INSERT ON difficulty_record FOR EACH ROW EXECUTE FUNCTION {trigger}()""")  # fmt: skip


async def _fix(civic_system: Any, trigger: str) -> None:
    if _sqlite(civic_system):
        await _funeral_db(civic_system, f"DROP TRIGGER IF EXISTS {trigger}")
        return
    await _funeral_db(civic_system, f"DROP TRIGGER IF EXISTS {trigger} ON difficulty_record",
                      f"DROP FUNCTION IF EXISTS {trigger}()")  # fmt: skip


async def test_a_step_failing_for_good_holds_the_journey_up_until_its_dead_letter_is_replayed(
    civic_system: Any,
) -> None:
    cw = civic_system.auth(Role.CASEWORKER, "cw-a", "assistance")
    funeral_cw = civic_system.auth(Role.CASEWORKER, "cw-f", "funeral")
    operator = civic_system.auth(Role.OPERATOR, "op-1")
    applicant = resident_id(date(1985, 5, 15))
    me = civic_system.auth(Role.CITIZEN, applicant)
    trigger = f"poison_{uuid.uuid4().hex[:8]}"
    async with httpx.AsyncClient(base_url=civic_system.gateway_url, timeout=10) as api:
        household = await api.post("/api/assistance/households", headers=cw, json={
            "region_code": "371002", "area": "urban", "members": [{"resident_id": applicant, "relation": "本人"}],
        })  # fmt: skip
        assert household.status_code == 201, household.text
        household_id = household.json()["id"]
        await _refuse_rows_of(civic_system, household_id, trigger)
        try:
            application = await api.post("/api/assistance/applications", headers=cw,
                                         json={"household_id": household_id, "benefit": "dibao"})  # fmt: skip
            assert application.status_code == 201, application.text
            app_id = application.json()["id"]
            assert (await api.post(f"/api/assistance/applications/{app_id}/verify", headers=cw)).status_code == 200
            approved = await api.post(f"/api/assistance/applications/{app_id}/approve", headers=cw,
                                      json={"paid_from": "2026-01-01"})  # fmt: skip
            assert approved.status_code == 200, approved.text

            async def mine() -> dict[str, Any] | None:
                listed = (await api.get("/journeys", headers=me, params={"kind": "assistance-application"})).json()
                return next(iter(listed), None)

            async def held_up() -> bool:
                journey = await mine()
                return journey is not None and journey["state"] == "failed"

            await eventually(held_up, timeout=60, what="the journey held up by funeral's dead letter")
            journey = await mine()
            assert journey is not None and journey["state_zh"] == "办理受阻" and journey["stuck"]
            step = next(s for s in journey["steps"] if s["name"] == "funeral-services-marked")
            assert (step["state"], step["state_zh"]) == ("failed", "办理受阻")
            assert trigger in step["reason"], step["reason"]
            assert next(s for s in journey["steps"] if s["name"] == "decision")["state"] == "done"

            stuck = (await api.get("/journeys", headers=operator, params={"stuck": "true"})).json()
            assert journey["id"] in [j["id"] for j in stuck]
            history = (await api.get(f"/journeys/{journey['id']}", headers=operator)).json()["history"]
            letters = [e for e in history if e["dead_letter_of"] == "funeral"]
            assert [e["type"] for e in letters] == ["civic.assistance.benefit-approved.v1"]
            assert trigger in (letters[0]["error"] or "")
            not_yet = await api.post(f"/journeys/{journey['id']}/replay", headers=funeral_cw)
            assert not_yet.status_code == 403, "replaying dead letters is for operators"
        finally:
            await _fix(civic_system, trigger)

        replayed = await api.post(f"/journeys/{journey['id']}/replay", headers=operator)
        assert replayed.status_code == 200, replayed.text
        assert [(r["type"], r["group"]) for r in replayed.json()["replayed"]] == [
            ("civic.assistance.benefit-approved.v1", "funeral")
        ]

        async def completed() -> bool:
            journey = await mine()
            return journey is not None and journey["state"] == "completed"

        await eventually(completed, timeout=60, what="the journey completed after the replay")
        entitled = await api.get(f"/api/funeral/entitlements/{applicant}", headers=funeral_cw)
        assert entitled.json()["free_basic_funeral_services"] is True
        history = (await api.get(f"/journeys/{journey['id']}", headers=operator)).json()["history"]
        assert [e["type"] for e in history if e["dead_letter_of"] is None].count(MARKED) == 1
        # Replaying again sends the letter again; funeral's inbox absorbs it, and nothing is marked twice.
        assert (await api.post(f"/journeys/{journey['id']}/replay", headers=operator)).status_code == 200
        again = (await api.get(f"/journeys/{journey['id']}", headers=operator)).json()
        assert again["state"] == "completed"
        assert [e["type"] for e in again["history"] if e["dead_letter_of"] is None].count(MARKED) == 1
