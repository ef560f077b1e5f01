"""临时救助 (temporary assistance): an emergency advance granted at once by a caseworker, paperwork after; an
expenditure-type grant approved once and paid in stages. A job pays the stages that fall due and flags the
advances whose paperwork is overdue; it is safe to run any number of times (a stage is paid once)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Depends, status
from pydantic import BaseModel, Field, field_validator
from sqlalchemy import func, update
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from civic.app import OutboxDep, ServiceDep, SessionDep
from civic.auth import CurrentUser, Principal, Role, caseworker_of
from civic.clock import Today
from civic.identity import ResidentId
from civic.money import Yuan, from_fen, to_fen
from civic.outbox import Outbox
from civic.problems import Conflict, NotFound, Problem
from contracts.assistance import (
    TemporaryAdvanceFlagged,
    TemporaryAdvancePaperworkCompleted,
    TemporaryAssistanceGranted,
    TemporaryAssistancePaid,
)
from services.assistance import rules
from services.assistance.households import members
from services.assistance.models import DeathRecord, HouseholdMember, TemporaryGrant, TemporaryStage
from services.assistance.policy_store import current_policy
from services.assistance.schemas import DOMAIN, Strict, shown

router = APIRouter(prefix="/temporary-assistance", tags=["temporary assistance"])
Caseworker = Annotated[Principal, Depends(caseworker_of(DOMAIN))]
ACTOR = "temporary assistance job"


def positive(value: Yuan) -> Yuan:
    if value <= 0:
        raise ValueError("must be more than zero")
    return value


class GrantBase(Strict):
    resident_id: ResidentId = Field(description="who receives it")
    region_code: str = Field(pattern=r"^[0-9]{6}$")
    area: rules.Area
    household_id: str | None = Field(None, description="the household, if registered here (not required)")
    situation: str = Field(min_length=1, max_length=500, description="what happened: illness, disaster, accident …")
    amount: Yuan

    _amount = field_validator("amount")(positive)


class EmergencyGrantIn(GrantBase):
    reported_at: datetime | None = Field(None, description="when the emergency was reported (the 24-hour rule)")


class StageIn(Strict):
    due_on: date
    amount: Yuan

    _amount = field_validator("amount")(positive)


class ExpenditureGrantIn(GrantBase):
    stages: list[StageIn] = Field(min_length=1, max_length=24)


class PaperworkIn(Strict):
    note: str = Field(min_length=1, max_length=500, description="what was received: the statement, the documents …")


class StagePublic(BaseModel):
    number: int
    due_on: date
    amount: Yuan
    paid_on: date | None
    cancelled: bool


class GrantPublic(BaseModel):
    id: str
    kind: str
    resident_id: str
    household_id: str | None
    region_code: str
    situation: str
    amount: Yuan
    status: str
    granted_on: date
    paperwork_due: date | None
    paperwork_completed_on: date | None
    flagged_on: date | None
    explanation: list[str]
    stages: list[StagePublic]

    @staticmethod
    def of(g: TemporaryGrant, stages: list[TemporaryStage], viewer: Principal) -> GrantPublic:
        return GrantPublic(
            id=g.id, kind=g.kind, resident_id=shown(g.resident_id, viewer), household_id=g.household_id,
            region_code=g.region_code, situation=g.situation, amount=from_fen(g.amount_fen), status=g.status,
            granted_on=g.granted_on, paperwork_due=g.paperwork_due, paperwork_completed_on=g.paperwork_completed_on,
            flagged_on=g.flagged_on, explanation=json.loads(g.explanation),
            stages=[StagePublic(number=s.number, due_on=s.due_on, amount=from_fen(s.amount_fen), paid_on=s.paid_on,
                                cancelled=s.cancelled) for s in stages],
        )  # fmt: skip


async def stages_of(session: AsyncSession, grant_id: str) -> list[TemporaryStage]:
    rows = await session.exec(
        select(TemporaryStage).where(TemporaryStage.grant_id == grant_id).order_by(col(TemporaryStage.number))
    )
    return list(rows.all())


async def refuse_unfit_recipient(session: AsyncSession, body: GrantBase) -> None:
    dead = await session.exec(select(DeathRecord).where(DeathRecord.resident_id == body.resident_id,
                                                        col(DeathRecord.revoked_at).is_(None)))  # fmt: skip
    if dead.first() is not None:
        raise Conflict("deceased", "The person's death is registered", "benefits are not granted to the dead",
                       field="resident_id")  # fmt: skip
    if body.household_id is not None:
        member = await session.exec(select(HouseholdMember).where(HouseholdMember.household_id == body.household_id,
                                                                  HouseholdMember.resident_id == body.resident_id))  # fmt: skip
        if member.first() is None:
            raise Problem(422, "not-a-member", "Not a member of the household",
                          "the recipient is not a member of that household", field="household_id")  # fmt: skip


async def decide(
    session: AsyncSession, kind: rules.TemporaryKind, body: GrantBase, stages: list[tuple[date, Decimal]], on: date,
    hours_since_report: Decimal | None = None,
) -> rules.TemporaryDecision:  # fmt: skip
    try:
        return rules.grant_temporary(kind, body.amount, stages, body.region_code, body.area,
                                     await current_policy(session), on, hours_since_report)  # fmt: skip
    except rules.Refused as exc:
        raise Problem(422, "grant-refused", "The grant is not allowed", str(exc), field=exc.field) from exc
    except rules.MissingPolicy as exc:
        raise Problem(422, "no-policy", "No policy figure in force", f"{exc}: a caseworker sets the local figure "
                      "(POST /policy/parameters) before such grants are made", field=exc.name) from exc  # fmt: skip


async def record_grant(
    session: AsyncSession, outbox: Outbox, body: GrantBase, decision: rules.TemporaryDecision, actor: str, on: date
) -> tuple[TemporaryGrant, list[TemporaryStage]]:
    grant = TemporaryGrant(kind=decision.kind, resident_id=body.resident_id, household_id=body.household_id,
                           region_code=body.region_code, area=body.area, situation=body.situation,
                           amount_fen=to_fen(decision.amount), granted_on=on, granted_by=actor,
                           explanation=json.dumps(list(decision.reasons), ensure_ascii=False),
                           paperwork_due=decision.paperwork_due)  # fmt: skip
    session.add(grant)
    await session.flush()
    stages = [TemporaryStage(grant_id=grant.id, number=i + 1, due_on=due, amount_fen=to_fen(amount))
              for i, (due, amount) in enumerate(decision.stages)]  # fmt: skip
    session.add_all(stages)
    await session.flush()  # the stages have their ids before one of them is paid
    await outbox.add(session, TemporaryAssistanceGranted(
        resident_id=grant.resident_id, grant_id=grant.id, kind=grant.kind, household_id=grant.household_id,
        region_code=grant.region_code, amount=decision.amount, stages=len(stages), granted_on=grant.granted_on,
        paperwork_due=grant.paperwork_due))  # fmt: skip
    return grant, stages


async def pay_stage(session: AsyncSession, outbox: Outbox, grant: TemporaryGrant, stage: TemporaryStage,
                    on: date) -> bool:  # fmt: skip
    """Pay one stage unless it is paid or cancelled; the conditional update makes a second payment impossible."""
    paid = await session.exec(
        update(TemporaryStage)
        .where(col(TemporaryStage.id) == stage.id, col(TemporaryStage.paid_on).is_(None),
               col(TemporaryStage.cancelled).is_(False))
        .values(paid_on=on)
    )  # fmt: skip
    if paid.rowcount != 1:
        return False
    stage.paid_on = on  # the object in hand says what the row now says
    await outbox.add(session, TemporaryAssistancePaid(resident_id=grant.resident_id, grant_id=grant.id,
                                                      kind=grant.kind, stage=stage.number,
                                                      amount=from_fen(stage.amount_fen), paid_on=on))  # fmt: skip
    return True


@router.post("/emergency", status_code=status.HTTP_201_CREATED)
async def grant_emergency_advance(
    body: EmergencyGrantIn, session: SessionDep, outbox: OutboxDep, user: Caseworker, today: Today
) -> GrantPublic:
    """急难型: a small advance granted and paid at once (小额先行救助); the case is completed afterwards, by the
    paperwork due date, or the advance is flagged."""
    await refuse_unfit_recipient(session, body)
    now = datetime.now(UTC)
    hours = None
    if body.reported_at is not None:
        reported = body.reported_at if body.reported_at.tzinfo else body.reported_at.replace(tzinfo=UTC)
        if reported > now:
            raise Problem(422, "future-report", "The emergency is reported before it is helped", field="reported_at")
        hours = Decimal((now - reported).total_seconds()) / 3600
    decision = await decide(session, rules.TemporaryKind.EMERGENCY, body, [], today, hours)
    grant, stages = await record_grant(session, outbox, body, decision, user.subject, today)
    await pay_stage(session, outbox, grant, stages[0], grant.granted_on)
    await session.commit()
    return GrantPublic.of(grant, await stages_of(session, grant.id), user)


@router.post("/expenditure", status_code=status.HTTP_201_CREATED)
async def approve_expenditure_assistance(
    body: ExpenditureGrantIn, session: SessionDep, outbox: OutboxDep, user: Caseworker, today: Today
) -> GrantPublic:
    """支出型: approved once after review, paid in stages on their dates by the stage job (一次审批、分阶段救助);
    a stage due today is paid at once."""
    await refuse_unfit_recipient(session, body)
    decision = await decide(session, rules.TemporaryKind.EXPENDITURE, body,
                            [(s.due_on, s.amount) for s in body.stages], today)  # fmt: skip
    grant, stages = await record_grant(session, outbox, body, decision, user.subject, today)
    for stage in stages:
        if stage.due_on <= today:
            await pay_stage(session, outbox, grant, stage, today)
    await settle_if_paid(session, grant)
    await session.commit()
    return GrantPublic.of(grant, await stages_of(session, grant.id), user)


async def settle_if_paid(session: AsyncSession, grant: TemporaryGrant) -> None:
    if grant.kind == rules.TemporaryKind.EXPENDITURE and grant.status == "open":
        stages = await stages_of(session, grant.id)
        if all(s.paid_on is not None or s.cancelled for s in stages):
            grant.status = "paid"
            session.add(grant)


async def visible_grant(session: AsyncSession, grant_id: str, viewer: Principal) -> TemporaryGrant:
    grant = await session.get(TemporaryGrant, grant_id)
    if grant is None:
        raise NotFound("grant")
    if viewer.is_caseworker_of(DOMAIN) or viewer.role is Role.AUDITOR or viewer.is_citizen(grant.resident_id):
        return grant
    if grant.household_id and any(viewer.is_citizen(m.resident_id) for m in await members(session, grant.household_id)):
        return grant
    raise NotFound("grant")


@router.get("/flagged")
async def flagged_advances(session: SessionDep, user: Caseworker) -> list[GrantPublic]:
    """Emergency advances whose paperwork is overdue and still not completed."""
    rows = await session.exec(select(TemporaryGrant).where(TemporaryGrant.status == "flagged")
                              .order_by(col(TemporaryGrant.paperwork_due)))  # fmt: skip
    return [GrantPublic.of(g, await stages_of(session, g.id), user) for g in rows.all()]


@router.get("/{grant_id}")
async def read_grant(grant_id: str, session: SessionDep, user: CurrentUser) -> GrantPublic:
    grant = await visible_grant(session, grant_id, user)
    return GrantPublic.of(grant, await stages_of(session, grant.id), user)


@router.post("/{grant_id}/paperwork")
async def complete_paperwork(
    grant_id: str, body: PaperworkIn, session: SessionDep, outbox: OutboxDep, user: Caseworker, today: Today
) -> GrantPublic:
    """The emergency case is completed after the advance (late completion clears the flag, and keeps its date)."""
    grant = await visible_grant(session, grant_id, user)
    if grant.kind != rules.TemporaryKind.EMERGENCY or grant.status not in ("open", "flagged"):
        raise Conflict("not-awaiting-paperwork", "No paperwork is awaited for this grant",
                       f"it is a {grant.kind} grant, {grant.status}")  # fmt: skip
    late = grant.status == "flagged"
    grant.status, grant.paperwork_completed_on, grant.paperwork_note = "completed", today, body.note
    session.add(grant)
    await outbox.add(session, TemporaryAdvancePaperworkCompleted(resident_id=grant.resident_id, grant_id=grant.id,
                                                                 completed_on=today, late=late))  # fmt: skip
    await session.commit()
    return GrantPublic.of(grant, await stages_of(session, grant.id), user)


@dataclass
class TemporaryRun:
    on: date
    stages_paid: int = 0
    advances_flagged: int = 0


async def run_temporary_assistance(
    sessions: async_sessionmaker[AsyncSession], outbox: Outbox, on: date, *, chunk: int = 500
) -> TemporaryRun:
    """Pay every stage due on or before ``on`` not yet paid, and flag advances whose paperwork is overdue.

    Each chunk and its events commit together; a stage is paid by a conditional update, so a re-run, a run
    interrupted half-way, or two runs at once pay each stage once. A missed day is caught up by the next run.
    """
    result = TemporaryRun(on)
    after = 0
    while True:
        async with sessions() as session:
            due = list((await session.exec(
                select(TemporaryStage).where(TemporaryStage.due_on <= on, col(TemporaryStage.paid_on).is_(None),
                                             col(TemporaryStage.cancelled).is_(False), col(TemporaryStage.id) > after)
                .order_by(col(TemporaryStage.id)).limit(chunk)
            )).all())  # fmt: skip
            if not due:
                break
            after = due[-1].id or after
            grants = {g.id: g for g in (await session.exec(
                select(TemporaryGrant).where(col(TemporaryGrant.id).in_({s.grant_id for s in due})))).all()}  # fmt: skip
            deaths = dict((await session.exec(
                select(DeathRecord.resident_id, func.min(DeathRecord.date_of_death))
                .where(col(DeathRecord.resident_id).in_({g.resident_id for g in grants.values()}),
                       col(DeathRecord.revoked_at).is_(None))
                .group_by(col(DeathRecord.resident_id)))).all())  # fmt: skip
            for stage in due:
                grant = grants[stage.grant_id]
                died = deaths.get(grant.resident_id)
                if died is not None and stage.due_on > died:
                    # Nothing is paid to the dead. Left unpaid, not cancelled: if the death is revoked (registered
                    # in error), the next run pays it, late but once.
                    continue
                if await pay_stage(session, outbox, grant, stage, on):
                    result.stages_paid += 1
                await session.flush()
                await settle_if_paid(session, grant)
            await session.commit()
    async with sessions() as session:
        overdue = (await session.exec(select(TemporaryGrant).where(
            TemporaryGrant.kind == rules.TemporaryKind.EMERGENCY, TemporaryGrant.status == "open",
            col(TemporaryGrant.paperwork_due) < on))).all()  # fmt: skip
        for grant in overdue:
            if not rules.advance_overdue(grant.paperwork_due, False, on) or grant.paperwork_due is None:
                continue
            # Conditional, so paperwork completed meanwhile is never overwritten by a flag.
            flagged = await session.exec(
                update(TemporaryGrant).where(col(TemporaryGrant.id) == grant.id, col(TemporaryGrant.status) == "open")
                .values(status="flagged", flagged_on=on)
            )  # fmt: skip
            if flagged.rowcount != 1:
                continue
            await outbox.add(session, TemporaryAdvanceFlagged(resident_id=grant.resident_id, grant_id=grant.id,
                                                              amount=from_fen(grant.amount_fen),
                                                              paperwork_due=grant.paperwork_due))  # fmt: skip
            result.advances_flagged += 1
        await session.commit()
    return result


class RunIn(Strict):
    on: date | None = Field(None, description="pay stages due on or before this day (default today); flag advances "
                            "overdue by then")  # fmt: skip


class RunPublic(BaseModel):
    on: date
    stages_paid: int
    advances_flagged: int


@router.post("/runs")
async def run_now(body: RunIn, service: ServiceDep, outbox: OutboxDep, user: Caseworker, today: Today) -> RunPublic:
    """Run the daily temporary-assistance job now (the service also runs it every day by itself)."""
    on = body.on or today
    if on > today:
        raise Problem(422, "future-run", "Stages are paid when they fall due, not before", field="on")
    result = await run_temporary_assistance(service.sessions, outbox, on)
    return RunPublic(on=result.on, stages_paid=result.stages_paid, advances_flagged=result.advances_flagged)
