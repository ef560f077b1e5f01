"""Death registration (死亡登记), the first step of 身后一件事, and its revocation when made in error.

A death is registered once. Further reports of the same person are recorded against the registration and
publish nothing; a report that disagrees on the facts (another date of death, another certificate) flags the
registration for a caseworker instead of changing it. The first registration of a person wins even when two
reports race: the database allows one standing registration per person (``active_resident_id``).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from fastapi import APIRouter, Query, Response, status
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from civic.app import OutboxDep, SessionDep
from civic.auth import CurrentUser, Principal, Role
from civic.clock import Today
from civic.events import current_correlation_id
from civic.identity import ResidentId
from civic.outbox import Outbox
from civic.problems import Conflict, NotFound, Problem
from contracts.funeral import DeathRegistered, DeathRevoked, Payee, Reporter
from services.funeral import benefits, facilities, rules
from services.funeral.access import (
    Caseworker,
    FamilyOrCaseworker,
    Staff,
    in_journey,
    sees_everything,
    visible_registration,
)
from services.funeral.models import DeathRegistration, DeathReport
from services.funeral.schemas import (
    DeathRegistrationCreate,
    DeathRegistrationPublic,
    DeathReportPublic,
    ReviewResolution,
    Revocation,
)

router = APIRouter(prefix="/deaths", tags=["death registration"])


def refused(exc: rules.RuleBroken) -> Problem:
    return Problem(422, exc.kind, "The request is refused", exc.detail, field=exc.field)


def check_reporter(body: DeathRegistrationCreate, user: Principal) -> rules.DeathSource:
    source = rules.source_of(body.reported_by.relation, body.source)
    if user.role is Role.CITIZEN:
        if user.subject == body.resident_id:
            raise Problem(422, "reporter-is-deceased", "A person cannot report their own death", field="resident_id")
        if source is not rules.DeathSource.FAMILY:
            raise Problem(422, "source-not-allowed", "Citizens report deaths as family",
                          "hospitals, the police, communities and funeral homes report through a caseworker",
                          field="source")  # fmt: skip
    return source


def benefit_payee(body: DeathRegistrationCreate, source: rules.DeathSource, user: Principal) -> Payee | None:
    """Who the funeral benefit goes to: the family member named, else the relative who reported the death."""
    if body.benefit_payee is not None:
        return Payee(name=body.benefit_payee.name, relation=body.benefit_payee.relation,
                     resident_id=body.benefit_payee.resident_id)  # fmt: skip
    if source is rules.DeathSource.FAMILY:
        own_id = user.subject if user.role is Role.CITIZEN else None
        return Payee(name=body.reported_by.name, relation=body.reported_by.relation, resident_id=own_id)
    return None


def new_report(body: DeathRegistrationCreate, source: rules.DeathSource, user: Principal, reg_id: str) -> DeathReport:
    return DeathReport(
        registration_id=reg_id,
        outcome="registered",
        source=source.value,
        date_of_death=body.date_of_death,
        place_of_death=body.place_of_death,
        medical_certificate_number=body.medical_certificate_number,
        reporter_name=body.reported_by.name,
        reporter_relation=body.reported_by.relation,
        reporter_subject=user.subject,
    )


async def standing_registration(session: AsyncSession, resident_id: str) -> DeathRegistration | None:
    found = await session.exec(select(DeathRegistration).where(DeathRegistration.active_resident_id == resident_id))
    return found.first()


@router.post("", status_code=status.HTTP_201_CREATED)
async def report_death(
    body: DeathRegistrationCreate,
    session: SessionDep,
    outbox: OutboxDep,
    today: Today,
    user: FamilyOrCaseworker,
    response: Response,
) -> DeathRegistrationPublic:
    """Report a death. The first report registers it and starts 身后一件事 (201); a further report of the same
    person answers with the existing registration (200) and publishes nothing."""
    source = check_reporter(body, user)
    try:
        rules.check_date_of_death(body.resident_id, body.date_of_death, today)
    except rules.ImpossibleDeathDate as exc:
        raise Problem(422, "impossible-date", "Impossible date of death", str(exc), field="date_of_death") from exc
    existing = await standing_registration(session, body.resident_id)
    if existing is None:
        try:
            reg, report = await register(session, outbox, body, source, user)
            return DeathRegistrationPublic.of(reg, report)
        except IntegrityError:
            # Another report of the same person registered it between our read and our write: theirs stands.
            await session.rollback()
            existing = await standing_registration(session, body.resident_id)
            if existing is None:
                raise
    response.status_code = status.HTTP_200_OK
    report = await record_further_report(session, existing, body, source, user)
    return DeathRegistrationPublic.of(existing, report)


async def register(
    session: AsyncSession, outbox: Outbox, body: DeathRegistrationCreate, source: rules.DeathSource, user: Principal
) -> tuple[DeathRegistration, DeathReport]:
    journey_id = current_correlation_id.get() or str(uuid.uuid4())
    reg = DeathRegistration(
        resident_id=body.resident_id,
        active_resident_id=body.resident_id,
        name=body.name,
        date_of_death=body.date_of_death,
        place_of_death=body.place_of_death,
        region_code=body.region_code or rules.region_of_resident(body.resident_id),
        source=source.value,
        medical_certificate_number=body.medical_certificate_number,
        reporter_name=body.reported_by.name,
        reporter_relation=body.reported_by.relation,
        reporter_subject=user.subject,
        journey_id=journey_id,
    )
    session.add(reg)
    await session.flush()  # the unique person check happens here, before anything is published
    report = new_report(body, source, user, reg.id)
    session.add(report)
    with in_journey(journey_id):
        await outbox.add(
            session,
            DeathRegistered(
                resident_id=reg.resident_id,
                registration_id=reg.id,
                date_of_death=reg.date_of_death,
                registered_at=reg.registered_at,
                reported_by=Reporter(name=reg.reporter_name, relation=reg.reporter_relation),
                source=reg.source,
                place_of_death=reg.place_of_death,
                region_code=reg.region_code,
            ),
        )
        # Granted here, in the registration's transaction, rather than by consuming our own event: the decision
        # needs nothing but this service's data, and one transaction makes "registered" and "decided" one fact.
        await benefits.decide_funeral_benefit(session, outbox, reg, benefit_payee(body, source, user))
    await session.commit()
    return reg, report


async def record_further_report(
    session: AsyncSession,
    reg: DeathRegistration,
    body: DeathRegistrationCreate,
    source: rules.DeathSource,
    user: Principal,
) -> DeathReport:
    match, differences = rules.compare_reports(
        rules.ReportedFacts(reg.date_of_death, reg.medical_certificate_number),
        rules.ReportedFacts(body.date_of_death, body.medical_certificate_number),
    )
    report = new_report(body, source, user, reg.id)
    report.outcome, report.differences = match.value, ",".join(differences)
    session.add(report)
    if match is rules.ReportMatch.CONFLICTING:
        reg.needs_review = True
        session.add(reg)
    elif reg.medical_certificate_number is None and body.medical_certificate_number is not None:
        reg.medical_certificate_number = body.medical_certificate_number  # the hospital's report completes it
        session.add(reg)
    await session.commit()
    return report


@router.get("")
async def list_registrations(
    session: SessionDep,
    user: CurrentUser,
    resident_id: ResidentId | None = None,
    needs_review: bool | None = None,
    limit: int = Query(default=100, ge=1, le=500),
) -> list[DeathRegistrationPublic]:
    """Caseworkers and auditors search every registration (``needs_review=true`` is the caseworker's queue);
    a citizen gets the registrations of the deaths they reported."""
    query = select(DeathRegistration)
    if not sees_everything(user):
        if user.role is not Role.CITIZEN:
            return []
        mine = select(DeathReport.registration_id).where(DeathReport.reporter_subject == user.subject)
        query = query.where(col(DeathRegistration.id).in_(mine))
    if resident_id is not None:
        query = query.where(DeathRegistration.resident_id == resident_id)
    if needs_review is not None:
        query = query.where(DeathRegistration.needs_review == needs_review)
    query = query.order_by(col(DeathRegistration.registered_at).desc()).limit(limit)
    return [DeathRegistrationPublic.of(r) for r in (await session.exec(query)).all()]


@router.get("/{registration_id}")
async def read_death_registration(
    registration_id: str, session: SessionDep, user: CurrentUser
) -> DeathRegistrationPublic:
    return DeathRegistrationPublic.of(await visible_registration(session, registration_id, user))


@router.get("/{registration_id}/reports")
async def read_reports(registration_id: str, session: SessionDep, user: Staff) -> list[DeathReportPublic]:
    """Every report of this death: the one that registered it, the same death again, and disagreeing ones."""
    reg = await visible_registration(session, registration_id, user)
    reports = await session.exec(
        select(DeathReport).where(DeathReport.registration_id == reg.id).order_by(col(DeathReport.reported_at))
    )
    return [DeathReportPublic.of(r) for r in reports.all()]


@router.post("/{registration_id}/review")
async def resolve_review(
    registration_id: str, body: ReviewResolution, session: SessionDep, user: Caseworker
) -> DeathRegistrationPublic:
    """The caseworker keeps the registration as it is; the disagreeing reports are marked as looked at."""
    reg = await session.get(DeathRegistration, registration_id)
    if reg is None:
        raise NotFound("death registration")
    if not reg.needs_review:
        raise Conflict("nothing-to-review", "No report disagrees with this registration")
    now = datetime.now(UTC)
    open_reports = await session.exec(
        select(DeathReport).where(
            DeathReport.registration_id == reg.id,
            DeathReport.outcome == rules.ReportMatch.CONFLICTING.value,
            col(DeathReport.resolved_at).is_(None),
        )
    )
    for report in open_reports.all():
        report.resolved_at, report.resolved_by, report.resolution = now, user.subject, body.resolution
        session.add(report)
    reg.needs_review = False
    session.add(reg)
    await session.commit()
    return DeathRegistrationPublic.of(reg)


@router.post("/{registration_id}/revocation")
async def revoke_death(
    registration_id: str, body: Revocation, session: SessionDep, outbox: OutboxDep, user: Caseworker
) -> DeathRegistrationPublic:
    """Revoke a death registered in error. Every department undoes its part on the published event; here the
    funeral benefit and the eco-burial subsidy are cancelled, bookings cancelled and a grave released. The person
    may be registered again later."""
    reg = await session.get(DeathRegistration, registration_id)
    if reg is None:
        raise NotFound("death registration")
    if reg.status == "revoked":
        raise Conflict("already-revoked", "This death registration is already revoked",
                       f"revoked at {reg.revoked_at}")  # fmt: skip
    now = datetime.now(UTC)
    reg.status, reg.active_resident_id = "revoked", None
    reg.revoked_at, reg.revoked_by, reg.revocation_reason = now, user.subject, body.reason
    session.add(reg)
    reason = f"death registration {reg.id} revoked: {body.reason}"
    with in_journey(reg.journey_id):
        await outbox.add(
            session,
            DeathRevoked(resident_id=reg.resident_id, registration_id=reg.id, reason=body.reason, revoked_at=now),
        )
        await benefits.cancel_for_revoked_death(session, outbox, reg, reason)
        await facilities.undo_for_revoked_death(session, outbox, reg, reason)
    await session.commit()
    return DeathRegistrationPublic.of(reg)
