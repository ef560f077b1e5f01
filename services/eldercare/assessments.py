"""Routes: capability assessments (老年人能力综合评估, GB/T 42195-2022) and their history."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Annotated

from fastapi import APIRouter, Depends, status
from sqlmodel import col, select

from civic.app import OutboxDep, SessionDep
from civic.auth import CurrentUser, Principal, caseworker_of
from civic.clock import Today
from civic.problems import NotFound, Problem
from contracts.eldercare import AssessmentCompleted
from services.eldercare import rules
from services.eldercare.access import DOMAIN, check_may_read, shown_id
from services.eldercare.models import Assessment, Elder
from services.eldercare.policy_store import assessment_scale, current_policy
from services.eldercare.schemas import AssessmentCreate, AssessmentPublic

router = APIRouter(prefix="/elders/{resident_id}/assessments", tags=["capability assessments"])
Caseworker = Annotated[Principal, Depends(caseworker_of(DOMAIN))]


def public(a: Assessment, who: Principal) -> AssessmentPublic:
    return AssessmentPublic(
        id=a.id, resident_id=shown_id(a.resident_id, who), assessor=a.assessor, assessed_on=a.assessed_on,
        by_dimension={"self_care": a.self_care, "basic_motor": a.basic_motor, "mental_state": a.mental_state,
                      "perception_social": a.perception_social},
        total=a.total, level=a.level, reasons=json.loads(a.reasons), reassess_by=a.reassess_by,
    )  # fmt: skip


@router.post("", status_code=status.HTTP_201_CREATED)
async def record_assessment(
    resident_id: str, body: AssessmentCreate, session: SessionDep, outbox: OutboxDep, who: Caseworker, today: Today
) -> AssessmentPublic:
    """Record an assessment; the level is computed here from the scores, never entered."""
    elder = await session.get(Elder, resident_id)
    if elder is None:
        raise NotFound("Elder")
    if body.assessed_on > today or body.assessed_on < elder.born:
        raise Problem(422, "impossible-date", "Impossible assessment date", "not in the future nor before birth",
                      field="assessed_on")  # fmt: skip
    findings = rules.Findings(body.comatose, body.dementia_diagnosed, body.mental_disorder_diagnosed,
                              body.care_risk_events_30_days)  # fmt: skip
    try:
        result = rules.grade(body.scores, findings, assessment_scale())
    except rules.ScoreError as exc:
        raise Problem(422, "score-out-of-range", "Score not allowed by the scale", str(exc),
                      field=f"scores.{exc.item}") from exc  # fmt: skip
    policy = await current_policy(session)
    months = int(policy.parameter("reassessment_months", elder.region_code, body.assessed_on))
    a = Assessment(
        resident_id=resident_id, assessor=body.assessor, assessed_on=body.assessed_on,
        scores=json.dumps(body.scores, sort_keys=True), findings=json.dumps(asdict(findings)),
        self_care=result.by_dimension["self_care"], basic_motor=result.by_dimension["basic_motor"],
        mental_state=result.by_dimension["mental_state"],
        perception_social=result.by_dimension["perception_social"], total=result.total, level=result.level,
        reasons=json.dumps(result.reasons, ensure_ascii=False),
        reassess_by=rules.reassessment_due(body.assessed_on, months), recorded_by=who.subject,
    )  # fmt: skip
    session.add(a)
    await outbox.add(session, AssessmentCompleted(resident_id=resident_id, assessment_id=a.id,
                                                  assessed_on=a.assessed_on, level=a.level, total_score=a.total,
                                                  reassess_by=a.reassess_by))  # fmt: skip
    await session.commit()
    return public(a, who)


@router.get("")
async def assessment_history(resident_id: str, session: SessionDep, who: CurrentUser) -> list[AssessmentPublic]:
    """Every assessment of the person, latest first (the first is the one in force)."""
    check_may_read(resident_id, who, "Elder")
    if await session.get(Elder, resident_id) is None:
        raise NotFound("Elder")
    rows = await session.exec(select(Assessment).where(Assessment.resident_id == resident_id)
                              .order_by(col(Assessment.assessed_on).desc(), col(Assessment.recorded_at).desc()))  # fmt: skip
    return [public(a, who) for a in rows.all()]
