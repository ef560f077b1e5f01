"""Who may do what in marriage registration: no identity is 401 everywhere but the two public certificate routes;
writes need a marriage caseworker (a party may withdraw their own divorce application); another citizen's records
do not exist for a citizen (404); auditors read, never write, and see resident IDs masked; nothing refused is
written; the public routes tell nothing about certificates to someone without a valid document."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from civic.auth import Principal, Role, identity_headers
from civic.broker import EmbeddedBroker
from services.marriage.models import ArchiveQuery, Certificate, Correction, Divorce, Marriage
from tests.integration.test_marriage_divorce import apply
from tests.integration.test_marriage_registration import OFFICE, Registry, man, marriage_body, registry, woman


async def rows(reg: Registry) -> tuple[int, ...]:
    async with AsyncSession(reg.service.engine) as s:
        return tuple(
            [
                int((await s.exec(select(func.count()).select_from(table))).one())
                for table in (Marriage, Certificate, Divorce, Correction, ArchiveQuery)
            ]
        )


async def test_the_marriage_authorization_matrix(broker: EmbeddedBroker, tmp_path: Path) -> None:
    a, b, stranger = man(), woman(), man()
    async with registry(broker, tmp_path) as reg:
        marriage = (await reg.marry(a, b)).json()
        mid = marriage["id"]
        number = next(c["number"] for c in marriage["certificates"] if c["holder_resident_id"] == a)
        divorce = (await apply(reg, a, b))["id"]
        document = (await reg.client.get(f"/certificates/{number}/electronic", headers=reg.citizen(a))).json()

        def as_role(role: Role, domain: str | None = None) -> dict[str, str]:
            return identity_headers(Principal(subject=f"{role}-1", role=role, domain=domain), reg.settings)

        auditor = as_role(Role.AUDITOR)
        writes = [
            ("/marriages", marriage_body(man(), woman())),
            ("/divorces", {"resident_id": a, "spouse_resident_id": b, "office_code": OFFICE}),
            (f"/divorces/{divorce}/withdrawal", {"resident_id": a}),
            (f"/divorces/{divorce}/certificate", {"both_present": True}),
            (f"/certificates/{number}/reissue", {"office_code": OFFICE}),
            (f"/marriages/{mid}/revocation", {"reason": "x"}),
            (f"/marriages/{mid}/corrections", {"field": "name", "new_value": "x", "reason": "x"}),
            ("/divorces/expiry", {}),
        ]
        reads = [
            f"/marriages/{mid}",
            f"/divorces/{divorce}",
            f"/people/{a}/marital-status",
            f"/people/{a}/records?reason=check&office_code=110105",
            f"/people/{a}/archive-queries",
            f"/marriages/{mid}/corrections",
            f"/certificates/{number}/electronic",
            "/statistics?from=2026-01-01&to=2026-12-31",
        ]
        before = await rows(reg)
        others = [as_role(Role.CASEWORKER, "assistance"), auditor, as_role(Role.DEPARTMENT), as_role(Role.OPERATOR)]
        for path, body in writes:
            assert (await reg.client.post(path, json=body)).status_code == 401, path
            for headers in [*others, reg.citizen(stranger)]:
                response = await reg.client.post(path, json=body, headers=headers)
                if path == "/divorces/expiry" and headers is others[-1]:
                    assert response.status_code == 200, "operators may run the deadline job"
                    continue
                assert response.status_code in (403, 404), (path, response.status_code)
        for path in reads:
            assert (await reg.client.get(path)).status_code == 401, path
            for headers in (reg.citizen(stranger), as_role(Role.CASEWORKER, "funeral"), as_role(Role.DEPARTMENT)):
                assert (await reg.client.get(path, headers=headers)).status_code in (403, 404), path
        assert await rows(reg) == before, "nothing refused was written"

        # Auditors read everything but the electronic document (a credential, only for the holder) and see IDs
        # masked; reading someone's archive they give a reason, which is recorded.
        for path in reads:
            response = await reg.client.get(path, headers=auditor)
            if path.endswith("/electronic"):
                assert response.status_code == 404
                continue
            assert response.status_code == 200, (path, response.text)
            assert a not in response.text and b not in response.text, path
        assert (await rows(reg))[-1] == before[-1] + 1

        # The public routes: a valid document tells its own content and status; anything else tells nothing.
        verified = await reg.client.post("/certificates/verify", json={"document": document["document"]})
        assert verified.status_code == 200 and verified.json()["valid"] is True
        assert a not in verified.text and b not in verified.text
        keys = await reg.client.get("/certificates/jwks.json")
        assert keys.status_code == 200 and all("d" not in k for k in keys.json()["keys"])
        forwarded_identity = reg.citizen(a)["x-civic-identity"]  # a token signed by another key: not a certificate
        refused = await reg.client.post("/certificates/verify", json={"document": forwarded_identity})
        assert refused.json()["valid"] is False and refused.json()["certificate"] is None
