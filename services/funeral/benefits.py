"""Funeral benefits: the basic funeral service benefit (惠民殡葬) and the eco-burial subsidy (节地生态安葬奖补).

Each is granted at most once per deceased, to a named family member, and cancelled when the death is revoked.
"At most once" is the database's rule (``active_resident_id`` is unique), so two requests racing cannot both win.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from fastapi import APIRouter, status
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from civic.app import OutboxDep, SessionDep
from civic.auth import CurrentUser
from civic.clock import Today
from civic.identity import InvalidResidentId, ResidentId, validate_resident_id
from civic.money import from_fen, to_fen
from civic.outbox import Outbox
from civic.problems import Conflict, NotFound, Problem
from contracts.funeral import (
    EcoBurialSubsidyCancelled,
    EcoBurialSubsidyGranted,
    FuneralBenefitCancelled,
    FuneralBenefitGranted,
    FuneralBenefitNotGranted,
    FuneralBenefitPayeeNamed,
    Payee,
)
from services.funeral import rules
from services.funeral.access import (
    FamilyOrCaseworker,
    in_journey,
    registration_for_family_action,
    sees_everything,
    visible_registration,
)
from services.funeral.models import DeathRegistration, DifficultyRecord, EcoBurialSubsidy, FuneralBenefit
from services.funeral.policy_store import current_policy
from services.funeral.schemas import (
    BenefitsPublic,
    DifficultyPublic,
    EcoBurialSubsidyCreate,
    EcoBurialSubsidyPublic,
    EntitlementPublic,
    FuneralBenefitPublic,
    PayeeIn,
    shown,
)

router = APIRouter(prefix="/deaths", tags=["funeral benefits"])
entitlements = APIRouter(tags=["funeral benefits"])


async def difficulties_of(session: AsyncSession, resident_id: str) -> list[rules.Difficulty]:
    rows = await session.exec(select(DifficultyRecord).where(DifficultyRecord.resident_id == resident_id))
    return [rules.Difficulty(r.benefit, r.case_id, r.effective_from, r.ended_from) for r in rows.all()]


async def decision_for(session: AsyncSession, reg: DeathRegistration) -> rules.FuneralBenefitDecision:
    return rules.decide_funeral_benefit(
        await difficulties_of(session, reg.resident_id), reg.date_of_death, reg.region_code,
        await current_policy(session),
    )  # fmt: skip


async def decide_funeral_benefit(
    session: AsyncSession, outbox: Outbox, reg: DeathRegistration, payee: Payee | None
) -> FuneralBenefit | None:
    """Decide the basic funeral benefit for a newly registered death, in the registration's transaction."""
    decision = await decision_for(session, reg)
    if decision.kind is None:
        await outbox.add(
            session,
            FuneralBenefitNotGranted(resident_id=reg.resident_id, death_registration_id=reg.id, reason=decision.reason),
        )
        return None
    return await grant(session, outbox, reg, decision, payee)


async def grant(
    session: AsyncSession,
    outbox: Outbox,
    reg: DeathRegistration,
    decision: rules.FuneralBenefitDecision,
    payee: Payee | None,
) -> FuneralBenefit:
    assert decision.kind is not None
    benefit = FuneralBenefit(
        registration_id=reg.id,
        resident_id=reg.resident_id,
        active_resident_id=reg.resident_id,
        kind=decision.kind.value,
        amount_fen=to_fen(decision.amount),
        in_kind=decision.in_kind,
        region_code=reg.region_code,
        basis=decision.reason[:500],
        payee_name=payee.name if payee else None,
        payee_relation=payee.relation if payee else None,
        payee_resident_id=payee.resident_id if payee else None,
        granted_on=datetime.now(UTC).date(),
    )
    session.add(benefit)
    await session.flush()
    await outbox.add(
        session,
        FuneralBenefitGranted(
            resident_id=reg.resident_id,
            death_registration_id=reg.id,
            benefit_id=benefit.id,
            kind=benefit.kind,
            amount=decision.amount,
            in_kind=benefit.in_kind,
            region_code=benefit.region_code,
            basis=benefit.basis,
            payee=payee,
        ),
    )
    return benefit


def _payee_of(b: FuneralBenefit) -> Payee | None:
    if b.payee_name is None or b.payee_relation is None:
        return None
    return Payee(name=b.payee_name, relation=b.payee_relation, resident_id=b.payee_resident_id)


def _reporter_as_payee(reg: DeathRegistration) -> Payee | None:
    if reg.source != rules.DeathSource.FAMILY.value:
        return None
    try:
        own_id: str | None = validate_resident_id(reg.reporter_subject)  # a citizen reported it
    except InvalidResidentId:
        own_id = None  # a caseworker took the family's report
    return Payee(name=reg.reporter_name, relation=reg.reporter_relation, resident_id=own_id)


async def cancel(session: AsyncSession, outbox: Outbox, b: FuneralBenefit, reason: str) -> None:
    b.status, b.active_resident_id = "cancelled", None
    b.cancelled_at, b.cancellation_reason = datetime.now(UTC), reason[:500]
    session.add(b)
    await session.flush()  # the deceased's one active benefit is free again before another is granted
    await outbox.add(
        session,
        FuneralBenefitCancelled(resident_id=b.resident_id, death_registration_id=b.registration_id, benefit_id=b.id,
                                kind=b.kind, amount=from_fen(b.amount_fen), reason=reason[:500]),
    )  # fmt: skip


async def reconsider_after_late_news(session: AsyncSession, outbox: Outbox, resident_id: str) -> None:
    """Assistance's approval (or reinstatement) arrived after the death was registered, and it covers the day of
    death: the benefit decided without it is replaced by the one due (free basic services). Nothing is taken
    away here: a benefit decided on what was known stays unless a better one is due."""
    reg = (
        await session.exec(select(DeathRegistration).where(DeathRegistration.active_resident_id == resident_id))
    ).first()
    if reg is None:
        return
    decision = await decision_for(session, reg)
    if decision.kind is not rules.FuneralBenefitKind.FREE_BASIC_SERVICES:
        return
    current = (
        await session.exec(
            select(FuneralBenefit).where(FuneralBenefit.registration_id == reg.id, FuneralBenefit.status == "granted")
        )
    ).first()
    if current is not None and current.kind == decision.kind.value:
        return
    payee = _payee_of(current) if current is not None else _reporter_as_payee(reg)
    with in_journey(reg.journey_id):
        if current is not None:
            await cancel(session, outbox, current, f"superseded: {decision.reason}")
        await grant(session, outbox, reg, decision, payee)


async def cancel_for_revoked_death(session: AsyncSession, outbox: Outbox, reg: DeathRegistration, reason: str) -> None:
    now = datetime.now(UTC)
    benefits = await session.exec(
        select(FuneralBenefit).where(FuneralBenefit.registration_id == reg.id, FuneralBenefit.status == "granted")
    )
    for b in benefits.all():
        await cancel(session, outbox, b, reason)
    subsidies = await session.exec(
        select(EcoBurialSubsidy).where(EcoBurialSubsidy.registration_id == reg.id, EcoBurialSubsidy.status == "granted")
    )
    for s in subsidies.all():
        s.status, s.active_resident_id, s.cancelled_at, s.cancellation_reason = "cancelled", None, now, reason[:500]
        session.add(s)
        await outbox.add(
            session,
            EcoBurialSubsidyCancelled(resident_id=s.resident_id, death_registration_id=reg.id, subsidy_id=s.id,
                                      amount=from_fen(s.amount_fen), reason=reason[:500]),
        )  # fmt: skip


def already_granted() -> Conflict:
    return Conflict("eco-burial-subsidy-already-granted", "The eco-burial subsidy is granted once per deceased",
                    "this deceased already has an eco-burial subsidy", field="burial_type")  # fmt: skip


@router.post("/{registration_id}/eco-burial-subsidy", status_code=status.HTTP_201_CREATED)
async def grant_eco_burial_subsidy(
    registration_id: str,
    body: EcoBurialSubsidyCreate,
    session: SessionDep,
    outbox: OutboxDep,
    today: Today,
    user: FamilyOrCaseworker,
) -> EcoBurialSubsidyPublic:
    """The family chose an eco burial (sea, tree, lawn, wall, or no ashes kept): the subsidy in force in the
    deceased's region on the day of burial is granted, once, to the family member named."""
    reg = await registration_for_family_action(session, registration_id, user)
    try:
        rules.check_burial_date(body.burial_date, reg.date_of_death, today)
        parameter = rules.eco_burial_subsidy(body.burial_type, reg.region_code, body.burial_date,
                                             await current_policy(session))  # fmt: skip
    except rules.RuleBroken as exc:
        raise Problem(422, exc.kind, "The eco-burial subsidy is refused", exc.detail, field=exc.field) from exc
    taken = await session.exec(select(EcoBurialSubsidy).where(EcoBurialSubsidy.active_resident_id == reg.resident_id))
    if taken.first() is not None:
        raise already_granted()
    subsidy = EcoBurialSubsidy(
        registration_id=reg.id,
        resident_id=reg.resident_id,
        active_resident_id=reg.resident_id,
        burial_type=body.burial_type.value,
        burial_date=body.burial_date,
        amount_fen=to_fen(parameter.value),
        region_code=reg.region_code,
        basis=parameter.cite()[:300],
        payee_name=body.payee.name,
        payee_relation=body.payee.relation,
        payee_resident_id=body.payee.resident_id,
        granted_by=user.subject,
    )
    session.add(subsidy)
    try:
        await session.flush()
    except IntegrityError as exc:  # a request racing this one granted it first
        await session.rollback()
        raise already_granted() from exc
    with in_journey(reg.journey_id):
        await outbox.add(
            session,
            EcoBurialSubsidyGranted(
                resident_id=reg.resident_id,
                death_registration_id=reg.id,
                subsidy_id=subsidy.id,
                burial_type=subsidy.burial_type,
                burial_date=subsidy.burial_date,
                amount=parameter.value,
                region_code=subsidy.region_code,
                payee=Payee(name=body.payee.name, relation=body.payee.relation, resident_id=body.payee.resident_id),
            ),
        )
    await session.commit()
    return EcoBurialSubsidyPublic.of(subsidy, user)


@router.post("/{registration_id}/funeral-benefit/payee")
async def name_funeral_benefit_payee(
    registration_id: str, body: PayeeIn, session: SessionDep, outbox: OutboxDep, user: FamilyOrCaseworker
) -> FuneralBenefitPublic:
    """Name the family member the funeral benefit goes to, when the death was reported by someone who is not paid
    (a hospital, the police, the community). Once named, a payee is not replaced here."""
    reg = await registration_for_family_action(session, registration_id, user)
    benefit = (
        await session.exec(
            select(FuneralBenefit).where(FuneralBenefit.registration_id == reg.id, FuneralBenefit.status == "granted")
        )
    ).first()
    if benefit is None:
        raise Conflict("no-funeral-benefit", "No funeral benefit was granted for this death")
    if benefit.payee_name is not None:
        raise Conflict("payee-already-named", "The payee of this benefit is already named", field="name")
    benefit.payee_name, benefit.payee_relation, benefit.payee_resident_id = body.name, body.relation, body.resident_id
    session.add(benefit)
    with in_journey(reg.journey_id):
        await outbox.add(
            session,
            FuneralBenefitPayeeNamed(resident_id=reg.resident_id, death_registration_id=reg.id, benefit_id=benefit.id,
                                     payee=Payee(name=body.name, relation=body.relation,
                                                 resident_id=body.resident_id)),
        )  # fmt: skip
    await session.commit()
    return FuneralBenefitPublic.of(benefit, user)


@entitlements.get("/entitlements/{resident_id}")
async def read_entitlement(
    resident_id: ResidentId, session: SessionDep, user: CurrentUser, today: Today, on: date | None = None
) -> EntitlementPublic:
    """Whether a person would have the basic funeral services free (救助一件事: assistance's approval makes the
    household entitled), as this service's projection of assistance events says. The person and funeral
    caseworkers may ask; anyone else gets 404."""
    if not (user.is_citizen(resident_id) or sees_everything(user)):
        raise NotFound("person")
    day = on or today
    basis = [d for d in await difficulties_of(session, resident_id) if d.benefit in rules.DIFFICULTY_BENEFITS]
    return EntitlementPublic(
        resident_id=shown(resident_id, user) or "",
        on=day,
        free_basic_funeral_services=any(d.covers(day) for d in basis),
        basis=[
            DifficultyPublic(benefit=d.benefit, case_id=d.case_id, effective_from=d.effective_from,
                             ended_from=d.ended_from)
            for d in basis
        ],
    )  # fmt: skip


@router.get("/{registration_id}/benefits")
async def read_benefits(registration_id: str, session: SessionDep, user: CurrentUser) -> BenefitsPublic:
    """The funeral benefit and the eco-burial subsidy of this registration (cancelled ones too, if revoked)."""
    reg = await visible_registration(session, registration_id, user)
    benefit = (
        await session.exec(
            select(FuneralBenefit)
            .where(FuneralBenefit.registration_id == reg.id)
            .order_by(col(FuneralBenefit.granted_at).desc())
        )
    ).first()
    subsidy = (
        await session.exec(
            select(EcoBurialSubsidy)
            .where(EcoBurialSubsidy.registration_id == reg.id)
            .order_by(col(EcoBurialSubsidy.granted_at).desc())
        )
    ).first()
    return BenefitsPublic(
        death_registration_id=reg.id,
        funeral_benefit=FuneralBenefitPublic.of(benefit, user) if benefit else None,
        eco_burial_subsidy=EcoBurialSubsidyPublic.of(subsidy, user) if subsidy else None,
    )
