"""Shared fixtures: a real Kafka-protocol broker (embedded Tansu), and a real PostgreSQL for the tests that
need one (SQLite files per test are made with ``tmp_path``)."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import tempfile
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from civic.broker import EmbeddedBroker, ensure_topics, free_port, system_topics

# Test runs must never pick up a developer's local settings.
for _name in [n for n in os.environ if n.startswith("CIVIC_")]:
    del os.environ[_name]


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--database", choices=("sqlite", "postgresql"), default="sqlite",
        help="where the apps under test keep their data: SQLite files (default), or databases on a PostgreSQL "
        "server the tests start themselves, one per app and test, migrated at start",
    )  # fmt: skip


# What an app started by a test (in-process or by `civic up`) needs to find its database in the PostgreSQL run.
# Kept in os.environ, not in a module global: pytest may import this file twice (as conftest and tests.conftest).
DATABASE_SETTINGS = ("CIVIC_DATABASE_URL", "CIVIC_CREATE_DATABASE", "CIVIC_MIGRATE_ON_START")


def database_env() -> dict[str, str]:
    """The database settings of this run, for a process that is started without the other CIVIC_ variables."""
    return {name: os.environ[name] for name in DATABASE_SETTINGS if name in os.environ}


@pytest.fixture(scope="session", autouse=True)
def database_mode(request: pytest.FixtureRequest) -> str:
    mode = str(request.config.getoption("--database"))
    if mode == "postgresql":
        server: Postgres = request.getfixturevalue("postgres")
        os.environ.update({
            # {instance} is a hash of the data directory: each test's tmp_path gets databases of its own.
            "CIVIC_DATABASE_URL": f"postgresql+asyncpg://postgres@127.0.0.1:{server.port}/{{service}}_{{instance}}",
            "CIVIC_CREATE_DATABASE": "true",
            "CIVIC_MIGRATE_ON_START": "true",
        })  # fmt: skip
    return mode


@pytest.fixture(scope="session")
def broker() -> Iterator[EmbeddedBroker]:
    """One broker for the session; tests isolate themselves with their own topics and group names."""
    with EmbeddedBroker() as b:
        asyncio.run(ensure_topics(b.bootstrap, [*system_topics(), "civic.testkit"], partitions=3))
        yield b


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float = 30.0, what: str = "condition") -> None:
    """Poll ``check`` until it holds; fail with ``what`` after ``timeout`` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await check():
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(0.02)


def _postgres_bin() -> Path:
    """The directory with initdb/pg_ctl: on PATH, /usr/local/bin, or Debian's /usr/lib/postgresql/<v>/bin."""
    candidates = [Path(p).parent for p in [shutil.which("initdb")] if p]
    candidates += [Path("/usr/local/bin"), *sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)]
    for directory in candidates:
        if (directory / "initdb").exists() and (directory / "pg_ctl").exists():
            return directory
    pytest.fail("PostgreSQL server binaries not found: install them (Debian: apt-get install postgresql); .ci/run does")


@dataclass
class Postgres:
    port: int
    admin_url: str

    def database(self, name: str) -> str:
        """A new, empty database; its SQLAlchemy async URL."""
        subprocess.run(["psql", self.admin_url, "-q", "-c", f'CREATE DATABASE "{name}"'], check=True,
                       capture_output=True)  # fmt: skip
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/{name}"


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    """A throwaway PostgreSQL cluster for the session (PostgreSQL refuses to run as root: run it as postgres)."""
    bindir = _postgres_bin()
    # Not under pytest's tmp dir: that is private to root, and the server runs as the postgres user.
    base = Path(tempfile.mkdtemp(prefix="civic-pg-"))
    data, sock = base / "data", base / "sock"
    sock.mkdir()
    port = free_port()
    as_postgres: list[str] = []
    if os.geteuid() == 0:
        shutil.chown(base, "postgres")
        shutil.chown(sock, "postgres")
        as_postgres = ["runuser", "-u", "postgres", "--"]
    subprocess.run([*as_postgres, str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust",
                    "-E", "UTF8", "--locale=C.UTF-8"], check=True, capture_output=True)  # fmt: skip
    # Many apps at once, each with a connection pool: the default 100 connections is not enough.
    options = f"-c listen_addresses=127.0.0.1 -p {port} -k {sock} -c fsync=off -c max_connections=500"
    subprocess.run([*as_postgres, str(bindir / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(base / "log"),
                    "-w", "start"], check=True, capture_output=True)  # fmt: skip
    try:
        yield Postgres(port, f"postgresql://postgres@127.0.0.1:{port}/postgres")
    finally:
        subprocess.run([*as_postgres, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
                       capture_output=True)  # fmt: skip
        shutil.rmtree(base, ignore_errors=True)
