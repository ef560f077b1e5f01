"""Policy parameters: read the figures in force; a caseworker adds a new figure from a future date and starts
the recalculation of the benefits it affects."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, status
from pydantic import BaseModel, Field, field_validator
from sqlmodel import col, select

from civic.app import OutboxDep, ServiceDep, SessionDep
from civic.auth import CurrentUser, Principal, caseworker_of
from civic.clock import Today
from civic.problems import Conflict, Problem
from services.assistance import rules
from services.assistance.policy_store import PolicyParameter
from services.assistance.recalc import Workers, recalculate
from services.assistance.schemas import DOMAIN, Strict, first_of_month

router = APIRouter(prefix="/policy", tags=["policy"])
Caseworker = Annotated[Principal, Depends(caseworker_of(DOMAIN))]


class ParameterIn(Strict):
    region_code: str = Field(pattern=r"^[0-9]{6}$")
    area: str = Field(pattern=r"^(urban|rural|all)$")
    name: str = Field(pattern=r"^[a-z_]{3,60}$", description="e.g. dibao_standard")
    effective_from: date
    value: str = Field(pattern=r"^[0-9]+(\.[0-9]{1,4})?(/[1-9][0-9]*)?$", description='"750", "1.5" or "1/6"')
    per: rules.Per
    source: str = Field(min_length=1, max_length=300, description="the decision that sets it")


class ParameterPublic(BaseModel):
    region_code: str
    area: str
    name: str
    effective_from: date
    value: str
    per: str
    source: str


class RecalculationIn(Strict):
    region_code: str = Field(pattern=r"^[0-9]{6}$")
    effective_from: date
    max_cases: int | None = Field(None, ge=1, description="stop after this many cases (the next call resumes)")

    _month = field_validator("effective_from")(first_of_month)


class RecalculationPublic(BaseModel):
    examined: int
    changed: int
    finished: bool


@router.get("/parameters")
async def list_parameters(
    session: SessionDep, user: CurrentUser, region_code: str | None = None
) -> list[ParameterPublic]:
    query = select(PolicyParameter).order_by(col(PolicyParameter.region_code), col(PolicyParameter.name),
                                             col(PolicyParameter.effective_from))  # fmt: skip
    if region_code:
        query = query.where(col(PolicyParameter.region_code).in_(rules.region_chain(region_code)))
    return [ParameterPublic.model_validate(p, from_attributes=True) for p in (await session.exec(query)).all()]


@router.post("/parameters", status_code=status.HTTP_201_CREATED)
async def add_parameter(body: ParameterIn, session: SessionDep, user: Caseworker, today: Today) -> ParameterPublic:
    """A new figure applies from a future date; the past is never rewritten (benefits were paid on it). On that
    date the service recalculates the benefits it affects by itself (``recalc.daily_jobs``)."""
    if body.effective_from <= today:
        raise Problem(422, "past-effective-date", "A new figure applies from a future date",
                      "the past is never rewritten", field="effective_from")  # fmt: skip
    exists = await session.exec(select(PolicyParameter).where(
        PolicyParameter.region_code == body.region_code, PolicyParameter.area == body.area,
        PolicyParameter.name == body.name, PolicyParameter.effective_from == body.effective_from))  # fmt: skip
    if exists.first() is not None:
        raise Conflict("parameter-exists", "That figure is already set for that date", field="effective_from")
    row = PolicyParameter(**body.model_dump(), added_by=user.subject)
    session.add(row)
    await session.commit()
    return ParameterPublic.model_validate(row, from_attributes=True)


@router.post("/recalculations")
async def run_recalculation(
    body: RecalculationIn, service: ServiceDep, outbox: OutboxDep, user: Caseworker
) -> RecalculationPublic:
    """Recalculate the active benefits in the region from the date (one BenefitChanged per changed benefit)."""
    result = await recalculate(service.sessions, outbox, body.region_code, body.effective_from,
                               max_cases=body.max_cases, workers=Workers.of(service.settings))  # fmt: skip
    return RecalculationPublic(examined=result.examined, changed=result.changed, finished=result.finished)
