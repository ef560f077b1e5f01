"""Routes: allowances (高龄补贴 granted without application, the difficult-elderly subsidy), the daily birthday job
and the monthly payment run."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, status
from sqlmodel import col, select

from civic.app import OutboxDep, SessionDep
from civic.auth import CurrentUser, Principal, caseworker_of
from civic.clock import Today
from civic.money import from_fen
from civic.problems import Conflict, NotFound, Problem
from services.eldercare import grants, rules
from services.eldercare.access import DOMAIN, check_may_read, shown_id
from services.eldercare.models import Allowance, AllowancePayment, Elder
from services.eldercare.policy_store import Policy, current_policy
from services.eldercare.schemas import (
    AgeAllowanceRun,
    AgeAllowanceRunResult,
    AllowanceGrant,
    AllowancePublic,
    PaymentPublic,
    PaymentRun,
)

router = APIRouter(tags=["allowances"])
Caseworker = Annotated[Principal, Depends(caseworker_of(DOMAIN))]


def public(a: Allowance, elder: Elder, policy: Policy, who: Principal, today: date) -> AllowancePublic:
    """The monthly amount shown is this month's (the month it stopped, once stopped; the first, before it starts)."""
    month = a.stopped_from if a.stopped_from and a.stopped_from <= today else max(today, a.granted_from)
    return AllowancePublic(
        id=a.id, resident_id=shown_id(a.resident_id, who), allowance=a.kind, status=a.status,
        region_code=a.region_code, monthly_amount=from_fen(grants.monthly_fen(a, elder.born, month, policy)),
        granted_from=a.granted_from, stopped_from=a.stopped_from, stop_reason=a.stop_reason, cause=a.cause,
    )  # fmt: skip


@router.post("/age-allowance-runs")
async def grant_age_allowances_due_on(
    body: AgeAllowanceRun, session: SessionDep, outbox: OutboxDep, who: Caseworker
) -> AgeAllowanceRunResult:
    """The daily job "grant age allowances due on <date>": safe to run twice, and a later run catches up a missed
    day. The service runs it by itself at start and every hour (services.eldercare.schedule); this runs it for a
    given day, by hand."""
    granted = await grants.grant_age_allowances_due(session, outbox, body.on, await current_policy(session),
                                                    who.subject)  # fmt: skip
    await session.commit()
    return AgeAllowanceRunResult(on=body.on, granted=[a.id for a in granted])


@router.post("/allowances", status_code=status.HTTP_201_CREATED)
async def grant_allowance(
    body: AllowanceGrant, session: SessionDep, outbox: OutboxDep, who: Caseworker, today: Today
) -> AllowancePublic:
    """Grant the age allowance now to a registered elder aged 80 or over on ``on``."""
    elder = await session.get(Elder, body.resident_id)
    if elder is None:
        raise NotFound("Elder", "register the elder first")
    try:
        rules.check_age_allowance(elder.born, body.on)
    except rules.UnderAge as exc:
        raise Problem(422, "under-age", "Too young for the age allowance", str(exc), field="resident_id") from exc
    policy = await current_policy(session)
    start = max(rules.age_allowance_from(elder.born), rules.first_of_month(body.on))
    allowance = await grants.grant(session, outbox, elder, rules.AllowanceKind.AGE, start,
                                   f"granted by {who.subject}", policy)  # fmt: skip
    if allowance is None:
        raise Conflict("already-granted", "The age allowance is already granted, or the person has died",
                       field="resident_id")  # fmt: skip
    await session.commit()
    return public(allowance, elder, policy, who, today)


@router.get("/elders/{resident_id}/allowances")
async def allowances_of(resident_id: str, session: SessionDep, who: CurrentUser, today: Today) -> list[AllowancePublic]:
    check_may_read(resident_id, who, "Elder")
    elder = await session.get(Elder, resident_id)
    if elder is None:
        raise NotFound("Elder")
    policy = await current_policy(session)
    return [public(a, elder, policy, who, today) for a in await grants.allowances_of(session, resident_id)]


@router.post("/allowance-payment-runs")
async def run_monthly_payments(body: PaymentRun, session: SessionDep, who: Caseworker) -> dict[str, int]:
    """Pay a month (and any month owed before it). Running it again pays nothing twice."""
    if body.month.day != 1:
        raise Problem(422, "not-a-month", "Give the first day of the month", field="month")
    paid = await grants.run_payments(session, body.month, await current_policy(session))
    await session.commit()
    return {"payments": paid}


@router.get("/allowances/{allowance_id}/payments")
async def payments_of(allowance_id: str, session: SessionDep, who: CurrentUser) -> list[PaymentPublic]:
    allowance = await session.get(Allowance, allowance_id)
    if allowance is None or not who.may_read_person(allowance.resident_id, DOMAIN):
        raise NotFound("Allowance")
    rows = await session.exec(select(AllowancePayment).where(AllowancePayment.allowance_id == allowance_id)
                              .order_by(col(AllowancePayment.month), col(AllowancePayment.kind)))  # fmt: skip
    return [PaymentPublic(month=p.month, kind=p.kind, amount=from_fen(p.amount_fen)) for p in rows.all()]
