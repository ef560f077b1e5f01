"""Routes: the time bank (时间银行). Volunteers earn hours by serving elders and spend them on services later (for
themselves or their family). The ledger is append-only; the account's balance moves only by a conditional UPDATE
(``balance >= spend`` for a spend), so two spends racing for the same hours cannot both win — the database decides,
as it does for the last bed — and the balance can never go negative (a CHECK constraint backs the rule)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, status
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from civic.app import SessionDep
from civic.auth import CurrentUser, Principal, caseworker_of
from civic.db import table_of
from civic.identity import ResidentId
from civic.problems import NotFound, Problem
from services.eldercare import rules
from services.eldercare.access import DOMAIN, check_may_read, shown_id
from services.eldercare.community_models import TimeBankAccount, TimeBankEntry
from services.eldercare.community_schemas import HoursEarned, HoursSpent, LedgerEntryPublic, TimeBankPublic

router = APIRouter(prefix="/time-bank", tags=["time bank"])
Caseworker = Annotated[Principal, Depends(caseworker_of(DOMAIN))]
EARNED, SPENT = "earned", "spent"


def entry_public(e: TimeBankEntry) -> LedgerEntryPublic:
    return LedgerEntryPublic(seq=e.seq, kind=e.kind, hours=rules.hours_of(e.minutes),
                             balance_after=rules.hours_of(e.balance_after_minutes), service=e.service, on=e.on,
                             recorded_by=e.recorded_by)  # fmt: skip


async def open_account_if_new(session: AsyncSession, resident_id: str) -> None:
    if await session.get(TimeBankAccount, resident_id) is not None:
        return
    try:
        async with session.begin_nested():  # two first earnings at once: the second finds the account opened
            session.add(TimeBankAccount(resident_id=resident_id))
    except IntegrityError:
        pass


async def move_balance(session: AsyncSession, resident_id: str, minutes: int) -> tuple[int, int] | None:
    """Add ``minutes`` (negative to spend) to the balance unless that would make it negative; the balance and the
    sequence number of the new ledger entry, or None when the account lacks the hours (or does not exist)."""
    account = table_of(TimeBankAccount)
    moved = await session.exec(
        update(account)
        .where(account.c.resident_id == resident_id, account.c.balance_minutes + minutes >= 0)
        .values(balance_minutes=account.c.balance_minutes + minutes, entries=account.c.entries + 1)
        .returning(account.c.balance_minutes, account.c.entries)
    )
    row = moved.first()
    return None if row is None else (int(row[0]), int(row[1]))


def write_entry(
    session: AsyncSession, resident_id: str, kind: str, minutes: int, moved: tuple[int, int],
    body: HoursEarned | HoursSpent, by: str,
) -> TimeBankEntry:  # fmt: skip
    balance, seq = moved
    entry = TimeBankEntry(resident_id=resident_id, seq=seq, kind=kind, minutes=minutes, balance_after_minutes=balance,
                          service=body.service, on=body.on, recorded_by=by)  # fmt: skip
    session.add(entry)
    return entry


@router.post("/{resident_id}/earnings", status_code=status.HTTP_201_CREATED)
async def record_hours_earned(
    resident_id: ResidentId, body: HoursEarned, session: SessionDep, who: Caseworker
) -> LedgerEntryPublic:
    """A volunteer served: the hours go into their account (opened with the first earning)."""
    minutes = rules.minutes_of(body.hours)
    await open_account_if_new(session, resident_id)
    moved = await move_balance(session, resident_id, minutes)
    assert moved is not None, "adding hours cannot make a balance negative"
    entry = write_entry(session, resident_id, EARNED, minutes, moved, body, who.subject)
    await session.commit()
    return entry_public(entry)


@router.post("/{resident_id}/spendings", status_code=status.HTTP_201_CREATED)
async def spend_hours(
    resident_id: ResidentId, body: HoursSpent, session: SessionDep, who: Caseworker
) -> LedgerEntryPublic:
    """Hours paid for a service. More than the balance is refused and nothing is written."""
    minutes = rules.minutes_of(body.hours)
    moved = await move_balance(session, resident_id, -minutes)
    if moved is None:
        account = await session.get(TimeBankAccount, resident_id)
        try:
            rules.check_spend(account.balance_minutes if account else 0, minutes)
        except rules.BalanceExceeded as exc:
            raise Problem(422, "time-bank-balance-exceeded", "Not enough hours in the time bank", str(exc),
                          field="hours") from exc  # fmt: skip
        # The balance sufficed when read again: another spend or earning moved it in between. Say so, not "ok".
        raise Problem(409, "time-bank-busy", "The account changed meanwhile", "try the spend again", field="hours")
    entry = write_entry(session, resident_id, SPENT, minutes, moved, body, who.subject)
    await session.commit()
    return entry_public(entry)


@router.get("/{resident_id}")
async def time_bank_account(resident_id: str, session: SessionDep, who: CurrentUser) -> TimeBankPublic:
    """The balance and the whole ledger, oldest first (the volunteer sees their own)."""
    check_may_read(resident_id, who, "Time-bank account")
    account = await session.get(TimeBankAccount, resident_id)
    if account is None:
        raise NotFound("Time-bank account")
    entries = await session.exec(select(TimeBankEntry).where(TimeBankEntry.resident_id == resident_id)
                                 .order_by(col(TimeBankEntry.seq)))  # fmt: skip
    return TimeBankPublic(resident_id=shown_id(resident_id, who), balance=rules.hours_of(account.balance_minutes),
                          entries=[entry_public(e) for e in entries.all()])  # fmt: skip
