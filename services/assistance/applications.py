"""Applications: submitted by a household, verified and decided by an assistance caseworker."""

from __future__ import annotations

import json
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, status
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from civic.app import OutboxDep, SessionDep
from civic.auth import CurrentUser, Principal, caseworker_of
from civic.clock import Today
from civic.money import from_fen, to_fen
from civic.problems import Conflict, NotFound, Problem
from contracts.assistance import ApplicationRejected, ApplicationSubmitted, BenefitApproved
from services.assistance import facts, rules
from services.assistance.households import visible_household
from services.assistance.lifecycle import history, members_of, set_amount
from services.assistance.models import Application, ApplicationStatus, BenefitAmount, Case, Household
from services.assistance.policy_store import PolicyParameter, current_policy, moves_monthly_amounts
from services.assistance.schemas import DOMAIN, ApplicationCreate, ApplicationPublic, Approval, Decision

router = APIRouter(prefix="/applications", tags=["applications"])
Caseworker = Annotated[Principal, Depends(caseworker_of(DOMAIN))]


async def visible_application(session: AsyncSession, application_id: str, viewer: Principal) -> Application:
    application = await session.get(Application, application_id)
    if application is None:
        raise NotFound("application")
    await visible_household(session, application.household_id, viewer)
    return application


async def assess(session: AsyncSession, application: Application, on: date) -> rules.Assessment:
    [assessment] = await assessments(session, application, [on])
    return assessment


async def assessments(session: AsyncSession, application: Application, dates: list[date]) -> list[rules.Assessment]:
    """The claim assessed on each of ``dates``, on the household's facts as they are now."""
    claim = rules.Claim(
        benefit=rules.BenefitKind(application.benefit),
        beneficiary=application.beneficiary_resident_id,
        setting=rules.Setting(application.setting) if application.setting else None,
        child_category=rules.ChildCategory(application.child_category) if application.child_category else None,
    )
    household, policy = await facts.household(session, application.household_id), await current_policy(session)
    try:
        return [rules.assess(claim, household, policy, on) for on in dates]
    except rules.Refused as exc:
        raise Problem(422, "claim-refused", "The claim cannot be assessed", str(exc), field=exc.field) from exc
    except rules.MissingPolicy as exc:
        raise Problem(422, "no-policy", "No policy figure in force", str(exc), field="benefit") from exc


@router.post("", status_code=status.HTTP_201_CREATED)
async def submit_application(
    body: ApplicationCreate, session: SessionDep, outbox: OutboxDep, user: CurrentUser
) -> ApplicationPublic:
    """A member of the household applies (or a caseworker on its behalf); the claim is assessed at once."""
    household = await visible_household(session, body.household_id, user)
    application = Application(
        household_id=household.id,
        benefit=body.benefit,
        beneficiary_resident_id=body.beneficiary,
        setting=body.setting,
        child_category=body.child_category,
        submitted_by=user.subject,
    )
    result = await assess(session, application, date.today())  # refuses a malformed claim before writing
    record_assessment(application, result, date.today())
    session.add(application)
    await outbox.add(session, ApplicationSubmitted(resident_id=household.applicant_resident_id,
                                                   application_id=application.id, household_id=household.id,
                                                   benefit=application.benefit))  # fmt: skip
    await session.commit()
    return ApplicationPublic.of(application)


def record_assessment(application: Application, result: rules.Assessment, on: date) -> None:
    application.assessed_on = on
    application.eligible = result.eligible
    application.assessed_amount_fen = to_fen(result.monthly_amount)
    application.explanation = json.dumps(list(result.reasons), ensure_ascii=False)


@router.get("/{application_id}")
async def read_application(application_id: str, session: SessionDep, user: CurrentUser) -> ApplicationPublic:
    """The application with its explanation: the figures used and how the amount follows from them."""
    return ApplicationPublic.of(await visible_application(session, application_id, user))


@router.post("/{application_id}/verify")
async def verify_application(application_id: str, session: SessionDep, user: Caseworker) -> ApplicationPublic:
    """The household's economic situation is verified; the claim is assessed again on today's facts."""
    application = await visible_application(session, application_id, user)
    if application.status != ApplicationStatus.SUBMITTED:
        raise Conflict("not-submitted", "Only a submitted application is verified", f"it is {application.status}")
    record_assessment(application, await assess(session, application, date.today()), date.today())
    application.status = ApplicationStatus.VERIFIED
    session.add(application)
    await session.commit()
    return ApplicationPublic.of(application)


async def standards_since(session: AsyncSession, region_code: str, after: date, through: date) -> list[date]:
    """The dates after ``after``, up to ``through``, on which figures covering the region and moving monthly
    amounts took effect, in order."""
    dates = await session.exec(
        select(col(PolicyParameter.effective_from))
        .where(col(PolicyParameter.region_code).in_(rules.region_chain(region_code)),
               col(PolicyParameter.effective_from) > after, col(PolicyParameter.effective_from) <= through,
               moves_monthly_amounts())
        .distinct()
    )  # fmt: skip
    return sorted(dates.all())


@router.post("/{application_id}/approve")
async def approve_application(
    application_id: str, body: Approval, session: SessionDep, outbox: OutboxDep, user: Caseworker, today: Today
) -> ApplicationPublic:
    application = await visible_application(session, application_id, user)
    if application.status != ApplicationStatus.VERIFIED:
        raise Conflict("not-verified", "Verify the household before deciding", f"it is {application.status}")
    result = await assess(session, application, body.paid_from)
    record_assessment(application, result, body.paid_from)
    if not result.eligible:
        raise Conflict("not-eligible", "Not eligible", result.reasons[-1], field="benefit")
    household = await session.get(Household, application.household_id)
    assert household is not None
    amount = to_fen(result.monthly_amount)
    case = Case(
        benefit=application.benefit,
        resident_id=application.beneficiary_resident_id or household.applicant_resident_id,
        region_code=household.region_code,
        household_id=household.id,
        application_id=application.id,
        setting=application.setting,
        child_category=application.child_category,
        paid_from=body.paid_from,
    )
    session.add(case)
    await session.flush()
    session.add(BenefitAmount(case_id=case.id, effective_from=body.paid_from, amount_fen=amount, cause="approval"))
    history(session, case, "approved", "; ".join(result.reasons), user.subject, effective_from=body.paid_from,
            amount_fen=amount)  # fmt: skip
    application.status, application.decided_by, application.case_id = ApplicationStatus.APPROVED, user.subject, case.id
    session.add(application)
    await outbox.add(
        session,
        BenefitApproved(resident_id=case.resident_id, case_id=case.id, benefit=case.benefit, household_id=household.id,
                        members=await members_of(session, case), region_code=case.region_code,
                        monthly_amount=from_fen(amount), effective_from=body.paid_from),
    )  # fmt: skip
    # Paid from before a standard that has taken effect since: the months from that date are paid under it, as
    # the recalculation run on its date made them for the cases that existed then. Not eligible under it: the
    # amount stays for a review, as the recalculation leaves it.
    since = await standards_since(session, case.region_code, body.paid_from, today)
    for on, later in zip(since, await assessments(session, application, since), strict=True):
        if later.eligible:
            await set_amount(session, outbox, case, on, to_fen(later.monthly_amount), actor=user.subject,
                             reason=f"new standard from {on}: {later.reasons[-1]}", cause=f"approval: standard of {on}")  # fmt: skip
    await session.commit()
    return ApplicationPublic.of(application)


@router.post("/{application_id}/reject")
async def reject_application(
    application_id: str, body: Decision, session: SessionDep, outbox: OutboxDep, user: Caseworker
) -> ApplicationPublic:
    application = await visible_application(session, application_id, user)
    if application.status not in (ApplicationStatus.SUBMITTED, ApplicationStatus.VERIFIED):
        raise Conflict("decided", "The application is already decided", f"it is {application.status}")
    household = await session.get(Household, application.household_id)
    assert household is not None
    application.status, application.decided_by = ApplicationStatus.REJECTED, user.subject
    application.decision_reason = body.reason
    session.add(application)
    await outbox.add(session, ApplicationRejected(resident_id=household.applicant_resident_id,
                                                  application_id=application.id, household_id=household.id,
                                                  benefit=application.benefit, reason=body.reason))  # fmt: skip
    await session.commit()
    return ApplicationPublic.of(application)
