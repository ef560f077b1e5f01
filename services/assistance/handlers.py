"""What social assistance does when other departments publish facts. One function per event type.

Each is idempotent beyond the runner's inbox: a second registration of the same death, or a revocation of a
death never seen or already revoked, changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from civic.bus import HandlerContext, Handlers
from civic.money import from_fen, to_fen
from contracts.assistance import (
    BenefitsOfDeceasedReinstated,
    BenefitsOfDeceasedStopped,
    HouseholdsRechecked,
    StoppedBenefit,
)
from contracts.funeral import DeathRegistered, DeathRevoked
from contracts.marriage import DivorceRegistered, MarriageRegistered, RegistrationPartyCorrected
from contracts.placenames import DoorPlateChanged, RoadRenamed
from services.assistance import facts, lifecycle, rules
from services.assistance.addresses import follow_renumbered_plate, update_addresses_on_renamed_road
from services.assistance.households import composition_changed
from services.assistance.models import (
    OPEN,
    BenefitAmount,
    Case,
    CaseStatus,
    DeathRecord,
    Household,
    HouseholdMember,
    HouseholdRecheck,
    HouseholdReview,
)
from services.assistance.policy_store import current_policy

ACTOR = "assistance (automatic)"


async def stopped(session: AsyncSession, case: Case) -> StoppedBenefit:
    amount = await lifecycle.latest_amount(session, case.id)
    return StoppedBenefit(case_id=case.id, benefit=case.benefit, monthly_amount=from_fen(amount))


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
            cases=[await stopped(session, c) for c in ended],
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
            cases=[await stopped(session, c) for c in reinstated],
            back_pay=from_fen(back_pay),
        )
    )


@dataclass(frozen=True)
class ChangedRegistration:
    """What a household re-check needs of a marriage-register change: who, since when, and what to verify."""

    key: str  # one re-check per key
    cause: str  # what the household's review says caused it (one review per household and cause)
    registration_id: str
    announced_for: str  # the resident ``HouseholdsRechecked`` is about (the event's own subject)
    parties: tuple[str, ...]
    on: date  # amounts change from the first unpaid month after this day
    what: str
    verify: str

    @staticmethod
    def of(event: MarriageRegistered | DivorceRegistered, trigger: str) -> ChangedRegistration:
        married = isinstance(event, MarriageRegistered)
        return ChangedRegistration(
            key=f"{trigger}:{event.registration_id}", cause=event.registration_id, registration_id=event.registration_id,
            announced_for=event.resident_id, parties=(event.resident_id, event.spouse_resident_id),
            on=event.registered_on, what="marriage registered" if married else "divorce registered",
            verify="whether the spouse joins the household, their income and assets, and who now supports whom"
            if married else "whether the former spouse left the household, with their income",
        )  # fmt: skip


async def recheck_households_of(change: ChangedRegistration, ctx: HandlerContext) -> None:
    """A marriage or a divorce changes who supports whom: re-check the households of both parties.

    What a re-check does, and why (domain.md §1: household benefits are decided by a caseworker after the
    household's economic verification, 家庭经济状况核对):

    - The registration tells a legal fact, not the facts the benefit rests on: whether the spouse moved in (or
      the ex-spouse out), what they earn and own, whether a 特困 beneficiary now has a legal supporter. Those
      must be verified, so every household found gets a review for its caseworker (``/households/{id}/reviews``)
      naming what to verify; the registration itself never removes or adds a member or ends a benefit.
    - What the household's *recorded* facts already say is applied at once: every active benefit of the
      household is reassessed with ``rules.assess`` on its members and incomes as recorded (a caseworker may
      have recorded the spouse joining, or the ex-spouse leaving, before the registration arrived), and an
      amount that differs is scheduled from the first month after the registration that is not yet paid
      (a ``BenefitChanged`` each). A benefit the recorded facts no longer support is not stopped here: that is
      a decision with 渐退 (``/cases/{id}/review``), left to the review. A paid month is never rewritten.

    One ``HouseholdsRechecked`` per registration, also when neither party is in a household known here. A
    correction of a party's resident ID is re-checked the same way, for the wrongly named person too.
    """
    session = ctx.session
    if await session.get(HouseholdRecheck, change.key) is not None:
        return  # the same registration published again: re-checked already, and announced once
    rows = await session.exec(select(HouseholdMember).where(col(HouseholdMember.resident_id).in_(change.parties)))
    in_household: dict[str, list[str]] = {}
    for m in rows.all():
        in_household.setdefault(m.household_id, []).append(m.resident_id)
    policy = await current_policy(session) if in_household else None
    changed = 0
    for household_id, present in sorted(in_household.items()):
        notes = await reassess_household_after(change, household_id, policy, ctx)
        changed += notes.changed
        exists = await session.exec(select(HouseholdReview).where(HouseholdReview.household_id == household_id,
                                                                  HouseholdReview.cause == change.cause))  # fmt: skip
        if exists.first() is None:
            n = len(set(present))
            members_here = ("one party is a member" if n == 1 else "both parties are members"
                            if n == len(change.parties) == 2 else f"{n} of the people named are members")  # fmt: skip
            reason = f"{change.what} ({change.on}): {members_here}; verify {change.verify}; {notes.summary()}"
            session.add(HouseholdReview(household_id=household_id, cause=change.cause, reason=reason[:500]))
    session.add(HouseholdRecheck(id=change.key, households_rechecked=len(in_household), benefits_changed=changed))
    await ctx.publish(
        HouseholdsRechecked(resident_id=change.announced_for, trigger=ctx.envelope.type,
                            households_rechecked=len(in_household), benefits_changed=changed,
                            registration_id=change.registration_id)
    )  # fmt: skip


@dataclass
class RecheckNotes:
    changed: int = 0
    unchanged: int = 0
    left_for_review: list[str] = field(default_factory=list)

    def summary(self) -> str:
        parts = [f"{self.changed} benefit(s) recalculated on the recorded facts", f"{self.unchanged} unchanged"]
        if self.left_for_review:
            parts.append("for review: " + ", ".join(self.left_for_review))
        return "; ".join(parts)


async def reassess_household_after(
    change: ChangedRegistration, household_id: str, policy: rules.Policy | None, ctx: HandlerContext
) -> RecheckNotes:
    notes = RecheckNotes()
    if policy is None:
        return notes
    session = ctx.session
    household_facts = await facts.household(session, household_id)
    since = rules.first_day_of_next_month(change.on)
    for case in await lifecycle.open_cases_of_household(session, household_id):
        if case.status != CaseStatus.ACTIVE:
            notes.left_for_review.append(f"{case.benefit} ({case.status})")
            continue
        last = await lifecycle.last_paid_month(session, case.id)
        start = max(since, rules.first_day_of_next_month(last)) if last else max(since, case.paid_from)
        try:
            result = facts.reassess(case, household_facts, policy, start)
        except (rules.Refused, rules.MissingPolicy) as exc:
            notes.left_for_review.append(f"{case.benefit} (cannot be assessed: {exc})")
            continue
        if not result.eligible:
            notes.left_for_review.append(f"{case.benefit} (no longer eligible on the recorded facts)")
            continue
        if await lifecycle.set_amount(session, ctx.outbox, case, start, to_fen(result.monthly_amount),
                                      reason=f"{change.what} ({change.registration_id}) re-check: {result.reasons[-1]}",
                                      actor=ACTOR, cause=f"recheck {change.registration_id}"[:100]):  # fmt: skip
            notes.changed += 1
        else:
            notes.unchanged += 1
    return notes


async def recheck_after_marriage(event: MarriageRegistered, ctx: HandlerContext) -> None:
    await recheck_households_of(ChangedRegistration.of(event, ctx.envelope.type), ctx)


async def recheck_after_divorce(event: DivorceRegistered, ctx: HandlerContext) -> None:
    await recheck_households_of(ChangedRegistration.of(event, ctx.envelope.type), ctx)


async def recheck_after_party_correction(event: RegistrationPartyCorrected, ctx: HandlerContext) -> None:
    """The register named the wrong person: the one wrongly named is not married by it after all, the one
    corrected in is. Their households and the other party's are re-checked as after a registration, from the
    correction's day (months paid before it stay as they were)."""
    await recheck_households_of(ChangedRegistration(
        # Keyed by the person corrected in, by pseudonym: the same registration may be corrected again later.
        key=f"{ctx.envelope.type}:{event.marriage_registration_id}:{ctx.outbox.pseudonym_of(event.resident_id)}",
        cause=f"correction {event.marriage_registration_id} {ctx.outbox.pseudonym_of(event.resident_id)[:16]}"[:100],
        registration_id=event.marriage_registration_id, announced_for=event.resident_id,
        parties=(event.resident_id, event.previous_resident_id, event.spouse_resident_id), on=event.corrected_on,
        what=f"the {event.marriage_status} registration of {event.registered_on} corrected to name another person",
        verify="who in the household is married to whom now that the register names the right person, and "
        "whether the support and income recorded follow from the wrong entry",
    ), ctx)  # fmt: skip


HANDLERS: Handlers = {
    RoadRenamed: [update_addresses_on_renamed_road],
    DoorPlateChanged: [follow_renumbered_plate],
    DeathRegistered: [stop_benefits_of_deceased],
    DeathRevoked: [reinstate_benefits_of_revoked_death],
    MarriageRegistered: [recheck_after_marriage],
    DivorceRegistered: [recheck_after_divorce],
    RegistrationPartyCorrected: [recheck_after_party_correction],
}
