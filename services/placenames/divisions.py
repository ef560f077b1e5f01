"""Administrative divisions (行政区划): the tree as of any date, its history, and adjustments from a date."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Query, status
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col

from civic.app import OutboxDep, SessionDep
from civic.auth import CurrentUser, Principal, caseworker_of
from civic.clock import Today
from civic.problems import Conflict, NotFound, Problem
from contracts.placenames import DivisionAdjusted
from services.placenames import rules
from services.placenames.models import Division, DivisionAdjustment
from services.placenames.schemas import (
    DOMAIN,
    AdjustmentCreate,
    AdjustmentPublic,
    DivisionNode,
    DivisionPublic,
)
from services.placenames.store import division_versions

router = APIRouter(tags=["administrative divisions"])
Caseworker = Annotated[Principal, Depends(caseworker_of(DOMAIN))]


def public(v: rules.DivisionVersion) -> DivisionPublic:
    return DivisionPublic(
        code=v.code,
        name=v.name,
        level=v.level,
        parent_code=v.parent_code,
        valid_from=v.valid_from,
        valid_until=v.valid_until,
    )


def refused(exc: rules.RuleBroken, title: str = "The request is refused") -> Problem:
    return Problem(422, exc.kind, title, exc.detail, field=exc.field)


@router.get("/divisions")
async def list_divisions(
    session: SessionDep,
    today: Today,
    user: CurrentUser,
    as_of: date | None = None,
    parent: Annotated[str | None, Query(max_length=12)] = None,
) -> list[DivisionPublic]:
    """Divisions as they stood on ``as_of`` (default today): the top level, or the children of ``parent``."""
    tree = rules.as_of(await division_versions(session), as_of or today)
    return sorted((public(v) for v in tree.values() if v.parent_code == parent), key=lambda d: d.code)


@router.get("/divisions/{code}")
async def read_division(
    code: str, session: SessionDep, today: Today, user: CurrentUser, as_of: date | None = None
) -> DivisionNode:
    """One division as it stood on ``as_of`` (default today), with its children then."""
    tree = rules.as_of(await division_versions(session), as_of or today)
    if code not in tree:
        raise NotFound("division", f"no division {code} on {as_of or today}")
    children = sorted((c for c in tree.values() if c.parent_code == code), key=lambda c: c.code)
    return DivisionNode(
        **public(tree[code]).model_dump(), children=[DivisionNode(**public(c).model_dump()) for c in children]
    )


@router.get("/divisions/{code}/history")
async def division_history(code: str, session: SessionDep, user: CurrentUser) -> list[DivisionPublic]:
    """Every version of a division, oldest first: names, parents and dates."""
    versions = sorted((v for v in await division_versions(session) if v.code == code), key=lambda v: v.valid_from)
    if not versions:
        raise NotFound("division")
    return [public(v) for v in versions]


@router.post("/divisions/adjustments", status_code=status.HTTP_201_CREATED)
async def adjust_divisions(
    body: AdjustmentCreate, session: SessionDep, outbox: OutboxDep, user: Caseworker
) -> AdjustmentPublic:
    """Record an adjustment (split, merge, rename, move) from its effective date; earlier history stays."""
    adjustment = rules.Adjustment(
        effective_on=body.effective_on,
        ends=body.ends,
        versions=[
            rules.DivisionVersion(v.code, v.name, v.level, v.parent_code, body.effective_on) for v in body.versions
        ],
    )
    try:
        plan = rules.plan_adjustment(await division_versions(session), adjustment)
    except rules.RuleBroken as exc:
        raise refused(exc, "The adjustment is refused") from exc
    record = DivisionAdjustment(
        kind=body.kind, effective_on=body.effective_on, note=body.note, recorded_by=user.subject
    )
    session.add(record)
    if plan.closed:
        await session.exec(
            update(Division)
            .where(col(Division.code).in_(plan.closed), col(Division.valid_until).is_(None))
            .values(valid_until=body.effective_on)
        )
    session.add_all(
        Division(
            code=v.code,
            name=v.name,
            level=v.level.value,
            parent_code=v.parent_code,
            valid_from=v.valid_from,
            adjustment_id=record.id,
            source=body.note or body.kind,
        )
        for v in plan.opened
    )
    await outbox.add(
        session,
        DivisionAdjusted(
            adjustment_id=record.id,
            kind=body.kind,
            effective_on=body.effective_on,
            ended=list(body.ends),
            established=[v.code for v in plan.opened],
            note=body.note,
        ),
    )
    try:
        await session.commit()
    except IntegrityError as exc:
        await session.rollback()
        raise Conflict(
            "adjustment-conflict", "Another adjustment of these divisions on that date was recorded"
        ) from exc
    return AdjustmentPublic(
        id=record.id,
        kind=body.kind,
        effective_on=body.effective_on,
        ended=list(body.ends),
        established=[public(v) for v in plan.opened],
    )


async def tree_today(session: SessionDep, day: date) -> dict[str, rules.DivisionVersion]:
    return rules.as_of(await division_versions(session), day)
