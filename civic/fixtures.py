"""Policy figures and reference data shipped as fixture files, loaded into a service's tables at start-up.

Loading is idempotent and additive: a row whose key is already in the table is never rewritten (a figure changes
by a new row with a new effective date, so history stays as it was; correcting a loaded row is a deliberate change
in the table). Two replicas starting at once may load the same rows together: the second's insert fails on the
key and it rolls back, the first having loaded them. What the rows mean is the service's business.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Hashable, Sequence
from pathlib import Path
from typing import TypeVar

from sqlalchemy.exc import IntegrityError
from sqlmodel import SQLModel, select
from sqlmodel.ext.asyncio.session import AsyncSession

Row = TypeVar("Row", bound=SQLModel)


def read_csv(path: Path) -> list[dict[str, str]]:
    """A fixture file's rows, by column name (UTF-8: the sources are cited in Chinese)."""
    with path.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


async def add_missing(session: AsyncSession, rows: Sequence[Row], key: Callable[[Row], Hashable]) -> int:
    """Insert the ``rows`` whose ``key`` is not in their table yet and commit; how many were new."""
    if not rows:
        return 0
    model = type(rows[0])
    present = {key(row) for row in (await session.exec(select(model))).all()}
    new = [row for row in rows if key(row) not in present]
    session.add_all(new)
    try:
        await session.commit()
    except IntegrityError:  # another replica loaded the same rows at the same time
        await session.rollback()
        return 0
    return len(new)
