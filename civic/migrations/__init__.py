"""Schema migrations: one Alembic history per app, run by one environment shared by all of them.

Each app keeps its revisions in ``<package>/migrations/`` (``services/assistance/migrations/0001_initial.py``);
the environment (``env.py``) and the revision template live here, so no app carries a copy. The tables an app
declares (its own and the kernel's outbox and inbox) are the target the revisions must match; a test fails when
they drift apart (``civic db check``).

Migrations are a step of their own in production (``civic db upgrade <app>``: a compose one-off, a Kubernetes
Job), and run in one transaction under an advisory lock on PostgreSQL, so two replicas running it at once take
turns and the second finds nothing to do. A service never migrates a PostgreSQL database by itself unless told
to (``CIVIC_MIGRATE_ON_START``); it refuses to start when the schema is behind, saying which revision it needs.
For the local SQLite files of ``civic up`` and the tests, the service upgrades its own file at start.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import MetaData, Table, inspect, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

ENVIRONMENT = Path(__file__).parent
VERSION_TABLE = "alembic_version"
# Any fixed number: the key of the PostgreSQL advisory lock that makes concurrent upgrades take turns.
_LOCK_KEY = 0x63697669


class SchemaBehind(RuntimeError):
    """The database's schema is not the one this code was written for."""


@dataclass(frozen=True)
class Schema:
    """What one app's database must look like: its tables, and the revisions that build them."""

    app: str
    tables: Sequence[Table]
    versions: Path

    def metadata(self) -> MetaData:
        """The app's tables alone, on a MetaData of their own (an app's tables may share one with others')."""
        metadata = MetaData()
        for table in self.tables:
            table.to_metadata(metadata)
        return metadata

    def config(self, connection: Connection | None = None) -> Config:
        config = Config()
        config.set_main_option("script_location", str(ENVIRONMENT))
        config.set_main_option("version_locations", str(self.versions))
        config.set_main_option("path_separator", "os")
        config.attributes["schema"] = self
        if connection is not None:
            config.attributes["connection"] = connection
        return config

    def heads(self) -> set[str]:
        return set(_script(str(self.versions)).get_heads())


@cache
def _script(versions: str) -> ScriptDirectory:
    # Reading the revision files costs tens of milliseconds; the tests start hundreds of apps.
    config = Config()
    config.set_main_option("script_location", str(ENVIRONMENT))
    config.set_main_option("version_locations", versions)
    config.set_main_option("path_separator", "os")
    return ScriptDirectory.from_config(config)


def schema_of(app: str) -> Schema:
    """The schema of ``gateway`` or a domain service, from the app its module builds."""
    module = "gateway.main" if app == "gateway" else f"services.{app}.main"
    service = importlib.import_module(module).app.state.service
    schema = service.schema
    assert isinstance(schema, Schema), f"{module} declares no migrations"
    return schema


async def upgrade(engine: AsyncEngine, schema: Schema, revision: str = "head") -> list[str]:
    """Bring the database to ``revision``; returns the revisions applied (none when it was already there)."""
    async with engine.begin() as conn:
        return await conn.run_sync(_upgrade, schema, revision)


def _upgrade(conn: Connection, schema: Schema, revision: str) -> list[str]:
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})
    before = _current(conn)
    if not before and _has_unversioned_tables(conn, schema):
        _adopt(conn, schema)
        before = _current(conn)
    command.upgrade(schema.config(conn), revision)
    after = _current(conn)
    if after == before:
        return []
    script = _script(str(schema.versions))
    lower = next(iter(before)) if before else None
    return [r.revision for r in reversed(list(script.iterate_revisions(next(iter(after)), lower)))]


async def verify(engine: AsyncEngine, schema: Schema) -> None:
    """Raise ``SchemaBehind`` unless the database is at this code's head revision."""
    async with engine.connect() as conn:
        current = await conn.run_sync(_current)
    heads = schema.heads()
    if current != heads:
        at = ", ".join(sorted(current)) or "no revision (an empty or unmigrated database)"
        raise SchemaBehind(
            f"the {schema.app} database is at {at}, and this version needs {', '.join(sorted(heads))}: run "
            f"`civic db upgrade {schema.app}` (the migration job) before starting it"
        )


async def differences(engine: AsyncEngine, schema: Schema) -> list[Any]:
    """What autogenerate would change to make the database match the declared tables (empty when they agree)."""
    async with engine.connect() as conn:
        return await conn.run_sync(_differences, schema)


async def require_no_drift(engine: AsyncEngine, schema: Schema) -> None:
    diffs = await differences(engine, schema)
    if diffs:
        shown = "; ".join(_describe(d) for d in diffs[:5]) + (" …" if len(diffs) > 5 else "")
        raise SchemaBehind(
            f"the {schema.app} tables declared in code differ from its migrations ({shown}): write the revision "
            f"with `.venv/bin/civic db revision {schema.app} -m '<what changed>'`, read it, and commit it"
        )


def _describe(diff: Any) -> str:
    # compare_metadata gives tuples like ("add_column", schema, table, Column) or lists of them for modifications.
    if isinstance(diff, list):
        diff = diff[0]
    kind, *rest = diff
    names = [getattr(x, "name", None) or (x if isinstance(x, str) else None) for x in rest]
    return " ".join([kind, *[n for n in names if n]])


def _differences(conn: Connection, schema: Schema) -> list[Any]:
    context = MigrationContext.configure(conn, opts={"compare_type": True, "include_object": include_object})
    return list(compare_metadata(context, schema.metadata()))


def include_object(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
    # The version table is Alembic's own.
    return not (type_ == "table" and name == VERSION_TABLE)


def _current(conn: Connection) -> set[str]:
    return set(MigrationContext.configure(conn).get_current_heads())


def _has_unversioned_tables(conn: Connection, schema: Schema) -> bool:
    existing = set(inspect(conn).get_table_names())
    return bool(existing & {t.name for t in schema.tables})


def _adopt(conn: Connection, schema: Schema) -> None:
    """A database made by ``create_all`` before there were migrations: take it over if it already matches the
    first revision's tables exactly, and say what to do if not (local data from an older checkout)."""
    diffs = _differences(conn, schema)
    if diffs:
        raise SchemaBehind(
            f"the {schema.app} database has tables but no migration history, and they differ from this "
            f"version's ({len(diffs)} differences, e.g. {diffs[0]}). It was made by an older checkout: for local "
            "data, delete the database file (it lives in the data directory) and start again"
        )
    command.stamp(schema.config(conn), "head")


def revision(schema: Schema, message: str, scratch: Path) -> str:
    """Write a new revision for what the declared tables have that the migrations do not (autogenerate against a
    scratch SQLite database upgraded to the current head). Returns the new file's path."""
    from sqlalchemy import create_engine

    engine = create_engine(f"sqlite:///{scratch}")
    try:
        with engine.begin() as conn:
            command.upgrade(schema.config(conn), "head")
            number = len(list(_script(str(schema.versions)).walk_revisions())) + 1
            script = command.revision(schema.config(conn), message=message, autogenerate=True, rev_id=f"{number:04d}")
    finally:
        engine.dispose()
    _script.cache_clear()
    scripts = script if isinstance(script, list) else [script]
    return ", ".join(s.path for s in scripts if s is not None)


def versions_of(package_file: str) -> Path:
    """``<package>/migrations``, for an app's ``main.py`` to name its revisions."""
    return Path(package_file).resolve().parent / "migrations"
