"""Divorce by agreement (协议离婚, Civil Code art. 1077) as a state machine:

pending (cooling-off) --withdrawal by either party, until day 30--> withdrawn
pending --both apply for the certificate, days 31..60--> registered
pending --nobody came by day 60--> deemed-withdrawn   (the expiry job, or its endpoint)

Days 30 and 60 are moved to the next working day when they are rest days (``rules.divorce_timeline``). The
deadlines are computed with the holiday calendar when the application is received, stored, and announced in
``DivorceApplied``. If calendar rows are added later (the next year's notice is published after an application
whose window reaches into that year), the stored deadlines are not rewritten, but every decision and every read
takes the later of each stored deadline and the one computed again on today's calendar (``DivorceTimeline.
at_least``): a new holiday can only lengthen a period, and a deadline once announced is never shortened.
"""

from __future__ import annotations

import logging
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, status
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from civic.app import OutboxDep, SessionDep
from civic.auth import CurrentUser, Principal, Role, caseworker_of, require
from civic.clock import Today, clock_of
from civic.outbox import Outbox
from civic.problems import Conflict, NotFound, Problem
from civic.schedule import periodic
from contracts.marriage import (
    DivorceApplicationDeemedWithdrawn,
    DivorceApplicationWithdrawn,
    DivorceApplied,
    DivorceRegistered,
)
from services.marriage import records, rules
from services.marriage.models import CurrentSpouse, Divorce, Marriage
from services.marriage.policy_store import current_calendar, current_policy
from services.marriage.rules import DivorceTimeline, MaritalStatus
from services.marriage.schemas import (
    DOMAIN,
    DivorceCertificateRequest,
    DivorceCreate,
    DivorcePublic,
    DivorceWithdrawal,
    ExpiryRun,
)

log = logging.getLogger("civic.marriage.divorces")
router = APIRouter(prefix="/divorces", tags=["divorce by agreement"])
Caseworker = Annotated[Principal, Depends(caseworker_of(DOMAIN))]
Scheduler = Annotated[Principal, Depends(require(Role.CASEWORKER, Role.OPERATOR, domain=DOMAIN))]
EXPIRY_INTERVAL_S = 3600.0  # the job is date-based: running it hourly is enough to act on the day after the window


_years_without_calendar: set[int] = set()  # warned about once per process


def stored_timeline(d: Divorce) -> DivorceTimeline:
    return DivorceTimeline(
        d.applied_on, d.last_day_to_withdraw, d.first_day_for_certificate, d.last_day_for_certificate
    )


async def computed_timeline(session: AsyncSession, applied_on: date, office_code: str) -> DivorceTimeline:
    """The deadlines on today's policy and holiday calendar; a deadline year missing from the calendar is
    logged once (its rest days are weekends only until its notice is loaded)."""
    calendar = await current_calendar(session)
    timeline = rules.divorce_timeline(applied_on, await current_policy(session), office_code, calendar)
    for year in sorted({timeline.last_day_to_withdraw.year, timeline.last_day_for_certificate.year}):
        if not calendar.covers(year) and year not in _years_without_calendar:
            _years_without_calendar.add(year)
            log.warning(
                "the holiday calendar has no rows for %d: divorce deadlines in it move past weekends only; "
                "add the State Council's notice for %d to policy/holidays.csv",
                year,
                year,
            )
    return timeline


async def timeline_of(session: AsyncSession, d: Divorce) -> DivorceTimeline:
    """The stored deadlines, or later ones if the calendar gained rest days since (never earlier ones)."""
    return stored_timeline(d).at_least(await computed_timeline(session, d.applied_on, d.office_code))


def refused(exc: rules.RuleBroken) -> Problem:
    return Problem(422, exc.kind, "Not allowed by the divorce rules", exc.detail, field=exc.field)


async def marriage_of(session: AsyncSession, divorce: Divorce) -> Marriage:
    marriage = await session.get(Marriage, divorce.marriage_id)
    assert marriage is not None
    return marriage


async def visible_divorce(session: AsyncSession, divorce_id: str, viewer: Principal) -> tuple[Divorce, Marriage]:
    divorce = await session.get(Divorce, divorce_id)
    if divorce is None:
        raise NotFound("divorce application")
    marriage = await marriage_of(session, divorce)
    if not records.may_see_marriage(viewer, marriage):
        raise NotFound("divorce application")
    return divorce, marriage


def pending(divorce: Divorce) -> None:
    if divorce.status != "pending":
        raise Conflict("divorce-not-pending", "The application is closed", f"its status is {divorce.status}")


@router.post("", status_code=status.HTTP_201_CREATED)
async def apply_for_divorce(
    body: DivorceCreate, session: SessionDep, outbox: OutboxDep, today: Today, user: Caseworker
) -> DivorcePublic:
    """Both parties apply together; the cooling-off period starts the next day."""
    try:
        rules.check_two_people(body.resident_id, body.spouse_resident_id)
    except rules.RuleBroken as exc:
        raise refused(exc) from exc
    current = await session.get(CurrentSpouse, body.resident_id)
    marriage = await session.get(Marriage, current.marriage_id) if current else None
    if marriage is None or marriage.other_party(body.resident_id) != body.spouse_resident_id:
        raise Problem(
            422,
            "not-married-to-each-other",
            "Not married to each other",
            "only the two parties of a current marriage can apply for its divorce",
            field="spouse_resident_id",
        )
    if await records.pending_divorce(session, marriage.id) is not None:
        raise Conflict("divorce-already-pending", "A divorce application is already pending", field="resident_id")
    timeline = await computed_timeline(session, today, body.office_code)
    divorce = Divorce(
        marriage_id=marriage.id,
        pending_marriage_id=marriage.id,
        office_code=body.office_code,
        applied_on=today,
        last_day_to_withdraw=timeline.last_day_to_withdraw,
        first_day_for_certificate=timeline.first_day_for_certificate,
        last_day_for_certificate=timeline.last_day_for_certificate,
        recorded_by=user.subject,
    )
    session.add(divorce)
    await outbox.add(
        session,
        DivorceApplied(
            resident_id=body.resident_id,
            spouse_resident_id=body.spouse_resident_id,
            divorce_id=divorce.id,
            marriage_registration_id=marriage.id,
            applied_on=today,
            last_day_to_withdraw=timeline.last_day_to_withdraw,
            last_day_for_certificate=timeline.last_day_for_certificate,
        ),
    )
    try:
        await session.commit()
    except IntegrityError as exc:
        await session.rollback()
        raise Conflict(
            "divorce-already-pending", "A divorce application is already pending", field="resident_id"
        ) from exc
    return DivorcePublic.of(divorce, user, timeline=timeline)


@router.get("/{divorce_id}")
async def read_divorce(divorce_id: str, session: SessionDep, user: CurrentUser) -> DivorcePublic:
    divorce, marriage = await visible_divorce(session, divorce_id, user)
    certificates = [c for c in await records.certificates_of(session, marriage.id) if c.divorce_id == divorce.id]
    return DivorcePublic.of(divorce, user, certificates, await timeline_of(session, divorce))


@router.post("/{divorce_id}/withdrawal")
async def withdraw_divorce_application(
    divorce_id: str, body: DivorceWithdrawal, session: SessionDep, outbox: OutboxDep, today: Today, user: CurrentUser
) -> DivorcePublic:
    """Either party alone may withdraw during the cooling-off period: at the office, or a citizen themselves."""
    if not (user.is_caseworker_of(DOMAIN) or user.is_citizen(body.resident_id)):
        raise NotFound("divorce application")
    divorce, marriage = await visible_divorce(session, divorce_id, user)
    if body.resident_id not in marriage.parties():
        raise Problem(
            422,
            "not-a-party",
            "Not a party to the application",
            "only one of the two spouses can withdraw the application",
            field="resident_id",
        )
    pending(divorce)
    timeline = await timeline_of(session, divorce)
    try:
        rules.check_withdrawal(timeline, today)
    except rules.RuleBroken as exc:
        raise refused(exc) from exc
    divorce.status, divorce.closed_on, divorce.withdrawn_by = "withdrawn", today, body.resident_id
    divorce.pending_marriage_id = None
    session.add(divorce)
    await outbox.add(
        session,
        DivorceApplicationWithdrawn(
            resident_id=body.resident_id,
            spouse_resident_id=marriage.other_party(body.resident_id),
            divorce_id=divorce.id,
            marriage_registration_id=marriage.id,
            withdrawn_on=today,
        ),
    )
    await session.commit()
    return DivorcePublic.of(divorce, user, timeline=timeline)


@router.post("/{divorce_id}/certificate")
async def register_divorce(
    divorce_id: str,
    body: DivorceCertificateRequest,
    session: SessionDep,
    outbox: OutboxDep,
    today: Today,
    user: Caseworker,
) -> DivorcePublic:
    """Both parties came back within the window: the divorce is registered and each gets a certificate."""
    divorce, marriage = await visible_divorce(session, divorce_id, user)
    pending(divorce)
    timeline = await timeline_of(session, divorce)
    try:
        rules.check_certificate_request(timeline, today)
        if not body.both_present:
            raise rules.RuleBroken(
                "parties-not-present",
                "both_present",
                "both parties must apply for the certificate in person (Civil Code art. 1077)",
            )
    except rules.RuleBroken as exc:
        raise refused(exc) from exc
    divorce.status, divorce.closed_on, divorce.pending_marriage_id = "registered", today, None
    marriage.status, marriage.ended_on, marriage.ended_by = "divorced", today, divorce.id
    session.add_all([divorce, marriage])
    for party in marriage.parties():
        spouse_row = await session.get(CurrentSpouse, party)
        if spouse_row is not None:
            await session.delete(spouse_row)
    certificates = [
        records.new_certificate("divorce", marriage, p, divorce.office_code, today, divorce.id)
        for p in marriage.parties()
    ]
    session.add_all(certificates)
    cause = DivorceRegistered.type_name
    await outbox.add(
        session,
        DivorceRegistered(
            resident_id=marriage.resident_id,
            spouse_resident_id=marriage.spouse_resident_id,
            registration_id=divorce.id,
            registered_on=today,
            marriage_registration_id=marriage.id,
        ),
        *(
            records.status_changed(p, MaritalStatus.DIVORCED, MaritalStatus.MARRIED, today, marriage, cause)
            for p in marriage.parties()
        ),
    )
    await session.commit()
    return DivorcePublic.of(divorce, user, certificates, timeline)


async def deem_lapsed_applications_withdrawn(session: AsyncSession, outbox: Outbox, today: date) -> list[str]:
    """Every pending application whose certificate window closed before ``today`` is deemed withdrawn.

    Safe to run twice, even at once: each application is closed by a conditional update, and only the run whose
    update changed the row publishes. It catches up after downtime because it looks at dates, not at timers. An
    application whose window was lengthened by calendar rows added after it was received waits for its later end.
    """
    lapsed = await session.exec(
        select(Divorce).where(Divorce.status == "pending", col(Divorce.last_day_for_certificate) < today)
    )
    closed: list[str] = []
    for divorce in list(lapsed.all()):
        timeline = await timeline_of(session, divorce)
        if timeline.phase(today) is not rules.DivorcePhase.LAPSED:
            continue
        result = await session.exec(
            update(Divorce)
            .where(col(Divorce.id) == divorce.id, col(Divorce.status) == "pending")
            .values(status="deemed-withdrawn", closed_on=today, pending_marriage_id=None)
        )
        if result.rowcount != 1:
            continue
        marriage = await marriage_of(session, divorce)
        await outbox.add(
            session,
            DivorceApplicationDeemedWithdrawn(
                resident_id=marriage.resident_id,
                spouse_resident_id=marriage.spouse_resident_id,
                divorce_id=divorce.id,
                marriage_registration_id=marriage.id,
                last_day_for_certificate=timeline.last_day_for_certificate,
            ),
        )
        closed.append(divorce.id)
    await session.commit()
    return closed


@router.post("/expiry")
async def run_expiry(session: SessionDep, outbox: OutboxDep, today: Today, user: Scheduler) -> ExpiryRun:
    """Run the deadline job now (it also runs at start-up and every hour)."""
    return ExpiryRun(today=today, deemed_withdrawn=await deem_lapsed_applications_withdrawn(session, outbox, today))


async def deem_lapsed_applications_withdrawn_today(app: FastAPI) -> None:
    service = app.state.service
    clock = clock_of(app)
    async with service.sessions() as session:
        closed = await deem_lapsed_applications_withdrawn(session, service.outbox, clock())
    if closed:
        log.info("%d lapsed divorce applications deemed withdrawn", len(closed))


# A start-up resource: the expiry job at start (catching up on downtime), then every hour.
expiry_schedule = periodic("divorce-expiry", deem_lapsed_applications_withdrawn_today, EXPIRY_INTERVAL_S)
