"""What happens when a naming decision takes effect, and the deadline job. Shared by the decision route (a
decision effective today) and the job (a decision effective on a later day). Callers commit."""

from __future__ import annotations

import logging
from datetime import date

from fastapi import FastAPI
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from civic.clock import clock_of
from civic.events import Event
from civic.outbox import Outbox
from civic.schedule import periodic
from contracts.placenames import NameCancelled, NamePublished, PlaceRenamed, RoadRenamed
from services.placenames import rules
from services.placenames.models import NamingCase, Place, PlaceNameHistory
from services.placenames.rules import Action, CaseStatus
from services.placenames.search import index_name

log = logging.getLogger("civic.placenames.workflow")
DEADLINE_INTERVAL_S = 3600.0


async def take_effect(session: AsyncSession, case: NamingCase, on: date) -> Event:
    """Apply an approved case to its place and say what happened. The unique (region, name_in_use) constraint
    refuses, at commit, a name that became standard in the division meanwhile."""
    place = await session.get(Place, case.place_code)
    if place is None:
        raise LookupError(f"place {case.place_code} of case {case.id} is missing")
    case.status, case.open_for, case.effective_on = CaseStatus.EFFECTIVE.value, None, on
    current = (
        await session.exec(
            select(PlaceNameHistory).where(
                PlaceNameHistory.place_code == place.code, col(PlaceNameHistory.valid_until).is_(None)
            )
        )
    ).first()
    if current is not None:
        current.valid_until = on
    event: Event
    if case.action == Action.NAME:
        place.status, place.name_in_use, place.standard_since = "standard", case.proposed_key, on
        session.add(PlaceNameHistory(place_code=place.code, name=place.name, valid_from=on, case_id=case.id))
        event = NamePublished(
            place_code=place.code,
            case_id=case.id,
            name=place.name,
            pinyin=place.pinyin,
            kind=place.kind,
            region_code=place.region_code,
            division_code=place.division_code,
            effective_on=on,
        )
    elif case.action == Action.RENAME:
        assert case.proposed_name is not None and case.pinyin is not None
        old_name = place.name
        _, pinyin_key = rules.check_name(case.proposed_name, case.pinyin)
        place.name, place.name_in_use, place.pinyin = case.proposed_name, case.proposed_key, case.pinyin
        place.pinyin_key, place.initials = pinyin_key, rules.initials(case.pinyin)
        await index_name(session, place.code, place.name)
        session.add(PlaceNameHistory(place_code=place.code, name=place.name, valid_from=on, case_id=case.id))
        if place.kind in rules.ROAD_KINDS:
            event = RoadRenamed(
                road_code=place.code,
                region_code=place.region_code,
                old_name=old_name,
                new_name=place.name,
                effective_on=on,
            )
        else:
            event = PlaceRenamed(
                place_code=place.code,
                case_id=case.id,
                kind=place.kind,
                region_code=place.region_code,
                old_name=old_name,
                new_name=place.name,
                effective_on=on,
            )
    else:
        place.status, place.name_in_use, place.cancelled_on = "cancelled", None, on
        event = NameCancelled(
            place_code=place.code,
            case_id=case.id,
            name=place.name,
            kind=place.kind,
            region_code=place.region_code,
            effective_on=on,
        )
    session.add_all([case, place])
    return event


async def end_notice_periods(session: AsyncSession, today: date) -> list[str]:
    """Cases whose notice's last day has passed await their decision. A conditional update: run twice, once."""
    ended = (
        await session.exec(
            select(NamingCase.id).where(
                NamingCase.status == CaseStatus.IN_NOTICE.value, col(NamingCase.notice_until) < today
            )
        )
    ).all()
    if ended:
        await session.exec(
            update(NamingCase)
            .where(col(NamingCase.id).in_(ended), col(NamingCase.status) == CaseStatus.IN_NOTICE.value)
            .values(status=CaseStatus.AWAITING_DECISION.value)
        )
    await session.commit()
    return list(ended)


async def apply_due_decisions(session: AsyncSession, outbox: Outbox, today: date) -> list[str]:
    """Approved cases whose effective date has come take effect, each in its own transaction with its event."""
    due = (
        await session.exec(
            select(NamingCase.id).where(
                NamingCase.status == CaseStatus.APPROVED.value, col(NamingCase.effective_on) <= today
            )
        )
    ).all()
    applied: list[str] = []
    for case_id in due:
        # Claimed by a conditional update so that two runs at once apply each case once.
        claimed = await session.exec(
            update(NamingCase)
            .where(col(NamingCase.id) == case_id, col(NamingCase.status) == CaseStatus.APPROVED.value)
            .values(status=CaseStatus.EFFECTIVE.value)
            .execution_options(synchronize_session=False)
        )
        case = await session.get(NamingCase, case_id)
        if claimed.rowcount != 1 or case is None or case.effective_on is None:
            await session.rollback()
            continue
        await outbox.add(session, await take_effect(session, case, case.effective_on))
        try:
            await session.commit()
            applied.append(case_id)
        except IntegrityError:
            await session.rollback()
            log.warning("case %s cannot take effect: its name became standard in the division meanwhile", case_id)
    return applied


async def run_deadlines(session: AsyncSession, outbox: Outbox, today: date) -> tuple[list[str], list[str]]:
    return await end_notice_periods(session, today), await apply_due_decisions(session, outbox, today)


async def run_deadlines_now(app: FastAPI) -> None:
    service = app.state.service
    async with service.sessions() as session:
        await run_deadlines(session, service.outbox, clock_of(app)())


# A start-up resource: the deadline job at start (catching up on downtime), then every hour.
deadline_schedule = periodic("naming-deadlines", run_deadlines_now, DEADLINE_INTERVAL_S)
