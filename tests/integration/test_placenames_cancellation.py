"""Cancelling a standard name goes through the same workflow and publishes NameCancelled; a name on the historical
protection list is neither renamed nor cancelled; a rejection frees the proposed name and says why."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

from civic.broker import EmbeddedBroker
from tests.integration.test_placenames_naming import events_about, office


async def test_cancel_protect_and_reject(broker: EmbeddedBroker, tmp_path: Path) -> None:
    async with office(broker, tmp_path) as o:
        doomed = await o.name_road("旧港路", "jiu gang lu")
        kept = await o.name_road("古城路", "gu cheng lu")
        listed = await o.post(
            "/protected-names",
            {"region_code": "371002", "name": "古城路", "place_code": kept, "history": "明代威海卫城的主街"},
        )
        assert listed.status_code == 201, listed.text
        assert [p["name"] for p in await o.get("/protected-names", region_code="371002")] == ["古城路"]
        assert (await o.get(f"/names/{kept}"))["protected"] is True
        for body in (
            {"action": "cancel", "place_code": kept},
            {"action": "rename", "place_code": kept, "name": "新城路", "pinyin": "xin cheng lu"},
        ):
            refused = await o.post("/naming-cases", body)
            assert refused.status_code == 422 and refused.json()["type"].endswith("/protected-historical-name"), body

        proposed = await o.post("/naming-cases", {"action": "cancel", "place_code": doomed, "reason": "道路已拆除"})
        assert proposed.status_code == 201, proposed.text
        twice = await o.post("/naming-cases", {"action": "cancel", "place_code": doomed})
        assert twice.status_code == 409 and twice.json()["type"].endswith("/case-already-open")
        case = await o.review(proposed.json()["id"])
        o.clock.today = date.fromisoformat(case["notice_until"]) + timedelta(days=1)
        done = await o.post(f"/naming-cases/{case['id']}/decision", {"approved": True, "reasons": "无异议"})
        assert done.status_code == 200 and done.json()["status"] == "effective", done.text
        assert (await o.get("/names", q="旧港"))["total"] == 0
        cancelled = await o.get(f"/names/{doomed}")
        assert (cancelled["status"], cancelled["cancelled_on"]) == ("cancelled", str(o.clock.today))
        plate = await o.post(f"/roads/{doomed}/plates", {"number": 1})
        assert plate.status_code == 422 and plate.json()["type"].endswith("/road-not-standard")

        rejected_case = (await o.propose("望海路", "wang hai lu")).json()
        await o.review(rejected_case["id"])
        o.clock.today = date.fromisoformat(rejected_case["proposed_on"]) + timedelta(days=40)
        no_reason = await o.post(f"/naming-cases/{rejected_case['id']}/decision", {"approved": False})
        assert no_reason.status_code == 422 and no_reason.json()["field"] == "reasons"
        rejected = await o.post(
            f"/naming-cases/{rejected_case['id']}/decision", {"approved": False, "reasons": "与景区名重复"}
        )
        assert rejected.json()["status"] == "rejected" and rejected.json()["reasons"] == "与景区名重复"
        assert (await o.propose("望海路", "wang hai lu")).status_code == 201, "a rejected name may be proposed again"

        await o.drained()
        kinds = [kind.split(".")[2] for kind, _ in await events_about(broker, doomed)]
        assert kinds == [
            "name-proposed",
            "name-public-notice-started",
            "name-published",
            "name-proposed",
            "name-public-notice-started",
            "name-cancelled",
        ]
        stats = await o.get("/statistics", year=o.clock.today.year)
        assert (stats["roads_named"], stats["roads_cancelled"]) == (2, 1)
