"""Certificate reissue voids the old number; a revoked registration frees both parties; 异地查档 own records only."""

from __future__ import annotations

from pathlib import Path

from civic.broker import EmbeddedBroker
from tests.integration.test_marriage_registration import man, registry, woman


async def test_reissue_revocation_and_archive(broker: EmbeddedBroker, tmp_path: Path) -> None:
    a, b, c = man(), woman(), woman()
    async with registry(broker, tmp_path) as reg:
        marriage = (await reg.marry(a, b)).json()
        old = next(x["number"] for x in marriage["certificates"] if x["holder_resident_id"] == a)
        reissued = await reg.client.post(
            f"/certificates/{old}/reissue", json={"office_code": "110105"}, headers=reg.caseworker
        )
        assert reissued.status_code == 200, reissued.text
        new = reissued.json()["number"]
        assert new != old and new.startswith("J110105-") and reissued.json()["reissue"] is True
        again = await reg.client.post(
            f"/certificates/{old}/reissue", json={"office_code": "110105"}, headers=reg.caseworker
        )
        assert again.status_code == 409 and again.json()["type"].endswith("/certificate-void")
        own = await reg.client.get(f"/people/{a}/records", headers=reg.citizen(a))
        assert own.status_code == 200
        held = {x["number"]: x["status"] for x in own.json()[0]["certificates"]}
        assert held == {old: "void", new: "valid"}
        assert (await reg.client.get(f"/people/{a}/records", headers=reg.citizen(b))).status_code == 404

        revoked = await reg.client.post(
            f"/marriages/{marriage['id']}/revocation",
            json={"reason": "registered with a false identity"},
            headers=reg.caseworker,
        )
        assert revoked.status_code == 200, revoked.text
        assert revoked.json()["status"] == "revoked"
        assert all(x["status"] == "void" for x in revoked.json()["certificates"])
        assert (await reg.status_of(a))["status"] == "unmarried"
        assert (await reg.marry(a, c)).status_code == 201, "the revoked registration no longer binds"
        archive = (
            await reg.client.get(
                f"/people/{a}/records",
                params={"reason": "remarriage check", "office_code": "110105"},
                headers=reg.caseworker,
            )
        ).json()
        assert [m["status"] for m in archive] == ["revoked", "married"]
