"""Policy parameters as data: the fixture file, its table, and loading it idempotently at start-up."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime
from pathlib import Path

from fastapi import FastAPI
from sqlalchemy import ColumnElement, UniqueConstraint
from sqlmodel import Field, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.assistance.rules import Parameter, Per, Policy
from services.assistance.tables import AssistanceTable

FIXTURE = Path(__file__).parent / "policy" / "parameters.csv"


class PolicyParameter(AssistanceTable, table=True):
    __tablename__ = "policy_parameter"
    __table_args__ = (UniqueConstraint("region_code", "area", "name", "effective_from"),)

    id: int | None = Field(default=None, primary_key=True)
    region_code: str = Field(max_length=6, index=True)
    area: str = Field(max_length=5)
    name: str = Field(max_length=60)
    effective_from: date
    value: str = Field(max_length=30)  # kept as written ("1/6", "12000") so nothing is lost to rounding
    per: str = Field(max_length=5)
    source: str = Field(default="", max_length=300)
    added_by: str = Field(default="fixture", max_length=100)
    added_at: datetime = Field(default_factory=lambda: datetime.now(UTC))

    def as_rule(self) -> Parameter:
        return Parameter(
            self.region_code, self.area, self.name, self.effective_from, self.value, Per(self.per), self.source
        )


def read_fixture(text: str) -> list[Parameter]:
    return [
        Parameter(
            region_code=row["region_code"],
            area=row["area"],
            name=row["parameter"],
            effective_from=date.fromisoformat(row["effective_from"]),
            value=row["value"],
            per=Per(row["per"]),
            source=row["source"],
        )
        for row in csv.DictReader(io.StringIO(text))
        # A row with no value names a figure the sources do not give: documented, not loaded (a caseworker sets
        # the local figure; until then decisions that need it are refused with "no-policy").
        if row["value"].strip()
    ]


def fixture_parameters() -> list[Parameter]:
    return read_fixture(FIXTURE.read_text(encoding="utf-8"))


async def load_fixture(session: AsyncSession, parameters: list[Parameter]) -> int:
    """Insert the rows not there yet (by region, area, name and date); a restart changes nothing.

    A row already present is left alone even if the fixture now differs: figures in force are changed by adding
    a row with a new effective date, never by rewriting history.
    """
    existing = {
        (p.region_code, p.area, p.name, p.effective_from) for p in (await session.exec(select(PolicyParameter))).all()
    }
    added = 0
    for p in parameters:
        if (p.region_code, p.area, p.name, p.effective_from) not in existing:
            session.add(
                PolicyParameter(
                    region_code=p.region_code,
                    area=p.area,
                    name=p.name,
                    effective_from=p.effective_from,
                    value=p.value,
                    per=p.per,
                    source=p.source,
                )
            )
            added += 1
    await session.commit()
    return added


def moves_monthly_amounts() -> ColumnElement[bool]:
    """The parameters whose new figures change monthly benefits: all but temporary assistance's caps and deadlines,
    which apply to new grants only."""
    return col(PolicyParameter.name).not_like("temporary\\_%", escape="\\")


async def current_policy(session: AsyncSession) -> Policy:
    return Policy(p.as_rule() for p in (await session.exec(select(PolicyParameter))).all())


@asynccontextmanager
async def policy_loaded(app: FastAPI) -> AsyncIterator[None]:
    """A start-up resource: the tables exist by now; load the fixture before serving."""
    async with app.state.service.sessions() as session:
        await load_fixture(session, fixture_parameters())
    yield
