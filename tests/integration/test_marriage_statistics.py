"""Statistics through the API over a small known set of acts at two offices in June and July 2026: marriages,
a remarriage (复婚), a divorce, reissues counted by certificate and by couple, a revocation; who may read them;
bad queries as problems."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from civic.auth import Principal, Role, identity_headers
from civic.broker import EmbeddedBroker
from tests.integration.test_marriage_divorce import apply, certificate
from tests.integration.test_marriage_registration import Registry, man, registry, woman

A, B = "330683", "110105"
JUNE_15, JULY_16 = date(2026, 6, 15), date(2026, 7, 16)
ZERO = {
    "marriages": 0,
    "remarriages": 0,
    "divorces": 0,
    "marriage_certificate_reissues": 0,
    "marriage_certificate_reissue_couples": 0,
    "divorce_certificate_reissues": 0,
    "revocations": 0,
}


def figures(office: str | None, period: str | None, **counts: int) -> dict[str, Any]:
    return {"office_code": office, "period": period, **ZERO, **counts}


async def marry(reg: Registry, office: str) -> tuple[str, str, dict[str, Any]]:
    a, b = man(), woman()
    response = await reg.marry(a, b, office_code=office)
    assert response.status_code == 201, response.text
    return a, b, response.json()


async def reissue(reg: Registry, number: str, office: str) -> None:
    response = await reg.client.post(
        f"/certificates/{number}/reissue", json={"office_code": office}, headers=reg.caseworker
    )
    assert response.status_code == 200, response.text


async def statistics(reg: Registry, params: dict[str, str], headers: dict[str, str] | None = None) -> Any:
    return await reg.client.get("/statistics", params=params, headers=reg.caseworker if headers is None else headers)


async def test_counts_per_office_and_period(broker: EmbeddedBroker, tmp_path: Path) -> None:
    async with registry(broker, tmp_path) as reg:
        reg.clock.today = JUNE_15
        divorcing_a, divorcing_b, _ = await marry(reg, A)
        _, _, second = await marry(reg, A)
        _, _, third = await marry(reg, A)
        _, _, revoked = await marry(reg, B)
        divorce = await apply(reg, divorcing_a, divorcing_b)

        reg.clock.today = date(2026, 6, 20)
        for c in second["certificates"]:  # both of a couple: 2 certificates, 1 couple
            await reissue(reg, c["number"], A)
        await reissue(reg, third["certificates"][0]["number"], B)

        reg.clock.today = JULY_16
        divorced = await certificate(reg, divorce["id"])
        assert divorced.status_code == 200, divorced.text
        again = await reg.marry(divorcing_a, divorcing_b, office_code=A)
        assert again.status_code == 201 and again.json()["remarriage"] is True

        reg.clock.today = date(2026, 7, 20)
        await reissue(reg, divorced.json()["certificates"][0]["number"], A)
        revocation = await reg.client.post(
            f"/marriages/{revoked['id']}/revocation", json={"reason": "false identity"}, headers=reg.caseworker
        )
        assert revocation.status_code == 200

        reg.clock.today = date(2026, 8, 1)
        await marry(reg, A)  # after the period asked for below

        response = await statistics(reg, {"from": "2026-06-01", "to": "2026-07-31", "group_by": "office,month"})
        assert response.status_code == 200, response.text
        body = response.json()
        assert (body["first_day"], body["last_day"], body["time_zone"]) == ("2026-06-01", "2026-07-31", "Asia/Shanghai")
        assert body["group_by"] == ["office", "month"]
        assert body["groups"] == [
            figures(B, "2026-06", marriages=1, marriage_certificate_reissues=1, marriage_certificate_reissue_couples=1),
            figures(B, "2026-07", revocations=1),
            figures(A, "2026-06", marriages=3, marriage_certificate_reissues=2, marriage_certificate_reissue_couples=1),
            figures(A, "2026-07", marriages=1, remarriages=1, divorces=1, divorce_certificate_reissues=1),
        ]
        assert body["total"] == figures(
            None, None, marriages=5, remarriages=1, divorces=1, marriage_certificate_reissues=3,
            marriage_certificate_reissue_couples=2, divorce_certificate_reissues=1, revocations=1,
        )  # fmt: skip

        one_office = await statistics(reg, {"from": "2026-01-01", "to": "2026-12-31", "group_by": "quarter",
                                            "office_code": A})  # fmt: skip
        assert one_office.json()["groups"] == [
            figures(
                None, "2026-Q2", marriages=3, marriage_certificate_reissues=2, marriage_certificate_reissue_couples=1
            ),
            figures(None, "2026-Q3", marriages=2, remarriages=1, divorces=1, divorce_certificate_reissues=1),
        ]

        auditor = identity_headers(Principal(subject="au-1", role=Role.AUDITOR), reg.settings)
        yearly = await statistics(reg, {"from": "2026-01-01", "to": "2026-12-31", "group_by": "year"}, auditor)
        assert yearly.status_code == 200
        assert [(g["period"], g["marriages"]) for g in yearly.json()["groups"]] == [("2026", 6)]
        empty = await statistics(reg, {"from": "2025-01-01", "to": "2025-12-31"})
        assert empty.json()["groups"] == [] and empty.json()["total"] == figures(None, None)

        year = {"from": "2026-01-01", "to": "2026-12-31"}
        assert (await statistics(reg, year, reg.citizen(divorcing_a))).status_code == 403
        other = identity_headers(Principal(subject="cw-9", role=Role.CASEWORKER, domain="assistance"), reg.settings)
        assert (await statistics(reg, year, other)).status_code == 403
        assert (await reg.client.get("/statistics", params=year)).status_code == 401

        for params, kind, field in [
            ({"from": "2026-07-01", "to": "2026-06-30"}, "invalid-period", "to"),
            ({**year, "group_by": "week"}, "invalid-group-by", "group_by"),
            ({**year, "group_by": "month,year"}, "invalid-group-by", "group_by"),
            ({**year, "group_by": "office,office"}, "invalid-group-by", "group_by"),
            ({**year, "group_by": ""}, "invalid-group-by", "group_by"),
            ({"from": "2026-13-01", "to": "2026-12-31"}, "validation-error", "from"),
            ({"to": "2026-12-31"}, "validation-error", "from"),
            ({**year, "office_code": "3306"}, "validation-error", "office_code"),
        ]:
            response = await statistics(reg, params)
            assert response.status_code == 422, (params, response.text)
            assert response.headers["content-type"] == "application/problem+json"
            assert response.json()["type"].endswith("/" + kind), params
            assert response.json()["field"] == field, params
