"""Correction of historical records through the API (reason, who, when, old value kept; refusals that write
nothing; a corrected record makes earlier electronic certificates disagree with the register), and 异地查档:
a citizen reads their own records from anywhere, staff give a reason that is recorded."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from civic.auth import Principal, Role, identity_headers
from civic.broker import EmbeddedBroker
from services.marriage.models import ArchiveQuery, Correction
from tests.integration.test_marriage_divorce import apply, certificate
from tests.integration.test_marriage_registration import TODAY, Registry, events_about, man, registry, woman


async def correct(reg: Registry, marriage_id: str, headers: dict[str, str] | None = None, **body: Any) -> Any:
    return await reg.client.post(
        f"/marriages/{marriage_id}/corrections", json=body, headers=reg.caseworker if headers is None else headers
    )


async def counts(reg: Registry) -> tuple[int, int]:
    """Corrections and archive queries recorded (the events of a correction are checked on the bus)."""
    async with AsyncSession(reg.service.engine) as s:
        corrections = (await s.exec(select(func.count()).select_from(Correction))).one()
        queries = (await s.exec(select(func.count()).select_from(ArchiveQuery))).one()
    return int(corrections), int(queries)


async def test_corrections_keep_the_old_value_and_refusals_write_nothing(
    broker: EmbeddedBroker, tmp_path: Path
) -> None:
    a, b = man(date(1990, 5, 5)), woman(date(1992, 7, 7))
    async with registry(broker, tmp_path) as reg:
        marriage = (await reg.marry(a, b)).json()
        number = next(c["number"] for c in marriage["certificates"] if c["holder_resident_id"] == a)
        document = (await reg.client.get(f"/certificates/{number}/electronic", headers=reg.citizen(a))).json()

        corrected = await correct(
            reg, marriage["id"], field="name", new_value=" 张玮 ", reason="archive file 1998-0042 shows 玮"
        )
        assert corrected.status_code == 201, corrected.text
        entry = corrected.json()
        assert (entry["field"], entry["old_value"], entry["new_value"]) == ("name", "张伟", "张玮")
        assert entry["reason"] == "archive file 1998-0042 shows 玮" and entry["corrected_by"] == "cw-1"
        assert entry["corrected_at"] and entry["marriage_registration_id"] == marriage["id"]
        reread = await reg.client.get(f"/marriages/{marriage['id']}", headers=reg.citizen(a))
        assert reread.json()["name"] == "张玮"
        answer = (await reg.client.post("/certificates/verify", json={"document": document["document"]})).json()
        assert (answer["valid"], answer["status"], answer["register_agrees"]) == (True, "valid", False)

        earlier = (TODAY - timedelta(days=400)).isoformat()
        dated = await correct(reg, marriage["id"], field="registered_on", new_value=earlier, reason="archive date")
        assert dated.status_code == 201, dated.text
        assert dated.json()["old_value"] == TODAY.isoformat()
        assert (await reg.status_of(a))["since"] == earlier

        history = await reg.client.get(f"/marriages/{marriage['id']}/corrections", headers=reg.citizen(b))
        assert [c["field"] for c in history.json()] == ["name", "registered_on"]
        auditor = identity_headers(Principal(subject="au-1", role=Role.AUDITOR), reg.settings)
        assert (await reg.client.get(f"/marriages/{marriage['id']}/corrections", headers=auditor)).status_code == 200
        stranger = reg.citizen(man())
        assert (await reg.client.get(f"/marriages/{marriage['id']}/corrections", headers=stranger)).status_code == 404

        # A history to collide with: c married d, divorced on day 31, then married e.
        c, d, e = man(), woman(), woman()
        first = (await reg.marry(c, d)).json()
        divorce = await apply(reg, c, d)
        reg.clock.today = TODAY + timedelta(days=31)
        assert (await certificate(reg, divorce["id"])).status_code == 200
        second = (await reg.marry(c, e)).json()

        before = await counts(reg)
        tomorrow = (reg.clock.today + timedelta(days=1)).isoformat()
        refusals: list[tuple[str, dict[str, Any], int, str, str]] = [
            (marriage["id"], {"field": "registered_on", "new_value": tomorrow}, 422, "date-in-the-future", "new_value"),
            (marriage["id"], {"field": "registered_on", "new_value": "1991-01-01"}, 422, "before-birth", "new_value"),
            (marriage["id"], {"field": "registered_on", "new_value": "2026-02-30"}, 422, "invalid-date", "new_value"),
            (second["id"], {"field": "registered_on", "new_value": (TODAY + timedelta(days=10)).isoformat()}, 422,
             "overlaps-another-marriage", "new_value"),
            (first["id"], {"field": "registered_on", "new_value": (TODAY + timedelta(days=1)).isoformat()}, 422,
             "after-divorce-application", "new_value"),
            (marriage["id"], {"field": "name", "new_value": "张玮"}, 422, "no-change", "new_value"),
            (marriage["id"], {"field": "name", "new_value": "   "}, 422, "invalid-name", "new_value"),
            (marriage["id"], {"field": "office_code", "new_value": "012345"}, 422, "invalid-office-code", "new_value"),
            (marriage["id"], {"field": "resident_id", "new_value": a}, 422, "no-change", "new_value"),
            (marriage["id"], {"field": "remarriage", "new_value": "true"}, 422, "validation-error", "field"),
            (marriage["id"], {"field": "name", "new_value": "x", "reason": ""}, 422, "validation-error", "reason"),
            (marriage["id"], {"field": "name", "new_value": "x", "by": "me"}, 422, "validation-error", "by"),
            ("no-such-registration", {"field": "name", "new_value": "x"}, 404, "not-found", ""),
        ]  # fmt: skip
        for marriage_id, changes, code, kind, field in refusals:
            response = await correct(reg, marriage_id, **{"reason": "archive", **changes})
            assert response.status_code == code, (changes, response.text)
            assert response.headers["content-type"] == "application/problem+json"
            assert response.json()["type"].endswith("/" + kind), (changes, response.text)
            assert response.json().get("field", "") == field, changes
        as_citizen = await correct(reg, marriage["id"], reg.citizen(a), field="name", new_value="x", reason="r")
        assert as_citizen.status_code == 403
        assert await counts(reg) == before, "nothing written by a refused correction"

        moved = await correct(reg, second["id"], field="office_code", new_value="110105", reason="scanned archive")
        assert moved.status_code == 201 and moved.json()["old_value"] == "330683"
        await reg.drained()

    seen = await events_about(broker, {a, c}, 4)
    corrections = [(data["resident_id"], data["field"]) for kind, data in seen if kind.endswith("record-corrected.v1")]
    assert sorted(corrections) == sorted([(a, "name"), (a, "registered_on"), (c, "office_code")]), "none refused"
    # a's corrections and c's are keyed apart, so they may come in any order: pick a's.
    ours = next(d for k, d in seen if k.endswith("record-corrected.v1") and d["resident_id"] == a)
    assert ours["marriage_registration_id"] == marriage["id"]


async def test_archive_queries(broker: EmbeddedBroker, tmp_path: Path) -> None:
    a, b = man(), woman()
    async with registry(broker, tmp_path) as reg:
        marriage = (await reg.marry(a, b)).json()
        own = await reg.client.get(f"/people/{a}/records", headers=reg.citizen(a))
        assert own.status_code == 200 and [m["id"] for m in own.json()] == [marriage["id"]]
        assert (await reg.client.get(f"/people/{a}/records", headers=reg.citizen(b))).status_code == 404
        assert (await counts(reg))[1] == 0, "a citizen reading their own records is not logged"

        path = f"/people/{a}/records"
        no_reason = await reg.client.get(path, params={"office_code": "110105"}, headers=reg.caseworker)
        assert no_reason.status_code == 422 and no_reason.json()["type"].endswith("/reason-required")
        assert no_reason.json()["field"] == "reason"
        no_office = await reg.client.get(path, params={"reason": "remarriage"}, headers=reg.caseworker)
        assert no_office.status_code == 422 and no_office.json()["field"] == "office_code"
        bad_office = await reg.client.get(path, params={"reason": "r", "office_code": "1101"}, headers=reg.caseworker)
        assert bad_office.status_code == 422 and bad_office.json()["field"] == "office_code"
        assert (await counts(reg))[1] == 0, "refused queries are not recorded and show nothing"

        remote = await reg.client.get(
            path, params={"reason": "applicant at Beijing office for a remarriage", "office_code": "110105"},
            headers=reg.caseworker,
        )  # fmt: skip
        assert remote.status_code == 200 and remote.json()[0]["resident_id"] == a
        auditor = identity_headers(Principal(subject="au-1", role=Role.AUDITOR), reg.settings)
        audited = await reg.client.get(path, params={"reason": "quarterly sample"}, headers=auditor)
        assert audited.status_code == 200 and "*" * 8 in audited.json()[0]["resident_id"]

        log = await reg.client.get(f"/people/{a}/archive-queries", headers=reg.citizen(a))
        assert log.status_code == 200
        assert [
            (q["role"], q["office_code"], q["reason"], q["records_found"], q["queried_by"]) for q in log.json()
        ] == [
            ("caseworker", "110105", "applicant at Beijing office for a remarriage", 1, None),
            ("auditor", None, "quarterly sample", 1, None),
        ]
        staff_view = await reg.client.get(f"/people/{a}/archive-queries", headers=reg.caseworker)
        assert [q["queried_by"] for q in staff_view.json()] == ["cw-1", "au-1"]
        assert (await reg.client.get(f"/people/{a}/archive-queries", headers=reg.citizen(b))).status_code == 404
