"""Who may do what in funeral administration: no identity is 401 everywhere; writes need a funeral caseworker (or
the reporting family where the family acts); another citizen's registration does not exist for a citizen (404);
auditors read and never write; the deceased's resident ID never appears whole in an answer."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from civic.auth import Role
from civic.broker import EmbeddedBroker
from tests.factories import resident_id
from tests.integration.test_funeral_deaths import death, funeral


async def test_the_funeral_authorization_matrix(broker: EmbeddedBroker, tmp_path: Path) -> None:
    # Shengzhou pays every resident the standard funeral benefit, to the reporting son: a payee to hide.
    deceased, son, stranger = (
        resident_id(date(1939, 9, 9), region="330683"),
        resident_id(date(1965, 5, 5)),
        resident_id(),
    )
    async with funeral(broker, tmp_path) as f:
        reg = (await f.report(f.citizen(son), **death(deceased))).json()
        rid = reg["id"]
        home = (await f.client.post("/funeral-homes", headers=f.caseworker,
                                    json={"name": "殡仪馆", "region_code": "371002"})).json()["id"]  # fmt: skip
        slot = (await f.client.post(f"/funeral-homes/{home}/slots", headers=f.caseworker, json={
            "kind": "cremation", "resource": "1号炉", "starts_at": "2026-11-04T08:00:00+08:00"})).json()["id"]  # fmt: skip
        payee = {"name": "王芳", "relation": "子女", "resident_id": son}
        writes = [
            ("POST", f"/deaths/{rid}/revocation", {"reason": "x"}),
            ("POST", f"/deaths/{rid}/review", {"resolution": "x"}),
            ("POST", f"/deaths/{rid}/eco-burial-subsidy", {"burial_type": "sea", "burial_date": "2026-11-05",
                                                          "payee": payee}),
            ("POST", "/bookings", {"slot_id": slot, "death_registration_id": rid}),
            ("POST", "/funeral-homes", {"name": "x", "region_code": "371002"}),
            ("POST", "/cemeteries", {"code": "ZZ", "name": "x", "region_code": "371002"}),
            ("POST", "/cremations", {"death_registration_id": rid, "funeral_home_id": home,
                                     "certificate_number": "HH-1", "cremated_at": "2026-11-04T09:00:00+08:00",
                                     "ashes": "collected"}),
        ]  # fmt: skip
        reads = [f"/deaths/{rid}", f"/deaths/{rid}/benefits", f"/deaths/{rid}/reports", f"/entitlements/{deceased}"]

        for method, path, body in writes:
            assert (await f.client.request(method, path, json=body)).status_code == 401, path
            for other in (f.as_role(Role.CASEWORKER, "marriage"), f.as_role(Role.AUDITOR),
                          f.as_role(Role.DEPARTMENT), f.as_role(Role.OPERATOR)):  # fmt: skip
                response = await f.client.request(method, path, json=body, headers=other)
                assert response.status_code in (403, 404), (path, response.status_code)
            # Another citizen: the family's actions on a death they did not report find nothing; staff actions
            # are forbidden.
            response = await f.client.request(method, path, json=body, headers=f.citizen(stranger))
            assert response.status_code in (403, 404), (path, response.status_code)
            assert response.status_code != 201
        for path in reads:
            assert (await f.client.get(path)).status_code == 401, path
            assert (await f.client.get(path, headers=f.citizen(stranger))).status_code in (403, 404), path
            assert (await f.client.get(path, headers=f.as_role(Role.CASEWORKER, "assistance"))).status_code in (
                403,
                404,
            ), path
        assert (await f.client.get(f"/deaths/{rid}", headers=f.citizen(son))).status_code == 200
        assert (await f.client.get(f"/deaths/{rid}", headers=f.as_role(Role.AUDITOR))).status_code == 200
        assert (await f.client.get(f"/deaths/{rid}/reports", headers=f.as_role(Role.AUDITOR))).status_code == 200

        # Nothing above was written; the registration still stands as reported.
        still = await f.client.get(f"/deaths/{rid}", headers=f.caseworker)
        assert (still.json()["status"], still.json()["needs_review"]) == ("registered", False)
        benefits = (await f.client.get(f"/deaths/{rid}/benefits", headers=f.caseworker)).json()
        assert benefits["eco_burial_subsidy"] is None

        # The deceased's ID is masked for every reader, caseworkers included; a payee's ID only for staff and them.
        for headers in (f.caseworker, f.citizen(son), f.as_role(Role.AUDITOR)):
            for path in (f"/deaths/{rid}", f"/deaths/{rid}/benefits", "/deaths"):
                text = (await f.client.get(path, headers=headers)).text
                assert deceased not in text, path
        audited = (await f.client.get(f"/deaths/{rid}/benefits", headers=f.as_role(Role.AUDITOR))).json()
        shown = (await f.client.get(f"/deaths/{rid}/benefits", headers=f.citizen(son))).json()
        assert shown["funeral_benefit"]["payee"]["resident_id"] == son
        assert audited["funeral_benefit"]["payee"]["resident_id"] == son[:6] + "********" + son[14:]
