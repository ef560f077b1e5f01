"""Capability assessments through the API: the level computed from the scores, the history of reassessments
(latest first), the event, and out-of-range scores refused with the item named and nothing written."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from sqlalchemy import func
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from civic.broker import EmbeddedBroker
from services.eldercare.models import Assessment
from services.eldercare.policy_store import assessment_scale
from tests.factories import resident_id
from tests.integration.test_eldercare_allowances import eldercare


def full_marks() -> dict[str, int]:
    return {item: top for item, (_dim, top) in assessment_scale().items.items()}


async def test_assessments_grade_keep_history_and_refuse_bad_scores(broker: EmbeddedBroker, tmp_path: Path) -> None:
    elder = resident_id(date(1944, 8, 8), female=True)
    async with eldercare(broker, tmp_path) as ec:
        assert (await ec.register(elder)).status_code == 201
        path = f"/elders/{elder}/assessments"
        first = await ec.api.post(path, headers=ec.cw, json={"assessor": "评估员 李", "assessed_on": "2025-10-01",
                                                             "scores": full_marks()})  # fmt: skip
        assert first.status_code == 201, first.text
        assert (first.json()["level"], first.json()["total"], first.json()["reassess_by"]) == ("intact", 90,
                                                                                              "2026-10-01")  # fmt: skip
        worse = {**full_marks(), "stairs": 0, "walking_on_flat": 1, "bathing": 0, "memory": 1}
        second = await ec.api.post(path, headers=ec.cw, json={"assessor": "评估员 李", "assessed_on": "2026-10-02",
                                                              "scores": worse, "dementia_diagnosed": True})  # fmt: skip
        assert second.status_code == 201, second.text
        assert second.json()["total"] == 76 and second.json()["level"] == "moderate", "mild, raised by a diagnosis"
        history = (await ec.api.get(path, headers=ec.citizen(elder))).json()
        assert [h["assessed_on"] for h in history] == ["2026-10-02", "2025-10-01"]

        for scores, field in (({**full_marks(), "eating": 5}, "scores.eating"),
                              ({**full_marks(), "teleport": 1}, "scores.teleport")):  # fmt: skip
            bad = await ec.api.post(path, headers=ec.cw, json={"assessor": "x", "assessed_on": "2026-10-03",
                                                               "scores": scores})  # fmt: skip
            assert bad.status_code == 422 and bad.headers["content-type"] == "application/problem+json"
            assert bad.json()["type"].endswith("/score-out-of-range") and bad.json()["field"] == field
        async with AsyncSession(ec.service.engine) as s:
            assert (await s.exec(select(func.count()).select_from(Assessment))).one() == 2
        events = await ec.published({elder})
        done = [d for k, d in events if k == "civic.eldercare.assessment-completed.v1"]
        assert [d["level"] for d in done] == ["intact", "moderate"]
