"""Policy as data: the fixture files in ``policy/``, their tables, and loading them idempotently at start-up."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import cache
from pathlib import Path

from fastapi import FastAPI
from sqlalchemy import select
from sqlmodel.ext.asyncio.session import AsyncSession

from civic.db import table_of
from civic.fixtures import add_missing, read_csv
from civic.money import to_fen
from services.eldercare import rules
from services.eldercare.models import AllowanceRate, PolicyParameter

POLICY = Path(__file__).parent / "policy"


@cache
def assessment_scale() -> rules.Scale:
    """The national standard's scale: the same everywhere, so read from its file, not from a regional table."""
    return rules.scale_from(json.loads((POLICY / "assessment_scale.json").read_text(encoding="utf-8")))


def fixture_rates() -> list[rules.Rate]:
    return [
        rules.Rate(row["region_code"], row["allowance"], int(row["min_age"]), date.fromisoformat(row["effective_from"]),
                   to_fen(Decimal(row["monthly_yuan"])), row["source"])
        for row in read_csv(POLICY / "allowances.csv")
    ]  # fmt: skip


def fixture_parameters() -> list[rules.Parameter]:
    return [
        rules.Parameter(row["region_code"], row["parameter"], date.fromisoformat(row["effective_from"]), row["value"],
                        row["source"])
        for row in read_csv(POLICY / "parameters.csv")
    ]  # fmt: skip


async def load_fixtures(session: AsyncSession) -> None:
    """Insert the rows not there yet; a row already present is never rewritten (figures change by a new dated
    row, so history stays as it was)."""
    rates = [AllowanceRate(region_code=r.region_code, allowance=r.allowance, min_age=r.min_age,
                           effective_from=r.effective_from, monthly_fen=r.monthly_fen, source=r.source)
             for r in fixture_rates()]  # fmt: skip
    await add_missing(session, rates, key=lambda r: (r.region_code, r.allowance, r.min_age, r.effective_from))
    parameters = [PolicyParameter(region_code=p.region_code, name=p.name, effective_from=p.effective_from,
                                  value=p.value, source=p.source) for p in fixture_parameters()]  # fmt: skip
    await add_missing(session, parameters, key=lambda r: (r.region_code, r.name, r.effective_from))


@dataclass(frozen=True)
class Policy:
    rates: list[rules.Rate]
    parameters: list[rules.Parameter]

    def monthly_fen(self, kind: rules.AllowanceKind, region_code: str, age: int, on: date) -> int:
        return rules.monthly_rate(self.rates, kind, region_code, age, on).monthly_fen

    def parameter(self, name: str, region_code: str, on: date) -> str:
        return rules.parameter(self.parameters, name, region_code, on)


_rates, _parameters = table_of(AllowanceRate), table_of(PolicyParameter)


async def current_policy(session: AsyncSession) -> Policy:
    """Every figure in force or to come. Read as plain rows on the session's connection, not as ORM instances:
    a death, an assessment or a visit reads the whole policy, and building an instance per row cost 1.4 ms of
    CPU a read (0.3 ms as rows)."""
    conn = await session.connection()
    rates = [rules.Rate(*row) for row in await conn.execute(select(
        _rates.c.region_code, _rates.c.allowance, _rates.c.min_age, _rates.c.effective_from, _rates.c.monthly_fen,
        _rates.c.source))]  # fmt: skip
    params = [rules.Parameter(*row) for row in await conn.execute(select(
        _parameters.c.region_code, _parameters.c.name, _parameters.c.effective_from, _parameters.c.value,
        _parameters.c.source))]  # fmt: skip
    return Policy(rates, params)


@asynccontextmanager
async def policy_loaded(app: FastAPI) -> AsyncIterator[None]:
    """A start-up resource: the tables exist by now; load the fixtures before serving."""
    async with app.state.service.sessions() as session:
        await load_fixtures(session)
    yield
