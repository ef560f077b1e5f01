"""Async database engine and sessions: a SQLite file by default, PostgreSQL when given a URL."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from pathlib import Path
from typing import Any

from sqlalchemy import MetaData, Table, event, make_url, text
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.exc import ProgrammingError
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry
from sqlmodel import SQLModel
from sqlmodel.ext.asyncio.session import AsyncSession

from civic import sqlite


def _tune_sqlite(dbapi_conn: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
    # WAL lets readers proceed while the relay and a writer work; NORMAL sync is durable across process
    # crashes (the failure we test for) and is what makes thousands of small commits per second possible.
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


def make_engine(url: str, **kwargs: Any) -> AsyncEngine:
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        # One trip to the connection's thread per statement instead of four (civic/sqlite.py).
        engine = create_async_engine(url, module=sqlite.dbapi(), **kwargs)
        event.listen(engine.sync_engine, "connect", _tune_sqlite)
        return engine
    return create_async_engine(url, pool_pre_ping=True, **kwargs)


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, class_=AsyncSession, expire_on_commit=False)


def table_of(model: type[SQLModel]) -> Table:
    """The Core table behind a SQLModel table class (for bulk statements on hot paths)."""
    table = model.__table__  # type: ignore[attr-defined]
    assert isinstance(table, Table)
    return table


async def create_tables(engine: AsyncEngine, tables: Iterable[Table]) -> None:
    """Create the given tables if missing: for test kits' own tables. The apps' schemas are migrated instead
    (``civic.migrations``).

    Each service declares its tables on a registry (and so a MetaData) of its own, so that two services may
    both have, say, a ``policy_parameter`` table when they run in one process (as the tests run them).
    """
    by_metadata: dict[int, tuple[MetaData, list[Table]]] = {}
    for table in tables:
        by_metadata.setdefault(id(table.metadata), (table.metadata, []))[1].append(table)
    async with engine.begin() as conn:
        for metadata, group in by_metadata.values():
            await conn.run_sync(metadata.create_all, tables=group)


async def ping(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        await conn.execute(text("SELECT 1"))


async def session_scope(maker: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    async with maker() as session:
        yield session


async def create_database_if_missing(url: str) -> None:
    """Create the PostgreSQL database ``url`` names, if it does not exist (local use and tests: in production
    the databases are the operator's, made with the cluster)."""
    target = make_url(url)
    if target.get_backend_name() != "postgresql" or not target.database:
        return
    server = create_async_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        async with server.connect() as conn:
            found = await conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :name"),
                                      {"name": target.database})  # fmt: skip
            if not found:
                quoted = target.database.replace('"', '""')
                try:
                    await conn.execute(text(f'CREATE DATABASE "{quoted}"'))
                except ProgrammingError as exc:  # another process made it first
                    if "already exists" not in str(exc):
                        raise
    finally:
        await server.dispose()
