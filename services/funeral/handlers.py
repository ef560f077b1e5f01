"""Funeral administration's own projection of social assistance's benefit events: who is in difficulty
(困难群众), from when and until when. Free basic funeral services are decided from it, without asking assistance.

Every handler sets state rather than adding to it (an interval per case and member), so a replay, or the same
fact arriving twice under different event ids, changes nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from civic.bus import HandlerContext, Handlers
from contracts.assistance import BenefitApproved, BenefitReinstated, BenefitTerminated, HouseholdCompositionChanged
from contracts.funeral import HouseholdMarkedForBasicFuneralServices
from services.funeral import benefits, rules
from services.funeral.models import DifficultyRecord


async def _row(session: AsyncSession, case_id: str, resident_id: str) -> DifficultyRecord | None:
    found = await session.exec(
        select(DifficultyRecord).where(DifficultyRecord.case_id == case_id, DifficultyRecord.resident_id == resident_id)
    )
    return found.first()


async def _cover(
    session: AsyncSession,
    *,
    case_id: str,
    benefit: str,
    household_id: str,
    members: Iterable[str],
    effective_from: date,
    event_id: str,
) -> None:
    for resident_id in dict.fromkeys(members):
        row = await _row(session, case_id, resident_id)
        if row is None:
            row = DifficultyRecord(case_id=case_id, resident_id=resident_id, benefit=benefit, household_id=household_id,
                                   effective_from=effective_from, updated_by_event=event_id)  # fmt: skip
        else:
            row.effective_from = min(row.effective_from, effective_from)
            row.ended_from, row.updated_by_event = None, event_id
        session.add(row)


async def note_benefit_approved(event: BenefitApproved, ctx: HandlerContext) -> None:
    """Every member of the household is covered by the benefit from its effective date, and funeral says so once
    per approval (its step of 救助一件事). A member whose death is already registered, and who turns out to have
    been in difficulty on that day, gets the free services now."""
    members = [event.resident_id, *event.members]
    # The same approval again under another event id (a relay's re-send, a replay into an emptied inbox): it is
    # answered too, so that whatever journey carries it is not left waiting, but as a repeat: nothing new marked.
    repeated = all([await _row(ctx.session, event.case_id, m) is not None for m in dict.fromkeys(members)])
    covered = rules.members_entitled_to_free_basic_services(event.benefit, members)
    await ctx.publish(HouseholdMarkedForBasicFuneralServices(
        resident_id=event.resident_id, case_id=event.case_id, benefit=event.benefit, household_id=event.household_id,
        members_covered=len(covered), effective_from=event.effective_from, repeated=repeated,
    ))  # fmt: skip
    await _cover(ctx.session, case_id=event.case_id, benefit=event.benefit, household_id=event.household_id,
                 members=members, effective_from=event.effective_from, event_id=ctx.envelope.id)  # fmt: skip
    for resident_id in dict.fromkeys(members):
        await benefits.reconsider_after_late_news(ctx.session, ctx.outbox, resident_id)


async def note_benefit_terminated(event: BenefitTerminated, ctx: HandlerContext) -> None:
    """The benefit ends for everyone it covered from its effective date; earlier days stay covered."""
    rows = await ctx.session.exec(select(DifficultyRecord).where(DifficultyRecord.case_id == event.case_id))
    for row in rows.all():
        row.ended_from, row.updated_by_event = event.effective_from, ctx.envelope.id
        ctx.session.add(row)


async def note_benefit_reinstated(event: BenefitReinstated, ctx: HandlerContext) -> None:
    """A stopped benefit is paid again (also when the death that stopped it was revoked): covered again."""
    rows = (await ctx.session.exec(select(DifficultyRecord).where(DifficultyRecord.case_id == event.case_id))).all()
    household_id = event.household_id or (rows[0].household_id if rows else "")
    members = event.members or [event.resident_id]
    await _cover(ctx.session, case_id=event.case_id, benefit=event.benefit, household_id=household_id,
                 members=members, effective_from=event.reinstated_from, event_id=ctx.envelope.id)  # fmt: skip


async def note_household_change(event: HouseholdCompositionChanged, ctx: HandlerContext) -> None:
    """Someone who joins a household in difficulty is covered from the day it was said; someone who leaves is not.
    A death or its revocation changes nothing here: the day of death is what counts for a deceased."""
    if event.change not in ("joined", "left"):
        return
    on = ctx.envelope.time.date()
    rows = (
        await ctx.session.exec(
            select(DifficultyRecord).where(
                DifficultyRecord.household_id == event.household_id,
                DifficultyRecord.ended_from == None,  # noqa: E711
            )
        )
    ).all()
    if event.change == "left":
        for row in rows:
            if row.resident_id == event.member:
                row.ended_from, row.updated_by_event = on, ctx.envelope.id
                ctx.session.add(row)
        return
    for case_id, benefit in {(r.case_id, r.benefit) for r in rows}:
        await _cover(ctx.session, case_id=case_id, benefit=benefit, household_id=event.household_id,
                     members=[event.member], effective_from=on, event_id=ctx.envelope.id)  # fmt: skip


HANDLERS: Handlers = {
    BenefitApproved: [note_benefit_approved],
    BenefitTerminated: [note_benefit_terminated],
    BenefitReinstated: [note_benefit_reinstated],
    HouseholdCompositionChanged: [note_household_change],
}
