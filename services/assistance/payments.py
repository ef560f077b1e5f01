"""The monthly payment run: one payment per payable case per month, never twice, resumable after a crash."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field, field_validator
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from civic.app import OutboxDep, ServiceDep
from civic.auth import Principal, caseworker_of
from civic.money import from_fen
from civic.outbox import Outbox
from contracts.assistance import PaymentIssued
from services.assistance import lifecycle, rules
from services.assistance.models import PAYABLE, BenefitAmount, Case, CaseStatus, Payment, PaymentRun
from services.assistance.schemas import DOMAIN, Strict, first_of_month

router = APIRouter(prefix="/payment-runs", tags=["payments"])
Caseworker = Annotated[Principal, Depends(caseworker_of(DOMAIN))]


@dataclass
class RunResult:
    month: date
    examined: int = 0
    paid: int = 0
    ended: int = 0
    finished: bool = False


async def pay_chunk(session: AsyncSession, outbox: Outbox, month: date, cases: list[Case], result: RunResult) -> None:
    ids = [c.id for c in cases]
    done = set((await session.exec(
        select(Payment.case_id).where(col(Payment.case_id).in_(ids), Payment.month == month, Payment.kind == "regular")
    )).all())  # fmt: skip
    schedules: dict[str, list[tuple[date, int]]] = {i: [] for i in ids}
    for a in (await session.exec(select(BenefitAmount).where(col(BenefitAmount.case_id).in_(ids)))).all():
        schedules[a.case_id].append((a.effective_from, a.amount_fen))
    for case in cases:
        result.examined += 1
        if case.status == CaseStatus.GRACE and case.grace_until is not None and month > case.grace_until:
            await lifecycle.end(session, outbox, case, month, "渐退 grace period ended", "payment run")
            result.ended += 1
            continue
        if case.id in done or month < case.paid_from or (case.stopped_from and month >= case.stopped_from):
            continue
        amount = rules.amount_in_force(schedules[case.id], month) or 0
        if amount <= 0:
            continue  # 低保边缘 and the like: a status, not a payment
        session.add(Payment(case_id=case.id, month=month, kind="regular", amount_fen=amount))
        await outbox.add(session, PaymentIssued(resident_id=case.resident_id, case_id=case.id, benefit=case.benefit,
                                                month=month, kind="regular", amount=from_fen(amount)))  # fmt: skip
        result.paid += 1


async def run_payments(
    sessions: async_sessionmaker[AsyncSession], outbox: Outbox, month: date, *, chunk: int = 500,
    max_cases: int | None = None,
) -> RunResult:  # fmt: skip
    """Pay ``month`` in chunks of cases (by id); each chunk, its events and the cursor commit together.

    Interrupted, the run resumes after the last committed chunk. Run again after it finished, it goes through
    every case once more and pays only what is missing (a case approved late, say): the unique (case, month,
    kind) constraint and the check before it make a second payment of a month impossible.
    """
    result = RunResult(month)
    async with sessions() as session:
        run = await session.get(PaymentRun, month)
        if run is None:
            run = PaymentRun(month=month)
        elif run.finished_at is not None:
            run.cursor, run.finished_at = "", None
        session.add(run)
        await session.commit()
    while max_cases is None or result.examined < max_cases:
        async with sessions() as session:
            run = await session.get(PaymentRun, month)
            assert run is not None
            size = chunk if max_cases is None else min(chunk, max_cases - result.examined)
            cases = list((await session.exec(
                select(Case).where(col(Case.status).in_(list(PAYABLE)), Case.id > run.cursor)
                .order_by(col(Case.id)).limit(size)
            )).all())  # fmt: skip
            if not cases:
                run.finished_at = datetime.now(UTC)
                result.finished = True
            else:
                before = result.paid
                await pay_chunk(session, outbox, month, cases, result)
                run.cursor = cases[-1].id
                run.payments += result.paid - before
            session.add(run)
            await session.commit()
            if result.finished:
                break
    return result


class RunRequest(Strict):
    month: date = Field(description="first day of the month to pay")
    max_cases: int | None = Field(None, ge=1, description="stop after this many cases (the next call resumes)")

    _month = field_validator("month")(first_of_month)


class RunPublic(BaseModel):
    month: date
    examined: int
    paid: int
    ended: int
    finished: bool
    payments_total: int


@router.post("")
async def start_payment_run(body: RunRequest, service: ServiceDep, outbox: OutboxDep, user: Caseworker) -> RunPublic:
    result = await run_payments(service.sessions, outbox, body.month, max_cases=body.max_cases)
    async with service.sessions() as session:
        run = await session.get(PaymentRun, body.month)
        total = run.payments if run else 0
    return RunPublic(month=result.month, examined=result.examined, paid=result.paid, ended=result.ended,
                     finished=result.finished, payments_total=total)  # fmt: skip
