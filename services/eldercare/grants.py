"""Allowances as state changes: grant, stop, restore, pay. Used by the routes, the daily job and the handlers, so
that every path writes the same rows and the same events in the caller's transaction."""

from __future__ import annotations

from datetime import date

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from civic.clock import china_date_of
from civic.money import from_fen
from civic.outbox import Outbox
from contracts.eldercare import AllowanceGranted, AllowanceStopped, ElderRegistered, EndedAllowance
from services.eldercare import rules
from services.eldercare.models import (
    AgeAllowanceRun,
    Allowance,
    AllowancePayment,
    AllowancePaymentRun,
    AllowanceStatus,
    DeathRecord,
    Elder,
    LivingSituation,
)
from services.eldercare.policy_store import Policy

ELDER_AGE = 60


async def is_dead(session: AsyncSession, resident_id: str) -> bool:
    deaths = await session.exec(
        select(DeathRecord).where(DeathRecord.resident_id == resident_id, col(DeathRecord.revoked_at).is_(None))
    )
    return deaths.first() is not None


async def enrol_elder(
    session: AsyncSession, outbox: Outbox, resident_id: str, region_code: str, by: str, **details: str | int | None
) -> Elder:
    """Make a person known to eldercare (or return them if known already)."""
    elder = await session.get(Elder, resident_id)
    if elder is not None:
        return elder
    born = rules.birth_date_of(resident_id)
    elder = Elder(resident_id=resident_id, born=born, region_code=region_code, registered_by=by)
    for name, value in details.items():
        setattr(elder, name, value)
    session.add(elder)
    await outbox.add(session, ElderRegistered(resident_id=resident_id, region_code=region_code,
                                              community=elder.community, living_situation=elder.living_situation))  # fmt: skip
    return elder


def monthly_fen(allowance: Allowance, born: date, month: date, policy: Policy) -> int:
    age = rules.age_on(born, rules.last_day_of_month(month))
    return policy.monthly_fen(rules.AllowanceKind(allowance.kind), allowance.region_code, age, month)


async def grant(
    session: AsyncSession,
    outbox: Outbox,
    elder: Elder,
    kind: rules.AllowanceKind,
    granted_from: date,
    cause: str,
    policy: Policy,
) -> Allowance | None:
    """Grant ``kind`` to ``elder`` from ``granted_from``; None if it is already paid or the person has died.

    An allowance ended earlier (its cause ended) is granted again on the same row: one row per person and kind,
    which the database's unique key also guarantees.
    """
    if elder.died_on is not None or await is_dead(session, elder.resident_id):
        return None
    existing = (
        await session.exec(select(Allowance).where(Allowance.resident_id == elder.resident_id, Allowance.kind == kind))
    ).first()
    if existing is not None and existing.status != AllowanceStatus.ENDED:
        return None
    allowance = existing or Allowance(resident_id=elder.resident_id, kind=kind, region_code=elder.region_code,
                                      granted_from=granted_from)  # fmt: skip
    allowance.status, allowance.granted_from, allowance.cause = AllowanceStatus.ACTIVE, granted_from, cause
    allowance.stopped_from = allowance.stop_reason = None
    allowance.region_code = elder.region_code
    session.add(allowance)
    await session.flush()
    amount = monthly_fen(allowance, elder.born, granted_from, policy)
    await outbox.add(session, AllowanceGranted(
        resident_id=elder.resident_id, allowance_id=allowance.id, allowance=kind.value,
        region_code=allowance.region_code, monthly_amount=from_fen(amount), granted_from=granted_from, cause=cause,
    ))  # fmt: skip
    return allowance


async def stop(
    session: AsyncSession,
    outbox: Outbox,
    allowance: Allowance,
    stopped_from: date,
    reason: str,
    status: AllowanceStatus,
    death_registration: str | None = None,
) -> None:
    allowance.status, allowance.stopped_from, allowance.stop_reason = status, stopped_from, reason
    allowance.stopped_by_death = death_registration
    session.add(allowance)
    await outbox.add(session, AllowanceStopped(resident_id=allowance.resident_id, allowance_id=allowance.id,
                                               allowance=allowance.kind, stopped_from=stopped_from, reason=reason))  # fmt: skip


def ended(allowance: Allowance, born: date, month: date, policy: Policy) -> EndedAllowance:
    amount = monthly_fen(allowance, born, month, policy)
    return EndedAllowance(allowance_id=allowance.id, allowance=allowance.kind, monthly_amount=from_fen(amount))


async def grant_age_allowances_due(
    session: AsyncSession, outbox: Outbox, on: date, policy: Policy, by: str
) -> list[Allowance]:
    """The daily birthday job (免申即享): everyone known, alive and 80 or over on ``on`` without an age allowance
    gets one. "80 or over", not "80 today": a run missed yesterday is caught up by today's, and running twice
    grants nothing the second time."""
    have = select(Allowance.resident_id).where(Allowance.kind == rules.AllowanceKind.AGE)
    candidates = await session.exec(
        select(Elder).where(
            col(Elder.born) <= rules.latest_birth_for_age(on, rules.AGE_ALLOWANCE_AGE),
            col(Elder.died_on).is_(None),
            col(Elder.resident_id).not_in(have),
        )
    )
    granted = []
    for elder in candidates.all():
        if rules.age_on(elder.born, on) < rules.AGE_ALLOWANCE_AGE:
            continue
        # Someone who became known after turning 80 is paid from the month they became known, not years back.
        start = max(rules.age_allowance_from(elder.born), rules.first_of_month(china_date_of(elder.registered_at)))
        cause = f"aged {rules.AGE_ALLOWANCE_AGE} on {rules.turns(elder.born, rules.AGE_ALLOWANCE_AGE).isoformat()}"
        allowance = await grant(session, outbox, elder, rules.AllowanceKind.AGE, start, cause, policy)
        if allowance is not None:
            granted.append(allowance)
    session.add(AgeAllowanceRun(on=on, granted=len(granted), ran_by=by))
    return granted


async def last_run_month(session: AsyncSession) -> date | None:
    runs = await session.exec(select(col(AllowancePaymentRun.month)).order_by(col(AllowancePaymentRun.month).desc()))
    return runs.first()


async def pay(
    session: AsyncSession, allowance: Allowance, born: date, months: list[date], kind: str, policy: Policy
) -> dict[date, int]:
    """Pay the given months not paid yet (the unique key on allowance and month is the last word)."""
    paid = set(
        (
            await session.exec(select(col(AllowancePayment.month)).where(AllowancePayment.allowance_id == allowance.id))
        ).all()
    )
    done: dict[date, int] = {}
    for month in months:
        if month in paid:
            continue
        amount = monthly_fen(allowance, born, month, policy)
        session.add(AllowancePayment(allowance_id=allowance.id, month=month, amount_fen=amount, kind=kind))
        done[month] = amount
    return done


async def run_payments(session: AsyncSession, month: date, policy: Policy) -> int:
    """Pay ``month`` to every allowance payable in it, and any earlier payable month never paid (back-pay).
    Safe to run again: months paid are skipped."""
    month = rules.first_of_month(month)
    if await session.get(AllowancePaymentRun, month) is None:
        session.add(AllowancePaymentRun(month=month))
    allowances = await session.exec(select(Allowance).where(col(Allowance.granted_from) <= month))
    count = 0
    for allowance in allowances.all():
        elder = await session.get(Elder, allowance.resident_id)
        assert elder is not None
        end = allowance.stopped_from if allowance.status != AllowanceStatus.ACTIVE else None
        payable = [m for m in rules.months_from(allowance.granted_from, rules.first_day_of_next_month(month))
                   if end is None or m < end]  # fmt: skip
        back = [m for m in payable if m < month]
        count += len(await pay(session, allowance, elder.born, [m for m in payable if m == month], "regular", policy))
        count += len(await pay(session, allowance, elder.born, back, "back_pay", policy))
    return count


async def allowances_of(session: AsyncSession, resident_id: str) -> list[Allowance]:
    rows = await session.exec(
        select(Allowance).where(Allowance.resident_id == resident_id).order_by(col(Allowance.granted_at))
    )
    return list(rows.all())


async def elder_with(session: AsyncSession, resident_id: str, region_code: str, by: str, outbox: Outbox) -> Elder:
    """A person another department told us about: enrolled with what we know (living situation unknown)."""
    return await enrol_elder(session, outbox, resident_id, region_code, by,
                             living_situation=LivingSituation.UNKNOWN)  # fmt: skip
