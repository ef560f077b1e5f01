"""The SQLite engine every service runs on locally (``civic.db.make_engine``, ``civic/sqlite.py``): a real file,
real statements — what SQLAlchemy and the services rely on, in one trip to the connection's thread each."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiosqlite
import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, func, insert, select, text, update
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine

from civic import db

metadata = MetaData()
person = Table(
    "person", metadata, Column("id", Integer, primary_key=True), Column("name", String, nullable=False, unique=True)
)


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    engine = db.make_engine(f"sqlite+aiosqlite:///{tmp_path / 'driver.db'}")
    await db.create_tables(engine, [person])
    yield engine
    await engine.dispose()


async def test_rows_columns_and_counts_are_what_sqlite_reports(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        one = await conn.execute(insert(person).values(name="张伟"))
        assert one.rowcount == 1 and one.inserted_primary_key == (1,)
        many = await conn.execute(insert(person), [{"name": "李娜"}, {"name": "王芳"}, {"name": "刘洋"}])
        assert many.rowcount == 3
        returned = await conn.execute(insert(person).values(name="陈静").returning(person.c.id))
        assert returned.scalar_one() == 5
        renamed = await conn.execute(update(person).where(person.c.id > 3).values(name=person.c.name + "*"))
        assert renamed.rowcount == 2
    async with engine.connect() as conn:
        result = await conn.execute(select(person.c.id, person.c.name).order_by(person.c.id))
        assert list(result.keys()) == ["id", "name"]
        assert result.all() == [(1, "张伟"), (2, "李娜"), (3, "王芳"), (4, "刘洋*"), (5, "陈静*")]
        assert (await conn.execute(select(person).where(person.c.id == 99))).first() is None
        assert (await conn.execute(text("SELECT count(*) FROM person"))).scalar() == 5
        assert [r.id for r in (await conn.execute(select(person).order_by(person.c.id))).fetchmany(2)] == [1, 2]


async def test_a_failed_statement_raises_and_its_transaction_rolls_back(engine: AsyncEngine) -> None:
    with pytest.raises(IntegrityError):
        async with engine.begin() as conn:
            await conn.execute(insert(person).values(name="张伟"))
            await conn.execute(insert(person).values(name="张伟"))
    with pytest.raises(OperationalError, match="no such table"):
        async with engine.connect() as conn:
            await conn.execute(text("SELECT * FROM nowhere"))
    async with engine.connect() as conn:
        assert (await conn.execute(select(func.count()).select_from(person))).scalar() == 0
        await conn.execute(insert(person).values(name="张伟"))  # the connection is usable after the error
        await conn.rollback()
        assert (await conn.execute(select(func.count()).select_from(person))).scalar() == 0


async def test_streamed_results_are_read_in_steps(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await conn.execute(insert(person), [{"name": f"p{i}"} for i in range(250)])
    async with engine.connect() as conn:
        stream = await conn.stream(select(person.c.id).order_by(person.c.id))
        seen = [row.id async for row in stream]
    assert seen == list(range(1, 251))


async def test_concurrent_writers_wait_for_each_other(engine: AsyncEngine) -> None:
    """Several transactions at once in one process, as a service's requests, consumers and relay run: each
    waits for the file's write lock (busy timeout), none fails."""

    async def write(i: int) -> None:
        async with engine.begin() as conn:
            await conn.execute(insert(person).values(name=f"w{i}"))
            await asyncio.sleep(0.01)  # hold the write lock across an await, as a handler may
            await conn.execute(update(person).where(person.c.name == f"w{i}").values(name=f"w{i}!"))

    await asyncio.gather(*(write(i) for i in range(8)))
    async with engine.connect() as conn:
        names = (await conn.execute(select(person.c.name))).scalars().all()
    assert sorted(names) == sorted(f"w{i}!" for i in range(8))


async def test_a_statement_is_one_trip_to_the_connections_thread(
    engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What the module is for: SQLAlchemy's stock adapter made four trips per SELECT (cursor, execute, fetch,
    close), each costing more CPU than the statement."""
    trips: list[str] = []
    queue = aiosqlite.Connection._execute

    async def counted(self: aiosqlite.Connection, fn: Any, *args: Any, **kwargs: Any) -> Any:
        trips.append(getattr(fn, "__name__", repr(fn)))
        return await queue(self, fn, *args, **kwargs)

    async with engine.connect() as conn:
        await conn.execute(text("SELECT 1"))  # the connection's own set-up trips happen before counting
        monkeypatch.setattr(aiosqlite.Connection, "_execute", counted)
        rows = (await conn.execute(select(person.c.name).where(person.c.id == 1))).all()
        await conn.execute(insert(person).values(name="张伟"))
    assert rows == []
    assert len(trips) == 2 + 1  # two statements, then the rollback as the connection goes back to the pool
