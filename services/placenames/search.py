"""Finding standard names by part of the name, the start of its pinyin or initials, or its code, fast on hundreds
of thousands of names.

Each reading of the query is answered from an index: the name's grams (``rules.search_grams``) for text, ranges
on the pinyin and initials keys for Latin letters, the primary key for a code. The text check (``LIKE``) runs
only on the rows the rarest of the query's grams points at. A search that matches more than ``MATCH_CAP`` names
says so instead of counting and sorting them all: nobody reads past the first thousand, and it would cost every
other searcher the time to sort them.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, and_, delete, func, insert, literal, union, union_all
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from civic.db import table_of
from services.placenames import rules
from services.placenames.models import Place, PlaceSearchGram

MATCH_CAP = 1000
# Counting a gram's postings stops here: enough to tell a rare gram from a common one.
_PROBE = 2000


async def index_name(session: AsyncSession, place_code: str, name: str) -> None:
    """(Re)index a place under its current name, in the caller's transaction (a rename replaces the old grams)."""
    grams = table_of(PlaceSearchGram)
    await session.exec(delete(grams).where(grams.c.place_code == place_code))
    await session.exec(
        insert(grams), params=[{"gram": g, "place_code": place_code} for g in sorted(rules.search_grams(name))]
    )


def _escaped(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _starts_with(column: Any, prefix: str) -> ColumnElement[bool]:
    low, high = rules.prefix_bounds(prefix)
    return and_(column >= low, column < high)


def name_prefix_filter(prefix: str) -> ColumnElement[bool]:
    return _starts_with(col(Place.name), rules.name_key(prefix))


async def _rarest(session: AsyncSession, grams: set[str]) -> str:
    """The query's gram with the fewest postings (counted up to a bound), in one round trip."""
    if len(grams) == 1:
        return next(iter(grams))
    counts = [
        select(literal(gram).label("gram"), select(func.count()).select_from(
            select(PlaceSearchGram.place_code).where(PlaceSearchGram.gram == gram).limit(_PROBE).subquery()
        ).scalar_subquery().label("postings"))
        for gram in sorted(grams)
    ]  # fmt: skip
    sizes = (await (await session.connection()).execute(union_all(*counts))).all()
    return str(min(sizes, key=lambda row: (row[1], row[0]))[0])


async def matching(
    session: AsyncSession, q: str | None, where: list[ColumnElement[bool]], cap: int = MATCH_CAP
) -> tuple[list[tuple[str, str]], bool]:
    """(code, name) of up to ``cap`` places that ``q`` finds by any reading (every place, without ``q``) and that
    satisfy ``where``, and whether there are more."""
    if q is None:
        return _capped([(str(c), str(n)) for c, n in (await session.exec(
            select(Place.code, Place.name).where(*where).limit(cap + 1))).all()], cap)  # fmt: skip
    text = rules.name_key(q).lower()
    by_text = (
        select(Place.code, Place.name)
        .join(PlaceSearchGram, col(PlaceSearchGram.place_code) == col(Place.code))
        .where(PlaceSearchGram.gram == await _rarest(session, rules.query_grams(q)), *where)
    )
    if len(text) > 1:  # a one-character query is its own gram: no further check needed
        by_text = by_text.where(func.lower(col(Place.name)).like(f"%{_escaped(text)}%", escape="\\"))
    readings = [by_text, select(Place.code, Place.name).where(col(Place.code) == q, *where)]
    latin = "".join(rules.pinyin_syllables(q))
    if latin.isascii() and latin.isalpha():
        readings += [
            select(Place.code, Place.name).where(_starts_with(col(Place.pinyin_key), latin), *where),
            select(Place.code, Place.name).where(_starts_with(col(Place.initials), latin), *where),
        ]
    # One round trip: each reading bounded on its own (a subquery, so that the bound applies to it), merged.
    bounded = [select(*r.limit(cap + 1).subquery().c) for r in readings]
    rows = [
        (str(code), str(name))
        for code, name in (await (await session.connection()).execute(union(*bounded).limit(cap + 1))).all()
    ]
    return _capped(rows, cap)


def _capped(rows: list[tuple[str, str]], cap: int) -> tuple[list[tuple[str, str]], bool]:
    return rows[:cap], len(rows) > cap
