"""Benefit cases: read, history, payments; suspend, reinstate, terminate, change the amount, review."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, status
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from civic.app import OutboxDep, SessionDep
from civic.auth import CurrentUser, Principal, Role, caseworker_of
from civic.money import from_fen, to_fen
from civic.outbox import Outbox
from civic.problems import Conflict, NotFound, Problem
from contracts.assistance import CaseOpened
from services.assistance import facts, lifecycle, rules
from services.assistance.households import members
from services.assistance.models import OPEN, BenefitAmount, Case, CaseChange, CaseStatus, DeathRecord, Payment
from services.assistance.policy_store import current_policy
from services.assistance.schemas import (
    DOMAIN,
    AmountChange,
    CaseCreate,
    CasePublic,
    ChangePublic,
    Decision,
    EffectiveChange,
    PaymentPublic,
)

router = APIRouter(prefix="/cases", tags=["benefit cases"])
Caseworker = Annotated[Principal, Depends(caseworker_of(DOMAIN))]


async def visible_case(session: AsyncSession, case_id: str, viewer: Principal) -> Case:
    """Caseworkers and auditors see any case; a citizen sees the cases of their own household only (404 else)."""
    case = await session.get(Case, case_id)
    if case is None:
        raise NotFound("case")
    if viewer.is_caseworker_of(DOMAIN) or viewer.role is Role.AUDITOR or viewer.is_citizen(case.resident_id):
        return case
    if case.household_id and any(viewer.is_citizen(m.resident_id) for m in await members(session, case.household_id)):
        return case
    raise NotFound("case")


async def case_public(session: AsyncSession, case: Case, viewer: Principal) -> CasePublic:
    return CasePublic.of(case, await lifecycle.latest_amount(session, case.id), viewer)


@router.post("", status_code=status.HTTP_201_CREATED)
async def open_case(body: CaseCreate, session: SessionDep, outbox: OutboxDep, user: Caseworker) -> CasePublic:
    """A case decided outside this service's application flow (e.g. migrated from the old system)."""
    dead = await session.exec(
        select(DeathRecord).where(DeathRecord.resident_id == body.resident_id, col(DeathRecord.revoked_at).is_(None))
    )
    if dead.first() is not None:
        raise Conflict("deceased", "The person's death is registered", "benefits are not granted to the dead",
                       field="resident_id")  # fmt: skip
    amount = to_fen(body.monthly_amount)
    case = Case(benefit=body.benefit, resident_id=body.resident_id, region_code=body.region_code,
                paid_from=body.paid_from)  # fmt: skip
    session.add(case)
    await session.flush()
    session.add(BenefitAmount(case_id=case.id, effective_from=body.paid_from, amount_fen=amount, cause="opened"))
    lifecycle.history(session, case, "opened", "opened directly by a caseworker", user.subject,
                      effective_from=body.paid_from, amount_fen=amount)  # fmt: skip
    await outbox.add(session, CaseOpened(resident_id=case.resident_id, case_id=case.id, benefit=case.benefit,
                                         region_code=case.region_code, monthly_amount=body.monthly_amount,
                                         paid_from=case.paid_from))  # fmt: skip
    await session.commit()
    return CasePublic.of(case, amount, user)


@router.get("/{case_id}")
async def read_case(case_id: str, session: SessionDep, user: CurrentUser) -> CasePublic:
    return await case_public(session, await visible_case(session, case_id, user), user)


@router.get("/{case_id}/history")
async def read_history(case_id: str, session: SessionDep, user: CurrentUser) -> list[ChangePublic]:
    case = await visible_case(session, case_id, user)
    rows = await session.exec(select(CaseChange).where(CaseChange.case_id == case.id).order_by(col(CaseChange.id)))
    return [ChangePublic.of(c) for c in rows.all()]


@router.get("/{case_id}/payments")
async def read_payments(case_id: str, session: SessionDep, user: CurrentUser) -> list[PaymentPublic]:
    case = await visible_case(session, case_id, user)
    rows = await session.exec(
        select(Payment).where(Payment.case_id == case.id).order_by(col(Payment.month), col(Payment.kind))
    )
    return [PaymentPublic.of(p) for p in rows.all()]


@router.post("/{case_id}/suspend")
async def suspend_case(
    case_id: str, body: EffectiveChange, session: SessionDep, outbox: OutboxDep, user: Caseworker
) -> CasePublic:
    case = await visible_case(session, case_id, user)
    await lifecycle.suspend(session, outbox, case, body.effective_from, body.reason, user.subject)
    await session.commit()
    return await case_public(session, case, user)


@router.post("/{case_id}/reinstate")
async def reinstate_case(
    case_id: str, body: Decision, session: SessionDep, outbox: OutboxDep, user: Caseworker
) -> CasePublic:
    """Pay again from the start of the suspension; months a payment run skipped are paid as back-pay."""
    case = await visible_case(session, case_id, user)
    if case.status != CaseStatus.SUSPENDED:
        raise Conflict("not-suspended", "Only a suspended benefit is reinstated", f"the case is {case.status}")
    await lifecycle.reinstate(session, outbox, case, body.reason, user.subject)
    await session.commit()
    return await case_public(session, case, user)


@router.post("/{case_id}/terminate")
async def terminate_case(
    case_id: str, body: EffectiveChange, session: SessionDep, outbox: OutboxDep, user: Caseworker
) -> CasePublic:
    case = await visible_case(session, case_id, user)
    if case.status not in OPEN:
        raise Conflict("not-open", "The benefit has already ended", f"the case is {case.status}")
    await lifecycle.refuse_paid_month(session, case, body.effective_from, "termination")
    await lifecycle.end(session, outbox, case, body.effective_from, body.reason, user.subject)
    await session.commit()
    return await case_public(session, case, user)


@router.post("/{case_id}/amount")
async def change_amount(
    case_id: str, body: AmountChange, session: SessionDep, outbox: OutboxDep, user: Caseworker
) -> CasePublic:
    """A caseworker's correction of the amount from a month not yet paid, from the amount they read."""
    case = await visible_case(session, case_id, user)
    await lifecycle.hold(session, case)
    now = await lifecycle.latest_amount(session, case.id)
    if now != to_fen(body.previous_amount):
        raise Conflict("amount-changed", "The amount was changed meanwhile",
                       f"it is now {from_fen(now)}, not {body.previous_amount}: read the case again",
                       field="previous_amount")  # fmt: skip
    await lifecycle.refuse_paid_month(session, case, body.effective_from, "an amount change")
    await lifecycle.set_amount(session, outbox, case, body.effective_from, to_fen(body.monthly_amount),
                               reason=body.reason, actor=user.subject, cause="correction")  # fmt: skip
    await session.commit()
    return await case_public(session, case, user)


@router.post("/{case_id}/review")
async def review_case(
    case_id: str, body: EffectiveChange, session: SessionDep, outbox: OutboxDep, user: Caseworker
) -> CasePublic:
    """Periodic review on the household's current facts: a new amount, or 渐退 when income rose above the line."""
    case = await visible_case(session, case_id, user)
    if case.household_id is None or case.status not in (CaseStatus.ACTIVE, CaseStatus.GRACE):
        raise Conflict("not-reviewable", "Only an active case of a registered household is reviewed")
    await lifecycle.refuse_paid_month(session, case, body.effective_from, "a review")
    await apply_review(session, outbox, case, body.effective_from, body.reason, user.subject)
    await session.commit()
    return await case_public(session, case, user)


async def apply_review(
    session: AsyncSession, outbox: Outbox, case: Case, effective_from: date, reason: str, actor: str
) -> None:
    assert case.household_id is not None
    household = await facts.household(session, case.household_id)
    try:
        result = facts.reassess(case, household, await current_policy(session), effective_from)
    except (rules.Refused, rules.MissingPolicy) as exc:
        raise Problem(422, "claim-refused", "The case cannot be reassessed", str(exc)) from exc
    why = f"{reason}: {result.reasons[-1]}"
    if result.eligible:
        case.status, case.grace_until = CaseStatus.ACTIVE, None
        await lifecycle.set_amount(session, outbox, case, effective_from, to_fen(result.monthly_amount), reason=why,
                                   actor=actor, cause="review")  # fmt: skip
        return
    if case.status == CaseStatus.GRACE:
        return  # already leaving; the payment run ends it when the grace runs out
    grace = rules.Policy.figure(await current_policy(session), "dibao_grace_months", household.region_code,
                                household.area, effective_from)  # fmt: skip
    case.status = CaseStatus.GRACE
    case.grace_until = rules.add_months(effective_from, int(grace.value) - 1)
    session.add(case)
    paid = from_fen(await lifecycle.latest_amount(session, case.id))
    lifecycle.history(session, case, "grace", f"{why}; 渐退: paid {paid} until {case.grace_until:%Y-%m}, then ended",
                      actor, effective_from=effective_from)  # fmt: skip
