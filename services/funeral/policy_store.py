"""Subsidy amounts and benefit figures as data: the fixture file, loaded idempotently into its table at start-up."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date
from pathlib import Path

from fastapi import FastAPI
from sqlalchemy import select
from sqlmodel.ext.asyncio.session import AsyncSession

from civic.db import table_of
from civic.fixtures import add_missing, read_csv
from civic.money import from_fen, to_fen
from services.funeral.models import PolicyParameter
from services.funeral.rules import Parameter, Policy, parse_amount

FIXTURE = Path(__file__).parent / "policy" / "parameters.csv"


def fixture_parameters(path: Path = FIXTURE) -> list[Parameter]:
    return [
        Parameter(row["region_code"], row["parameter"], date.fromisoformat(row["effective_from"]),
                  parse_amount(row["value"]), row["source"])
        for row in read_csv(path)
    ]  # fmt: skip


async def load_fixture(session: AsyncSession, parameters: list[Parameter]) -> None:
    """Rows already present stay as they are: a figure changes by a new row with a new effective date."""
    rows = [PolicyParameter(region_code=p.region_code, name=p.name, effective_from=p.effective_from,
                            value_fen=to_fen(p.value), source=p.source) for p in parameters]  # fmt: skip
    await add_missing(session, rows, key=lambda r: (r.region_code, r.name, r.effective_from))


_parameters = table_of(PolicyParameter)


async def current_policy(session: AsyncSession) -> Policy:
    """Plain rows on the session's connection, not ORM instances: every death registered reads the policy."""
    rows = await (await session.connection()).execute(select(
        _parameters.c.region_code, _parameters.c.name, _parameters.c.effective_from, _parameters.c.value_fen,
        _parameters.c.source))  # fmt: skip
    return Policy(Parameter(region, name, since, from_fen(fen), source) for region, name, since, fen, source in rows)


@asynccontextmanager
async def policy_loaded(app: FastAPI) -> AsyncIterator[None]:
    async with app.state.service.sessions() as session:
        await load_fixture(session, fixture_parameters())
    yield
