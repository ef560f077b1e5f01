"""Fixtures loaded at start-up, idempotently: policy figures and the division tree with its dated history.

A row already present (same key) stays as it is: a figure or a division changes by a new dated row, never by
editing the fixture's old one.
"""

from __future__ import annotations

import csv
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date
from pathlib import Path

from fastapi import FastAPI
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.placenames.models import Division, PolicyParameter
from services.placenames.rules import DivisionVersion, Level, Parameter, Policy

HERE = Path(__file__).parent
POLICY_FIXTURE = HERE / "policy" / "parameters.csv"
DIVISIONS_FIXTURE = HERE / "seed" / "divisions.csv"


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8") as f:
        return list(csv.DictReader(f))


def fixture_parameters() -> list[Parameter]:
    return [
        Parameter(
            r["region_code"], r["parameter"], date.fromisoformat(r["effective_from"]), int(r["value"]), r["source"]
        )
        for r in _rows(POLICY_FIXTURE)
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
        for r in _rows(DIVISIONS_FIXTURE)
    ]


async def load_fixtures(session: AsyncSession) -> None:
    known = {(p.region_code, p.name, p.effective_from) for p in (await session.exec(select(PolicyParameter))).all()}
    for p in fixture_parameters():
        if (p.region_code, p.name, p.effective_from) not in known:
            session.add(
                PolicyParameter(
                    region_code=p.region_code,
                    name=p.name,
                    effective_from=p.effective_from,
                    value=p.value,
                    source=p.source,
                )
            )
    present = {(d.code, d.valid_from) for d in (await session.exec(select(Division))).all()}
    session.add_all(d for d in fixture_divisions() if (d.code, d.valid_from) not in present)
    await session.commit()


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
