"""A benefit's lifecycle: change amount, suspend, reinstate with back-pay, terminate, stop after a death.

Each function changes the case, writes its history and the event(s) in the caller's session; the caller commits
once, so state, history and events are one transaction.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime
from typing import NamedTuple, Protocol

from sqlalchemy import bindparam, func, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from civic import bulk
from civic.db import table_of
from civic.money import from_fen, to_fen
from civic.outbox import Outbox
from civic.problems import Conflict
from contracts.assistance import (
    BenefitChanged,
    BenefitReinstated,
    BenefitSuspended,
    BenefitTerminated,
    PaymentIssued,
)
from services.assistance import rules
from services.assistance.models import (
    OPEN,
    BenefitAmount,
    Case,
    CaseChange,
    CaseStatus,
    HouseholdMember,
    Payment,
    PaymentRun,
)


async def members_of(session: AsyncSession, case: Case) -> list[str]:
    if case.household_id is None:
        return [case.resident_id]
    rows = await session.exec(
        select(HouseholdMember).where(HouseholdMember.household_id == case.household_id).order_by(HouseholdMember.id)  # type: ignore[arg-type]
    )
    return [m.resident_id for m in rows.all() if m.died_on is None] or [case.resident_id]


async def schedule(session: AsyncSession, case_id: str) -> list[tuple[date, int]]:
    rows = await session.exec(select(BenefitAmount).where(BenefitAmount.case_id == case_id))
    return [(r.effective_from, r.amount_fen) for r in rows.all()]


async def hold(session: AsyncSession, case: Case) -> None:
    """Take ``case`` for this transaction before reading what a change of it depends on: on PostgreSQL its row is
    locked (another change of it waits for this transaction's end, then reads what it wrote); on SQLite the
    database's write lock is taken (reads after it see every commit before it, and no other can commit)."""
    cases = table_of(Case)
    await session.exec(update(cases).where(cases.c.id == case.id).values(status=cases.c.status))


async def latest_amount(session: AsyncSession, case_id: str) -> int:
    """The case's monthly amount once every change scheduled is in force: its latest schedule entry's (fen).
    Read from the schedule, not kept on the case: a recalculation then writes each case's new entry and history
    and leaves the case's own row alone (updating a million rows was a fifth of the job's time)."""
    latest = await session.exec(
        select(BenefitAmount.amount_fen).where(BenefitAmount.case_id == case_id)
        .order_by(col(BenefitAmount.effective_from).desc()).limit(1)
    )  # fmt: skip
    return latest.first() or 0


async def last_paid_month(session: AsyncSession, case_id: str) -> date | None:
    paid = await session.exec(select(func.max(Payment.month)).where(Payment.case_id == case_id))
    return paid.one()


async def refuse_paid_month(session: AsyncSession, case: Case, effective_from: date, what: str) -> None:
    last = await last_paid_month(session, case.id)
    if last is not None and effective_from <= last:
        raise Conflict(
            "paid-month",
            "A paid month cannot change",
            f"{what} from {effective_from} would change {last:%Y-%m}, which is already paid; "
            f"choose {rules.first_day_of_next_month(last)} or later",
            field="effective_from",
        )


def history(session: AsyncSession, case: Case, kind: str, reason: str, actor: str, **what: object) -> None:
    session.add(CaseChange(case_id=case.id, kind=kind, reason=reason, actor=actor, **what))  # type: ignore[arg-type]


async def set_amount(
    session: AsyncSession,
    outbox: Outbox,
    case: Case,
    effective_from: date,
    amount_fen: int,
    *,
    reason: str,
    actor: str,
    cause: str,
) -> bool:
    """Schedule ``amount_fen`` from ``effective_from``; False (and nothing written) if that is already the amount."""
    entries = await schedule(session, case.id)
    previous = rules.amount_in_force(entries, effective_from)
    if previous == amount_fen:
        return False
    existing = (
        await session.exec(
            select(BenefitAmount).where(
                BenefitAmount.case_id == case.id, BenefitAmount.effective_from == effective_from
            )
        )
    ).first()
    if existing is not None:
        existing.amount_fen, existing.cause = amount_fen, cause
        session.add(existing)
    else:
        session.add(BenefitAmount(case_id=case.id, effective_from=effective_from, amount_fen=amount_fen, cause=cause))
    history(session, case, "amount changed", reason, actor, effective_from=effective_from, amount_fen=amount_fen)
    await outbox.add(
        session,
        BenefitChanged(
            resident_id=case.resident_id,
            case_id=case.id,
            benefit=case.benefit,
            household_id=case.household_id,
            previous_amount=from_fen(previous or 0),
            monthly_amount=from_fen(amount_fen),
            effective_from=effective_from,
            reason=reason,
        ),
    )
    return True


class CaseRef(Protocol):
    """What an amount change needs of its case: the batch's row of it (``reassessment.CaseRow``), as read, not an
    ORM object nor a copy made per case."""

    @property
    def id(self) -> str: ...
    @property
    def resident_id(self) -> str: ...
    @property
    def benefit(self) -> str: ...
    @property
    def household_id(self) -> str | None: ...


class AmountChange(NamedTuple):
    """One case's new amount from a date, as the recalculation found it (``previous`` already looked up). A
    tuple: a frozen dataclass's ``__init__`` cost ~2 µs a case, at a million cases."""

    case: CaseRef
    effective_from: date
    amount_fen: int
    previous: int | None
    entry_exists: bool  # the schedule already has an entry on that date (it is updated, not added)
    reason: str


# A recalculation's events differ in whose case they are, and in the amounts and reason per distinct means: one
# template per benefit and date (a serialisation), filled per distinct amounts (a few joins), then per case.
CHANGED_VARYING = ("resident_id", "case_id", "household_id", "previous_amount", "monthly_amount", "reason")
ChangedTemplates = dict[tuple[str, date] | tuple[str, int | None, int, date, str], bulk.EventTemplate]


async def set_amounts(session: AsyncSession, outbox: Outbox, changes: list[AmountChange], *, actor: str,
                      cause: str, templates: ChangedTemplates | None = None) -> None:  # fmt: skip
    """``set_amount`` for many cases at once, with the same effects (schedule, history, one BenefitChanged each)
    written as a few bulk statements (COPY on PostgreSQL): the recalculation of a million benefits cannot
    afford ORM objects and a round of queries per case. Written on the session's connection, past the ORM: the
    caller holds no ``Case`` of these ids. ``templates`` may carry the events' templates from one call to the
    next (a batch job's chunks).
    """
    if not changes:
        return
    amounts, changes_table = table_of(BenefitAmount), table_of(CaseChange)
    conn = await session.connection()
    await bulk.insert_rows(conn, amounts, ("case_id", "effective_from", "amount_fen", "cause"),
                           [(c.case.id, c.effective_from, c.amount_fen, cause) for c in changes if not c.entry_exists])  # fmt: skip
    rewritten = [c for c in changes if c.entry_exists]
    if rewritten:
        await conn.execute(
            update(amounts).where(amounts.c.case_id == bindparam("cid"), amounts.c.effective_from == bindparam("on"))
            .values(amount_fen=bindparam("fen"), cause=cause),
            [{"cid": c.case.id, "on": c.effective_from, "fen": c.amount_fen} for c in rewritten],
        )  # fmt: skip
    at = datetime.now(UTC)
    await bulk.insert_rows(conn, changes_table, ("case_id", "at", "kind", "effective_from", "amount_fen", "reason", "actor"),
                           [(c.case.id, at, "amount changed", c.effective_from, c.amount_fen, c.reason[:500], actor)
                            for c in changes])  # fmt: skip
    # Built without validation: every value is a stored, once-validated field or an amount from from_fen.
    templates = {} if templates is None else templates
    events = []
    for c in changes:
        key = (c.case.benefit, c.previous, c.amount_fen, c.effective_from, c.reason)
        template = templates.get(key)
        if template is None:
            base = templates.get((c.case.benefit, c.effective_from))
            if base is None:
                base = templates[c.case.benefit, c.effective_from] = bulk.EventTemplate(
                    BenefitChanged, {"benefit": c.case.benefit, "effective_from": c.effective_from}, CHANGED_VARYING
                )
            template = templates[key] = base.partial(
                previous_amount=from_fen(c.previous or 0), monthly_amount=from_fen(c.amount_fen), reason=c.reason
            )
        events.append((BenefitChanged, outbox.key_of(BenefitChanged, c.case.resident_id),
                       template.json(c.case.resident_id, c.case.id, c.case.household_id)))  # fmt: skip
    await outbox.add_serialized(session, events)


async def suspend(
    session: AsyncSession, outbox: Outbox, case: Case, effective_from: date, reason: str, actor: str
) -> None:
    if case.status not in (CaseStatus.ACTIVE, CaseStatus.GRACE):
        raise Conflict("not-active", "Only an active benefit can be suspended", f"the case is {case.status}")
    await refuse_paid_month(session, case, effective_from, "suspension")
    case.status, case.suspended_from = CaseStatus.SUSPENDED, effective_from
    session.add(case)
    history(session, case, "suspended", reason, actor, effective_from=effective_from)
    await outbox.add(
        session,
        BenefitSuspended(
            resident_id=case.resident_id,
            case_id=case.id,
            benefit=case.benefit,
            household_id=case.household_id,
            effective_from=effective_from,
            reason=reason,
        ),
    )


async def pay_back(session: AsyncSession, outbox: Outbox, case: Case, since: date) -> dict[date, int]:
    """Pay, per month, what was due since ``since`` and not paid, for every month a payment run has reached.

    Months no run has reached yet are left to the runs: the case is payable again, and they will pay it.
    """
    run_months = [r.month for r in (await session.exec(select(PaymentRun).where(PaymentRun.month >= since))).all()]
    entries = await schedule(session, case.id)
    due: dict[date, int] = {}
    for month in run_months:
        amount = rules.amount_in_force(entries, month)
        if month >= case.paid_from and amount:
            due[month] = amount
    paid: dict[date, int] = defaultdict(int)
    backpaid: set[date] = set()
    for p in (await session.exec(select(Payment).where(Payment.case_id == case.id, Payment.month >= since))).all():
        paid[p.month] += p.amount_fen
        if p.kind == "back_pay":
            backpaid.add(p.month)
    owed = rules.back_pay(
        {m: from_fen(a) for m, a in due.items()}, {m: from_fen(a) for m, a in paid.items() if m in due}
    )
    result: dict[date, int] = {}
    for owed_month, owed_amount in owed.items():
        if owed_month in backpaid:
            continue  # one back-payment per month: a second correction of the same month needs a caseworker
        fen = to_fen(owed_amount)
        session.add(Payment(case_id=case.id, month=owed_month, kind="back_pay", amount_fen=fen))
        result[owed_month] = fen
        await outbox.add(
            session,
            PaymentIssued(
                resident_id=case.resident_id,
                case_id=case.id,
                benefit=case.benefit,
                month=owed_month,
                kind="back_pay",
                amount=owed_amount,
            ),
        )
    return result


async def reinstate(
    session: AsyncSession, outbox: Outbox, case: Case, reason: str, actor: str, *, since: date | None = None
) -> dict[date, int]:
    """Pay again from where the suspension or stop began, with back-pay for the months runs skipped."""
    start = since or case.suspended_from or case.stopped_from or case.paid_from
    case.status, case.suspended_from, case.stopped_from = CaseStatus.ACTIVE, None, None
    case.stop_reason = case.stopped_by_death = None
    session.add(case)
    await session.flush()
    owed = await pay_back(session, outbox, case, start)
    total = sum(owed.values())
    history(session, case, "reinstated", f"{reason}; back-pay {from_fen(total)} for {len(owed)} month(s)", actor,
            effective_from=start, amount_fen=total)  # fmt: skip
    await outbox.add(
        session,
        BenefitReinstated(
            resident_id=case.resident_id,
            case_id=case.id,
            benefit=case.benefit,
            household_id=case.household_id,
            members=await members_of(session, case),
            monthly_amount=from_fen(await latest_amount(session, case.id)),
            reinstated_from=start,
            back_pay=from_fen(total),
            back_pay_months=sorted(owed),
            reason=reason,
        ),
    )
    return owed


async def end(
    session: AsyncSession,
    outbox: Outbox,
    case: Case,
    effective_from: date,
    reason: str,
    actor: str,
    *,
    status: CaseStatus = CaseStatus.TERMINATED,
    death_registration: str | None = None,
) -> None:
    """Terminate (a decision) or stop (a death): nothing is paid from ``effective_from``."""
    if case.status not in OPEN:
        raise Conflict("not-open", "The benefit has already ended", f"the case is {case.status}")
    members = await members_of(session, case)
    case.status, case.stopped_from, case.stop_reason = status, effective_from, reason[:200]
    case.stopped_by_death, case.grace_until = death_registration, None
    session.add(case)
    history(session, case, str(status), reason, actor, effective_from=effective_from)
    await outbox.add(
        session,
        BenefitTerminated(
            resident_id=case.resident_id,
            case_id=case.id,
            benefit=case.benefit,
            household_id=case.household_id or "",
            members=members,
            effective_from=effective_from,
            reason=reason,
        ),
    )


async def open_cases_of_household(session: AsyncSession, household_id: str) -> list[Case]:
    rows = await session.exec(
        select(Case).where(Case.household_id == household_id, col(Case.status).in_(list(OPEN))).order_by(col(Case.id))
    )
    return list(rows.all())
