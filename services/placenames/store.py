"""Fixtures loaded at start-up, idempotently: policy figures and the division tree with its dated history.

A row already present (same key) stays as it is: a figure or a division changes by a new dated row, never by
editing the fixture's old one.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date
from pathlib import Path

from fastapi import FastAPI
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from civic.fixtures import add_missing, read_csv
from services.placenames.models import Division, PolicyParameter
from services.placenames.rules import DivisionVersion, Level, Parameter, Policy

HERE = Path(__file__).parent
POLICY_FIXTURE = HERE / "policy" / "parameters.csv"
DIVISIONS_FIXTURE = HERE / "seed" / "divisions.csv"


def fixture_parameters() -> list[Parameter]:
    return [
        Parameter(
            r["region_code"], r["parameter"], date.fromisoformat(r["effective_from"]), int(r["value"]), r["source"]
        )
        for r in read_csv(POLICY_FIXTURE)
    ]


def fixture_divisions() -> list[Division]:
    return [
        Division(
            code=r["code"],
            name=r["name"],
            level=Level(r["level"]).value,
            parent_code=r["parent_code"] or None,
            valid_from=date.fromisoformat(r["valid_from"]),
            valid_until=date.fromisoformat(r["valid_until"]) if r["valid_until"] else None,
            source=r["source"],
        )
        for r in read_csv(DIVISIONS_FIXTURE)
    ]


async def load_fixtures(session: AsyncSession) -> None:
    parameters = [PolicyParameter(region_code=p.region_code, name=p.name, effective_from=p.effective_from,
                                  value=p.value, source=p.source) for p in fixture_parameters()]  # fmt: skip
    await add_missing(session, parameters, key=lambda r: (r.region_code, r.name, r.effective_from))
    await add_missing(session, fixture_divisions(), key=lambda d: (d.code, d.valid_from))


async def current_policy(session: AsyncSession) -> Policy:
    rows = (await session.exec(select(PolicyParameter))).all()
    return Policy(Parameter(r.region_code, r.name, r.effective_from, r.value, r.source) for r in rows)


def version_of(row: Division) -> DivisionVersion:
    return DivisionVersion(row.code, row.name, Level(row.level), row.parent_code, row.valid_from, row.valid_until)


async def division_versions(session: AsyncSession) -> list[DivisionVersion]:
    return [version_of(r) for r in (await session.exec(select(Division))).all()]


@asynccontextmanager
async def fixtures_loaded(app: FastAPI) -> AsyncIterator[None]:
    async with app.state.service.sessions() as session:
        await load_fixtures(session)
    yield
