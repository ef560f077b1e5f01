"""Subsidy amounts and benefit figures as data: the fixture file, loaded idempotently into its table at start-up."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date
from pathlib import Path

from fastapi import FastAPI
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

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


async def current_policy(session: AsyncSession) -> Policy:
    rows = (await session.exec(select(PolicyParameter))).all()
    return Policy(Parameter(r.region_code, r.name, r.effective_from, from_fen(r.value_fen), r.source) for r in rows)


@asynccontextmanager
async def policy_loaded(app: FastAPI) -> AsyncIterator[None]:
    async with app.state.service.sessions() as session:
        await load_fixture(session, fixture_parameters())
    yield
