"""The naming workflow over HTTP: proposal → expert opinions → public notice (objections) → decision → effect.

Naming, renaming and cancelling are one workflow (``action``). Routes are thin: the rules say yes or no, the
workflow module applies an effective decision.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, status
from sqlalchemy import func
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from civic.app import OutboxDep, SessionDep
from civic.auth import CurrentUser, Principal, caseworker_of
from civic.clock import Today
from civic.events import Event
from civic.problems import Conflict, NotFound, Problem
from contracts.placenames import NameProposalRejected, NameProposed, NamePublicNoticeStarted
from services.placenames import rules, workflow
from services.placenames.divisions import refused
from services.placenames.models import ExpertOpinion, NamingCase, Objection, Place, ProtectedName
from services.placenames.rules import Action, CaseStatus
from services.placenames.schemas import (
    DOMAIN,
    CasePublic,
    DeadlineRun,
    DecisionCreate,
    ObjectionCreate,
    ObjectionPublic,
    OpinionCreate,
    OpinionPublic,
    ProposalCreate,
)
from services.placenames.search import index_name
from services.placenames.store import current_policy, division_versions

router = APIRouter(tags=["naming workflow"])
Caseworker = Annotated[Principal, Depends(caseworker_of(DOMAIN))]


def missing(field: str, action: Action) -> Problem:
    return Problem(
        422, "field-required", "The proposal is incomplete", f"a {action} proposal needs {field}", field=field
    )


async def holder_of(session: AsyncSession, region_code: str, key: str) -> str | None:
    row = await session.exec(select(Place.code).where(Place.region_code == region_code, Place.name_in_use == key))
    return row.first()


async def is_protected(session: AsyncSession, place: Place) -> bool:
    row = await session.exec(
        select(ProtectedName.id).where(
            (col(ProtectedName.place_code) == place.code)
            | (
                (col(ProtectedName.region_code) == place.region_code)
                & (col(ProtectedName.name_key) == place.name_in_use)
            )
        )
    )
    return row.first() is not None


async def case_view(session: AsyncSession, case: NamingCase) -> CasePublic:
    opinions = (await session.exec(select(ExpertOpinion).where(ExpertOpinion.case_id == case.id))).all()
    objections = (await session.exec(select(Objection).where(Objection.case_id == case.id))).all()
    return CasePublic(
        **case.model_dump(exclude={"open_for", "proposed_key", "proposed_by", "decided_by"}),
        opinions=[OpinionPublic(**o.model_dump()) for o in opinions],
        objections=[ObjectionPublic(text=o.text, received_on=o.received_on) for o in objections],  # objector kept back
    )


async def case_of(session: AsyncSession, case_id: str) -> NamingCase:
    case = await session.get(NamingCase, case_id)
    if case is None:
        raise NotFound("naming case")
    return case


async def new_place(session: AsyncSession, body: ProposalCreate, today_tree: set[str]) -> Place:
    if body.place_code is not None:
        raise Problem(
            422, "field-not-allowed", "A new name names a new place", "leave place_code out", field="place_code"
        )
    for field in ("kind", "division_code", "name", "pinyin"):
        if getattr(body, field) is None:
            raise missing(field, body.action)
    assert body.kind and body.division_code and body.name and body.pinyin
    if body.division_code not in today_tree:
        raise Problem(
            422,
            "unknown-division",
            "No such division",
            f"no division {body.division_code} today",
            field="division_code",
        )
    region = body.division_code[:6]
    code = f"{region}-{body.kind.value[0].upper()}{uuid.uuid4().hex[:10]}"
    _, pinyin_key = rules.check_name(body.name, body.pinyin)
    return Place(
        code=code,
        kind=body.kind.value,
        region_code=region,
        division_code=body.division_code,
        name=body.name,
        pinyin=body.pinyin,
        pinyin_key=pinyin_key,
        initials=rules.initials(body.pinyin),
        origin=body.origin,
    )


@router.post("/naming-cases", status_code=status.HTTP_201_CREATED)
async def propose(
    body: ProposalCreate, session: SessionDep, outbox: OutboxDep, today: Today, user: Caseworker
) -> CasePublic:
    """Open a naming case. A name already standard in the county-level division is refused at once."""
    try:
        if body.action is Action.NAME:
            tree = rules.as_of(await division_versions(session), today)
            place = await new_place(session, body, set(tree))
            session.add(place)
            await index_name(session, place.code, place.name)
        else:
            if body.place_code is None:
                raise missing("place_code", body.action)
            found = await session.get(Place, body.place_code)
            if found is None or found.status != "standard":
                raise Problem(
                    422,
                    "no-such-standard-name",
                    "No standard name to change",
                    f"{body.place_code} bears no standard name",
                    field="place_code",
                )
            place = found
            rules.check_not_protected(place.name, await is_protected(session, place))
            if body.action is Action.RENAME:
                if body.name is None or body.pinyin is None:
                    raise missing("name" if body.name is None else "pinyin", body.action)
                rules.check_name(body.name, body.pinyin)
        key = rules.name_key(body.name) if body.action is not Action.CANCEL and body.name else None
        if key is not None:
            rules.check_not_standard_already(
                body.name or "", place.region_code, await holder_of(session, place.region_code, key)
            )
    except rules.RuleBroken as exc:
        raise refused(exc, "The proposal is refused") from exc
    if key is not None:
        rival = await session.exec(
            select(NamingCase.id).where(
                NamingCase.region_code == place.region_code,
                NamingCase.proposed_key == key,
                col(NamingCase.status).in_([s.value for s in rules.OPEN_STATUSES]),
            )
        )
        if (rival_id := rival.first()) is not None:
            raise Conflict(
                "name-already-proposed",
                "The name is proposed in another open case",
                f"case {rival_id} proposes this name in {place.region_code}",
                field="name",
            )
    case = NamingCase(
        action=body.action.value,
        place_code=place.code,
        open_for=place.code,
        kind=place.kind,
        region_code=place.region_code,
        division_code=place.division_code,
        proposed_name=body.name if body.action is not Action.CANCEL else None,
        proposed_key=key,
        pinyin=body.pinyin if body.action is not Action.CANCEL else None,
        origin=body.origin,
        reason=body.reason,
        proposed_by=user.subject,
        proposed_on=today,
    )
    session.add(case)
    await outbox.add(
        session,
        NameProposed(
            place_code=place.code,
            case_id=case.id,
            action=case.action,
            kind=case.kind,
            region_code=case.region_code,
            division_code=case.division_code,
            proposed_name=case.proposed_name,
            proposed_on=today,
        ),
    )
    try:
        await session.commit()
    except IntegrityError as exc:
        await session.rollback()
        raise Conflict("case-already-open", "A naming case for this place is open", field="place_code") from exc
    return await case_view(session, case)


@router.get("/naming-cases")
async def list_cases(
    session: SessionDep, user: CurrentUser, status: CaseStatus | None = None, region_code: str | None = None
) -> list[CasePublic]:
    """Naming cases: public, since the public notice is (objections are shown without who made them)."""
    query = select(NamingCase).order_by(col(NamingCase.proposed_on).desc()).limit(200)
    if status is not None:
        query = query.where(NamingCase.status == status.value)
    if region_code is not None:
        query = query.where(NamingCase.region_code == region_code)
    return [await case_view(session, c) for c in (await session.exec(query)).all()]


@router.get("/naming-cases/{case_id}")
async def read_case(case_id: str, session: SessionDep, user: CurrentUser) -> CasePublic:
    return await case_view(session, await case_of(session, case_id))


@router.post("/naming-cases/{case_id}/opinions", status_code=status.HTTP_201_CREATED)
async def record_opinion(
    case_id: str, body: OpinionCreate, session: SessionDep, today: Today, user: Caseworker
) -> CasePublic:
    """An expert's opinion (专家论证), recorded while the case is under review."""
    case = await case_of(session, case_id)
    try:
        rules.check_status(CaseStatus(case.status), [CaseStatus.PROPOSED], "record an expert opinion")
    except rules.RuleBroken as exc:
        raise refused(exc) from exc
    session.add(ExpertOpinion(case_id=case.id, **body.model_dump(), recorded_on=today, recorded_by=user.subject))
    await session.commit()
    return await case_view(session, case)


@router.post("/naming-cases/{case_id}/notice")
async def start_public_notice(
    case_id: str, session: SessionDep, outbox: OutboxDep, today: Today, user: Caseworker
) -> CasePublic:
    """Put the proposal on public notice (公示) for the number of days policy sets for the region."""
    case = await case_of(session, case_id)
    policy = await current_policy(session)
    opinions = (await session.exec(select(func.count()).where(ExpertOpinion.case_id == case.id))).one()
    try:
        required = policy.value("naming_expert_opinions_required", case.region_code, today)
        rules.check_notice_may_start(CaseStatus(case.status), int(opinions), required)
    except rules.RuleBroken as exc:
        raise refused(exc) from exc
    period = rules.notice_period(today, policy.value("naming_notice_days", case.region_code, today))
    case.status, case.notice_from, case.notice_until = CaseStatus.IN_NOTICE.value, period.first_day, period.last_day
    session.add(case)
    await outbox.add(
        session,
        NamePublicNoticeStarted(
            place_code=case.place_code,
            case_id=case.id,
            action=case.action,
            proposed_name=case.proposed_name,
            notice_from=period.first_day,
            notice_until=period.last_day,
        ),
    )
    await session.commit()
    return await case_view(session, case)


def period_of(case: NamingCase) -> rules.NoticePeriod | None:
    if case.notice_from is None or case.notice_until is None:
        return None
    return rules.NoticePeriod(case.notice_from, case.notice_until)


@router.post("/naming-cases/{case_id}/objections", status_code=status.HTTP_201_CREATED)
async def object_to_proposal(
    case_id: str, body: ObjectionCreate, session: SessionDep, today: Today, user: CurrentUser
) -> CasePublic:
    """Anyone may object while the notice runs, its last day included."""
    case = await case_of(session, case_id)
    try:
        rules.check_objection_allowed(CaseStatus(case.status), period_of(case), today)
    except rules.RuleBroken as exc:
        raise refused(exc, "The objection is refused") from exc
    session.add(Objection(case_id=case.id, objector=user.subject, text=body.text, received_on=today))
    await session.commit()
    return await case_view(session, case)


@router.post("/naming-cases/{case_id}/decision")
async def decide(
    case_id: str, body: DecisionCreate, session: SessionDep, outbox: OutboxDep, today: Today, user: Caseworker
) -> CasePublic:
    """Approve or reject, with reasons, once the notice is over. An approval takes effect on ``effective_on``
    (today by default; a later day is applied by the deadline job)."""
    case = await case_of(session, case_id)
    objections = (await session.exec(select(func.count()).where(Objection.case_id == case.id))).one()
    try:
        rules.check_decision_allowed(CaseStatus(case.status), period_of(case), today)
        rules.check_reasons(body.approved, body.reasons, int(objections))
        effective_on = rules.effective_date(today, body.effective_on) if body.approved else None
    except rules.RuleBroken as exc:
        raise refused(exc, "The decision is refused") from exc
    case.decision, case.reasons = ("approved" if body.approved else "rejected"), body.reasons
    case.decided_on, case.decided_by, case.effective_on = today, user.subject, effective_on
    event: Event | None = None
    if not body.approved:
        case.status, case.open_for = CaseStatus.REJECTED.value, None
        if case.action == Action.NAME:
            place = await session.get(Place, case.place_code)
            if place is not None:
                place.status = "rejected"
                session.add(place)
        event = NameProposalRejected(
            place_code=case.place_code,
            case_id=case.id,
            action=case.action,
            proposed_name=case.proposed_name,
            reasons=body.reasons,
            decided_on=today,
        )
    else:
        case.status = CaseStatus.APPROVED.value
        if rules.due(CaseStatus.APPROVED, effective_on, today):
            assert effective_on is not None
            event = await workflow.take_effect(session, case, effective_on)
    session.add(case)
    if event is not None:
        await outbox.add(session, event)
    try:
        await session.commit()
    except IntegrityError as exc:
        await session.rollback()
        raise Conflict(
            "name-already-standard", "The name became standard in the division meanwhile", field="name"
        ) from exc
    return await case_view(session, case)


@router.post("/naming-cases/deadlines")
async def run_deadlines(session: SessionDep, outbox: OutboxDep, today: Today, user: Caseworker) -> DeadlineRun:
    """Run the deadline job now (it also runs at start-up and every hour); running it twice changes nothing."""
    ended, applied = await workflow.run_deadlines(session, outbox, today)
    return DeadlineRun(today=today, notices_ended=ended, took_effect=applied)
