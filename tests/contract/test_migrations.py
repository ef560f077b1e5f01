"""Each app's Alembic history builds exactly the tables its code declares, on SQLite and on PostgreSQL; upgrading
is safe to repeat and to race; a service whose PostgreSQL schema is behind refuses to start and says why."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from civic import db, migrations
from civic.app import KERNEL_TABLES
from civic.config import DOMAINS
from services.funeral.main import build_app as build_funeral
from tests.conftest import Postgres
from tests.kit import settings_for

APPS = ("gateway", *DOMAINS)


@pytest.mark.parametrize("app", APPS)
async def test_migrations_build_exactly_the_declared_tables_on_sqlite(app: str, tmp_path: Path) -> None:
    schema = migrations.schema_of(app)
    engine = db.make_engine(f"sqlite+aiosqlite:///{tmp_path / 'schema.db'}")
    try:
        applied = await migrations.upgrade(engine, schema)
        assert applied[0] == "0001" and set(applied[-1:]) == schema.heads()
        assert await migrations.differences(engine, schema) == [], "models and migrations disagree"
        assert await migrations.upgrade(engine, schema) == [], "a second upgrade has nothing to do"
        await migrations.verify(engine, schema)
    finally:
        await engine.dispose()


@pytest.mark.parametrize("app", APPS)
async def test_migrations_build_exactly_the_declared_tables_on_postgresql(app: str, postgres: Postgres) -> None:
    schema = migrations.schema_of(app)
    engine = db.make_engine(postgres.database(f"schema_{app}_{uuid.uuid4().hex[:8]}"))
    try:
        await migrations.upgrade(engine, schema)
        assert await migrations.differences(engine, schema) == [], "models and migrations disagree"
        tables = set(await _table_names(engine))
        assert {t.name for t in schema.tables} | {"alembic_version"} == tables
        assert {t.name for t in KERNEL_TABLES} <= tables, "every app has the outbox and the inbox"
    finally:
        await engine.dispose()


async def test_two_replicas_upgrading_at_once_take_turns(postgres: Postgres) -> None:
    url = postgres.database(f"race_{uuid.uuid4().hex[:8]}")
    schema = migrations.schema_of("assistance")
    engines = [db.make_engine(url), db.make_engine(url)]
    try:
        results = await asyncio.gather(*(migrations.upgrade(e, schema) for e in engines))
        first, second = results
        assert [] in results and (first or second), "one applied the revisions, the other found them applied"
        assert await migrations.differences(engines[0], schema) == []
    finally:
        for engine in engines:
            await engine.dispose()


async def test_a_service_refuses_to_start_on_a_schema_behind_until_the_migration_step_ran(
    postgres: Postgres, tmp_path: Path
) -> None:
    url = postgres.database(f"behind_{uuid.uuid4().hex[:8]}")
    settings = settings_for("funeral", tmp_path, "127.0.0.1:1", database_url=url, migrate_on_start=False)
    app = build_funeral(settings)
    with pytest.raises(migrations.SchemaBehind, match=r"no revision .* run `civic db upgrade funeral`"):
        async with app.router.lifespan_context(app):
            pass

    # The operator's migration step, as the Kubernetes Job and the compose one-off run it.
    civic = Path(sys.executable).parent / "civic"
    env = {**os.environ, "CIVIC_DATABASE_URL": url}
    done = subprocess.run([str(civic), "db", "upgrade", "funeral"], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "funeral: upgraded through 0001" in done.stdout
    again = subprocess.run([str(civic), "db", "upgrade", "funeral"], env=env, capture_output=True, text=True)
    assert "funeral: already up to date" in again.stdout
    checked = subprocess.run([str(civic), "db", "check", "funeral"], env=env, capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr

    engine = db.make_engine(url)
    try:
        await migrations.verify(engine, migrations.schema_of("funeral"))  # what the service checks at start
    finally:
        await engine.dispose()


async def test_a_local_database_from_before_migrations_is_taken_over_or_explained(tmp_path: Path) -> None:
    schema = migrations.schema_of("marriage")
    same = db.make_engine(f"sqlite+aiosqlite:///{tmp_path / 'same.db'}")
    older = db.make_engine(f"sqlite+aiosqlite:///{tmp_path / 'older.db'}")
    try:
        await db.create_tables(same, schema.tables)  # what start-up did before there were migrations
        assert await migrations.upgrade(same, schema) == []
        await migrations.verify(same, schema)

        await db.create_tables(older, schema.tables[:3])  # an older checkout had fewer tables
        with pytest.raises(migrations.SchemaBehind, match="delete the database file"):
            await migrations.upgrade(older, schema)
    finally:
        await same.dispose()
        await older.dispose()


async def _table_names(engine: AsyncEngine) -> list[str]:
    async with engine.connect() as conn:
        rows = await conn.execute(text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'"))
        return [r[0] for r in rows]
