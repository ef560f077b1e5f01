"""``civic db``: upgrade, check and extend each app's schema (the migration step of a deployment)."""

from __future__ import annotations

import asyncio
import sys
import tempfile
from pathlib import Path
from typing import Annotated

import typer

from civic import db, migrations
from civic.config import DOMAINS, Settings

db_app = typer.Typer(help="Database schemas: one Alembic history per app.", no_args_is_help=True)
APPS = ("gateway", *DOMAINS)
AppArg = Annotated[str, typer.Argument(help=f"one of {', '.join(APPS)}, or all")]


def _apps(name: str) -> list[str]:
    if name == "all":
        return list(APPS)
    if name not in APPS:
        raise typer.BadParameter(f"one of {', '.join(APPS)}, or all", param_hint="APP")
    return [name]


async def _upgrade(app: str) -> list[str]:
    settings = Settings(service_name=app)
    if settings.create_database:
        await db.create_database_if_missing(settings.resolved_database_url())
    engine = db.make_engine(settings.resolved_database_url())
    try:
        return await migrations.upgrade(engine, migrations.schema_of(app))
    finally:
        await engine.dispose()


async def _check(app: str) -> str | None:
    """None when the database is at head and matches the declared tables; otherwise what is wrong."""
    settings = Settings(service_name=app)
    engine = db.make_engine(settings.resolved_database_url())
    schema = migrations.schema_of(app)
    try:
        await migrations.verify(engine, schema)
        diffs = await migrations.differences(engine, schema)
    except migrations.SchemaBehind as exc:
        return str(exc)
    finally:
        await engine.dispose()
    return f"{len(diffs)} differences from the declared tables: {diffs}" if diffs else None


@db_app.command("upgrade")
def upgrade(app: AppArg) -> None:
    """Bring the app's database (CIVIC_DATABASE_URL, or the local SQLite file) to the latest revision. Safe to
    run twice, and from two replicas at once (they take turns)."""
    for name in _apps(app):
        applied = asyncio.run(_upgrade(name))
        print(f"{name}: upgraded through {', '.join(applied)}" if applied else f"{name}: already up to date")


@db_app.command("check")
def check(app: AppArg) -> None:
    """Fail unless the app's database is at the latest revision and matches the tables the code declares."""
    failures = [f"{name}: {problem}" for name in _apps(app) if (problem := asyncio.run(_check(name)))]
    for failure in failures:
        print(failure, file=sys.stderr)
    if failures:
        raise typer.Exit(1)
    print("schemas are up to date")


@db_app.command("revision")
def revision(
    app: AppArg, message: Annotated[str, typer.Option("--message", "-m", help="what the revision changes")]
) -> None:
    """Write a new revision for what the app's declared tables have that its migrations do not yet build."""
    for name in _apps(app):
        with tempfile.TemporaryDirectory() as scratch:
            print(migrations.revision(migrations.schema_of(name), message, Path(scratch) / "scratch.db"))
