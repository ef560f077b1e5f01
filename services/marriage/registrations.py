"""Marriage registration (结婚登记) at any registry office, and reading the register."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, status
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, or_, select

from civic.app import OutboxDep, SessionDep
from civic.auth import CurrentUser, Principal, caseworker_of
from civic.clock import Today
from civic.identity import ResidentId
from civic.problems import Conflict, NotFound, Problem
from contracts.marriage import MarriageRegistered
from services.marriage import records, rules
from services.marriage.models import CurrentSpouse, DeathNotice, Marriage
from services.marriage.policy_store import current_policy
from services.marriage.rules import MaritalStatus
from services.marriage.schemas import DOMAIN, MaritalStatusPublic, MarriageCreate, MarriagePublic, shown

router = APIRouter(tags=["marriage registration"])
Caseworker = Annotated[Principal, Depends(caseworker_of(DOMAIN))]


def refused(exc: rules.RuleBroken) -> Problem:
    return Problem(422, exc.kind, "The registration is refused", exc.detail, field=exc.field)


def already_married(field: str) -> Conflict:
    return Conflict(
        "already-married",
        "Already married",
        "a party is married according to the register (Civil Code art. 1042: no bigamy)",
        field=field,
    )


@router.post("/marriages", status_code=status.HTTP_201_CREATED)
async def register_marriage(
    body: MarriageCreate, session: SessionDep, outbox: OutboxDep, today: Today, user: Caseworker
) -> MarriagePublic:
    """Register a marriage. The office is recorded; the rules are the same at every office (跨省通办)."""
    parties = {"resident_id": body.resident_id, "spouse_resident_id": body.spouse_resident_id}
    try:
        rules.check_two_people(body.resident_id, body.spouse_resident_id)
        if not body.both_present:
            raise rules.RuleBroken(
                "parties-not-present", "both_present", "both parties must appear in person (Civil Code art. 1049)"
            )
        policy = await current_policy(session)
        for field, party in parties.items():
            rules.check_marriageable(party, field, today, policy, body.office_code)
    except rules.RuleBroken as exc:
        raise refused(exc) from exc
    for field, party in parties.items():
        if await session.get(CurrentSpouse, party) is not None:
            raise already_married(field)
        dead = await session.exec(
            select(DeathNotice).where(DeathNotice.deceased_resident_id == party, col(DeathNotice.revoked_at).is_(None))
        )
        if dead.first() is not None:
            raise Conflict("party-deceased", "A party's death is registered", field=field)
    before = {p: (await records.status_of(session, p)).status for p in parties.values()}
    earlier = await session.exec(
        select(Marriage).where(
            Marriage.status == "divorced",
            or_(Marriage.resident_id == body.resident_id, Marriage.spouse_resident_id == body.resident_id),
            or_(
                Marriage.resident_id == body.spouse_resident_id, Marriage.spouse_resident_id == body.spouse_resident_id
            ),
        )
    )
    marriage = Marriage(
        resident_id=body.resident_id,
        name=body.name,
        spouse_resident_id=body.spouse_resident_id,
        spouse_name=body.spouse_name,
        registered_on=today,
        office_code=body.office_code,
        both_present=body.both_present,
        remarriage=earlier.first() is not None,
        registered_by=user.subject,
    )
    session.add(marriage)
    certificates = [records.new_certificate("marriage", marriage, p, body.office_code, today) for p in parties.values()]
    session.add_all([CurrentSpouse(resident_id=p, marriage_id=marriage.id) for p in parties.values()])
    session.add_all(certificates)
    cause = MarriageRegistered.type_name
    await outbox.add(
        session,
        MarriageRegistered(
            resident_id=body.resident_id,
            registration_id=marriage.id,
            spouse_resident_id=body.spouse_resident_id,
            registered_on=today,
        ),
        *(
            records.status_changed(p, MaritalStatus.MARRIED, before[p], today, marriage, cause)
            for p in parties.values()
        ),
    )
    try:
        await session.commit()
    except IntegrityError as exc:
        # Another registration for one of them committed between our check and our insert.
        await session.rollback()
        raise already_married("resident_id") from exc
    return MarriagePublic.of(marriage, certificates, user)


@router.get("/marriages/{marriage_id}")
async def read_marriage(marriage_id: str, session: SessionDep, user: CurrentUser) -> MarriagePublic:
    marriage = await records.visible_marriage(session, marriage_id, user)
    return MarriagePublic.of(marriage, await records.certificates_of(session, marriage.id), user)


@router.get("/people/{resident_id}/marital-status")
async def read_marital_status(resident_id: ResidentId, session: SessionDep, user: CurrentUser) -> MaritalStatusPublic:
    """What the register says about one person. Citizens ask about themselves only (404 for anyone else)."""
    if not user.may_read_person(resident_id, DOMAIN):
        raise NotFound("person")
    view = await records.status_of(session, resident_id)
    pending = None
    if view.status is MaritalStatus.MARRIED and view.marriage is not None:
        divorce = await records.pending_divorce(session, view.marriage.id)
        pending = divorce.id if divorce else None
    return MaritalStatusPublic(
        resident_id=shown(resident_id, user),
        status=view.status,
        since=view.since,
        marriage_registration_id=view.marriage.id if view.marriage else None,
        spouse_resident_id=shown(view.marriage.other_party(resident_id), user) if view.marriage else None,
        pending_divorce_id=pending,
    )
