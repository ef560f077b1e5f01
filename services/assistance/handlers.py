"""What social assistance does when other departments publish facts. One function per event type.

Each is idempotent beyond the runner's inbox: a second registration of the same death, or a revocation of a
death never seen or already revoked, changes nothing.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlmodel import col, select

from civic.bus import HandlerContext, Handlers
from civic.money import from_fen, to_fen
from contracts.assistance import BenefitsOfDeceasedReinstated, BenefitsOfDeceasedStopped, StoppedBenefit
from contracts.funeral import DeathRegistered, DeathRevoked
from contracts.marriage import DivorceRegistered, MarriageRegistered
from services.assistance import facts, lifecycle, rules
from services.assistance.households import composition_changed
from services.assistance.models import (
    OPEN,
    BenefitAmount,
    Case,
    CaseStatus,
    DeathRecord,
    Household,
    HouseholdMember,
    HouseholdReview,
)
from services.assistance.policy_store import current_policy

ACTOR = "assistance (automatic)"


def stopped(case: Case) -> StoppedBenefit:
    return StoppedBenefit(case_id=case.id, benefit=case.benefit, monthly_amount=from_fen(case.monthly_amount_fen))


async def stop_benefits_of_deceased(event: DeathRegistered, ctx: HandlerContext) -> None:
    """The deceased's benefits stop from the next month; their household's benefit is recalculated without them."""
    session = ctx.session
    if await session.get(DeathRecord, event.registration_id) is not None:
        return
    session.add(DeathRecord(registration_id=event.registration_id, resident_id=event.resident_id,
                            date_of_death=event.date_of_death))  # fmt: skip
    stopped_from = rules.benefit_stops_after_death(event.date_of_death)
    reason = f"death registered ({event.registration_id})"
    ended: list[Case] = []
    own = await session.exec(select(Case).where(Case.resident_id == event.resident_id, col(Case.status).in_(OPEN)))
    member = (
        await session.exec(select(HouseholdMember).where(HouseholdMember.resident_id == event.resident_id))
    ).first()
    household_cases = await lifecycle.open_cases_of_household(session, member.household_id) if member else []
    for case in own.all():
        if rules.BenefitKind(case.benefit) not in rules.HOUSEHOLD_BENEFITS or case.household_id is None:
            ended.append(case)
    if member is not None:
        member.died_on, member.death_registration_id = event.date_of_death, event.registration_id
        session.add(member)
        await session.flush()
        household = await session.get(Household, member.household_id)
        assert household is not None
        await composition_changed(session, ctx.outbox, household, "died", event.resident_id)
        policy = await current_policy(session)
        facts_now = await facts.household(session, member.household_id)
        for case in household_cases:
            if rules.BenefitKind(case.benefit) not in rules.HOUSEHOLD_BENEFITS:
                continue
            result = facts.reassess(case, facts_now, policy, stopped_from)
            if not result.eligible:
                ended.append(case)
                continue
            # From the next month, or the first month not yet paid: a paid month is not rewritten here.
            last = await lifecycle.last_paid_month(session, case.id)
            start = max(stopped_from, rules.first_day_of_next_month(last)) if last else stopped_from
            await lifecycle.set_amount(session, ctx.outbox, case, start, to_fen(result.monthly_amount),
                                       reason=f"{reason}: {result.reasons[-1]}", actor=ACTOR,
                                       cause=event.registration_id)  # fmt: skip
    for case in ended:
        await lifecycle.end(session, ctx.outbox, case, stopped_from, reason, ACTOR, status=CaseStatus.STOPPED,
                            death_registration=event.registration_id)  # fmt: skip
    await ctx.publish(
        BenefitsOfDeceasedStopped(
            resident_id=event.resident_id,
            death_registration_id=event.registration_id,
            stopped_from=stopped_from,
            cases=[stopped(c) for c in ended],
        )
    )


async def reinstate_benefits_of_revoked_death(event: DeathRevoked, ctx: HandlerContext) -> None:
    """Compensation: everything the death stopped or reduced is restored, with back-pay per month."""
    session = ctx.session
    record = await session.get(DeathRecord, event.registration_id)
    if record is None or record.revoked_at is not None:
        return
    record.revoked_at = datetime.now(UTC)
    session.add(record)
    reason = f"death registration {event.registration_id} revoked: {event.reason}"
    back_pay = 0
    members = await session.exec(
        select(HouseholdMember).where(HouseholdMember.death_registration_id == event.registration_id)
    )
    for member in members.all():
        member.died_on = member.death_registration_id = None
        session.add(member)
        await session.flush()
        household = await session.get(Household, member.household_id)
        assert household is not None
        await composition_changed(session, ctx.outbox, household, "death revoked", member.resident_id)
    reduced = await session.exec(select(BenefitAmount).where(BenefitAmount.cause == event.registration_id))
    for entry in reduced.all():
        case = await session.get(Case, entry.case_id)
        assert case is not None
        since = entry.effective_from
        before = [(e, a) for e, a in await lifecycle.schedule(session, case.id) if e != since]
        restored = rules.amount_in_force(before, since) or 0
        await lifecycle.set_amount(session, ctx.outbox, case, since, restored, reason=reason, actor=ACTOR,
                                   cause="death revoked")  # fmt: skip
        back_pay += sum((await lifecycle.pay_back(session, ctx.outbox, case, since)).values())
    cases = await session.exec(select(Case).where(Case.stopped_by_death == event.registration_id))
    reinstated = list(cases.all())
    for case in reinstated:
        back_pay += sum((await lifecycle.reinstate(session, ctx.outbox, case, reason, ACTOR)).values())
    await ctx.publish(
        BenefitsOfDeceasedReinstated(
            resident_id=event.resident_id,
            death_registration_id=event.registration_id,
            cases=[stopped(c) for c in reinstated],
            back_pay=from_fen(back_pay),
        )
    )


async def recheck_households_of(parties: list[str], cause: str, what: str, ctx: HandlerContext) -> None:
    """A marriage or divorce changes who supports whom: each affected household is put up for review."""
    rows = await ctx.session.exec(select(HouseholdMember).where(col(HouseholdMember.resident_id).in_(parties)))
    for household_id in sorted({m.household_id for m in rows.all()}):
        exists = await ctx.session.exec(
            select(HouseholdReview).where(HouseholdReview.household_id == household_id, HouseholdReview.cause == cause)
        )
        if exists.first() is None:
            ctx.session.add(HouseholdReview(household_id=household_id, cause=cause,
                                            reason=f"{what}: re-check members, incomes and supporters"))  # fmt: skip


async def recheck_after_marriage(event: MarriageRegistered, ctx: HandlerContext) -> None:
    parties = [event.resident_id, event.spouse_resident_id]
    await recheck_households_of(parties, event.registration_id, "marriage registered", ctx)


async def recheck_after_divorce(event: DivorceRegistered, ctx: HandlerContext) -> None:
    parties = [event.resident_id, event.spouse_resident_id]
    await recheck_households_of(parties, event.registration_id, "divorce registered", ctx)


HANDLERS: Handlers = {
    DeathRegistered: [stop_benefits_of_deceased],
    DeathRevoked: [reinstate_benefits_of_revoked_death],
    MarriageRegistered: [recheck_after_marriage],
    DivorceRegistered: [recheck_after_divorce],
}
