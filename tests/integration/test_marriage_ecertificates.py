"""Electronic certificates (电子证照) through the API: the holder or a caseworker obtains one; anyone verifies it
without an identity; an altered document fails; a reissue makes the old one authentic-but-void; revocation and
the end of a marriage show as such; the published keys verify it offline."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any

import jwt

from civic.auth import Principal, Role, identity_headers
from civic.broker import EmbeddedBroker
from tests.integration.test_marriage_divorce import apply, certificate
from tests.integration.test_marriage_registration import OFFICE, TODAY, Registry, man, registry, woman


async def electronic(reg: Registry, number: str, headers: dict[str, str]) -> Any:
    return await reg.client.get(f"/certificates/{number}/electronic", headers=headers)


async def verified(reg: Registry, document: str) -> dict[str, Any]:
    response = await reg.client.post("/certificates/verify", json={"document": document})  # no identity at all
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def held_by(marriage: dict[str, Any], rid: str) -> str:
    return str(next(c["number"] for c in marriage["certificates"] if c["holder_resident_id"] == rid))


def altered(document: str, at: int) -> str:
    return document[:at] + ("A" if document[at] != "A" else "B") + document[at + 1 :]


async def test_obtain_verify_alter_reissue_divorce_revoke(broker: EmbeddedBroker, tmp_path: Path) -> None:
    a, b = man(), woman()
    async with registry(broker, tmp_path) as reg:
        marriage = (await reg.marry(a, b)).json()
        own, spouses = held_by(marriage, a), held_by(marriage, b)

        # Who may obtain one: the holder, and marriage caseworkers; nobody else learns the number exists.
        mine = await electronic(reg, own, reg.citizen(a))
        assert mine.status_code == 200, mine.text
        assert mine.json()["media_type"] == "application/jose"
        auditor = identity_headers(Principal(subject="au-1", role=Role.AUDITOR), reg.settings)
        other_caseworker = identity_headers(
            Principal(subject="cw-9", role=Role.CASEWORKER, domain="assistance"), reg.settings
        )
        for headers in (reg.citizen(b), reg.citizen(man()), auditor, other_caseworker):
            assert (await electronic(reg, own, headers)).status_code == 404
        assert (await electronic(reg, "J330683-2026-NOSUCHNUMB", reg.caseworker)).status_code == 404
        assert (await reg.client.get(f"/certificates/{own}/electronic")).status_code == 401
        spouse_doc = (await electronic(reg, spouses, reg.caseworker)).json()["document"]

        # Any department verifies it, and sees what the certificate holds, no more.
        document = mine.json()["document"]
        answer = await verified(reg, document)
        assert answer["valid"] is True and answer["status"] == "valid" and answer["register_agrees"] is True
        shown = answer["certificate"]
        assert shown["number"] == own and shown["kind"] == "marriage" and shown["office_code"] == OFFICE
        assert shown["registered_on"] == TODAY.isoformat() and shown["reissue"] is False
        assert shown["holder"] == {"name": "张伟", "resident_id": a[:6] + "*" * 8 + a[14:]}
        assert shown["other_party"]["name"] == "李娜"
        assert a not in str(answer) and b not in str(answer), "whole IDs are never shown"

        # One character altered anywhere: header, payload, signature, its last character.
        for at in (5, len(document) // 2, len(document) - 40, len(document) - 1):
            bad = await verified(reg, altered(document, at))
            assert bad["valid"] is False and bad["reason"] in {"malformed", "signature-mismatch", "not-a-certificate"}
            assert bad["certificate"] is None and bad["status"] is None, "nothing about the certificate"

        # Offline: the published key set verifies the signature without asking the registry.
        keys = await reg.client.get("/certificates/jwks.json")
        assert keys.status_code == 200 and "max-age" in keys.headers["cache-control"]
        kid = jwt.get_unverified_header(document)["kid"]
        jwk = next(k for k in keys.json()["keys"] if k["kid"] == kid)
        claims = jwt.decode(document, jwt.PyJWK(jwk).key, algorithms=[jwk["alg"]], issuer="civic-marriage")
        assert claims["certificate"] == shown

        # A reissue: the old document is authentic but void from today; the new number's document is valid.
        reg.clock.today = TODAY + timedelta(days=3)
        reissued = await reg.client.post(
            f"/certificates/{own}/reissue", json={"office_code": "110105"}, headers=reg.caseworker
        )
        assert reissued.status_code == 200, reissued.text
        void = await verified(reg, document)
        assert (void["valid"], void["status"], void["since"]) == (True, "void", reg.clock.today.isoformat())
        refused = await electronic(reg, own, reg.citizen(a))
        assert refused.status_code == 409 and refused.json()["type"].endswith("/certificate-void")
        new = (await electronic(reg, reissued.json()["number"], reg.citizen(a))).json()
        fresh = await verified(reg, new["document"])
        assert fresh["status"] == "valid" and fresh["certificate"]["reissue"] is True
        assert fresh["certificate"]["office_code"] == "110105"
        assert fresh["certificate"]["registered_on"] == TODAY.isoformat()
        assert fresh["certificate"]["issued_on"] == reg.clock.today.isoformat()

        # The divorce: the marriage certificate no longer proves a marriage; the divorce certificate does its job.
        divorce = await apply(reg, a, b)
        # Applied on Thursday 18 June: day 30 is a Saturday, so the certificate comes from Tuesday 21 July.
        reg.clock.today = date.fromisoformat(divorce["first_day_for_certificate"])
        registered = await certificate(reg, divorce["id"])
        assert registered.status_code == 200, registered.text
        ended = await verified(reg, spouse_doc)
        assert (ended["valid"], ended["status"]) == (True, "ended")
        refused = await electronic(reg, spouses, reg.citizen(b))
        assert refused.status_code == 409 and refused.json()["type"].endswith("/marriage-ended")
        divorce_number = held_by(registered.json(), b)
        divorce_doc = (await electronic(reg, divorce_number, reg.citizen(b))).json()["document"]
        answer = await verified(reg, divorce_doc)
        assert answer["status"] == "valid" and answer["certificate"]["kind"] == "divorce"
        assert answer["certificate"]["registered_on"] == reg.clock.today.isoformat()

        # A revoked registration: its certificates' documents say so.
        c, d = man(), woman()
        other = (await reg.marry(c, d)).json()
        doc = (await electronic(reg, held_by(other, c), reg.citizen(c))).json()["document"]
        revoked = await reg.client.post(
            f"/marriages/{other['id']}/revocation", json={"reason": "false identity"}, headers=reg.caseworker
        )
        assert revoked.status_code == 200
        answer = await verified(reg, doc)
        assert (answer["valid"], answer["status"]) == (True, "revoked")


async def test_bad_verification_requests_are_problems(broker: EmbeddedBroker, tmp_path: Path) -> None:
    async with registry(broker, tmp_path) as reg:
        for body, field in [
            ({}, "document"),
            ({"document": 5}, "document"),
            ({"document": ""}, "document"),
            ({"document": "x" * 5000}, "document"),
            ({"document": "a.b.c", "holder": "me"}, "holder"),
        ]:
            response = await reg.client.post("/certificates/verify", json=body)
            assert response.status_code == 422, response.text
            assert response.headers["content-type"] == "application/problem+json"
            assert response.json()["field"] == field
        garbage = await verified(reg, "a.b.c")
        assert garbage == {
            "valid": False,
            "reason": "malformed",
            "status": None,
            "since": None,
            "register_agrees": None,
            "certificate": None,
            "signed_at": None,
            "key_id": None,
        }
