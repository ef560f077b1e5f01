"""Recalculating benefits after a new standard (issue #4's goal): N active 低保 benefits are seeded straight into
the assistance service's database, a new standard is added from next month, and the recalculation batch job
(``services.assistance.recalc.recalculate``, the code the service's daily schedule runs) is timed; then it is run
again, when nothing changes.

    .venv/bin/python -m bench.assistance_recalc [--households N] [--database-url URL | --postgresql] [--chunk C]
                                                [--workers W]

Default N is 1,000,000 (the issue's goal); SQLite in a temporary directory unless ``--database-url`` names an
empty database, or ``--postgresql`` asks for a throwaway PostgreSQL cluster (default settings; the server
binaries as in docs: initdb/pg_ctl on PATH, /usr/local/bin or /usr/lib/postgresql/*/bin). Every household has two
members with incomes (30,000 different ones across the households), so every benefit changes and every change
writes its schedule entry, history row and BenefitChanged event (the relay is not running: the events wait in
the outbox, as they would behind a slow broker). On PostgreSQL the job may use ``--workers`` processes (the
service's ``CIVIC_BATCH_WORKERS``; default 2, this machine's cores), each working a range of the cases. Before
the job, PostgreSQL's tables are vacuumed and analysed (``settle``), as a city's have been by the day a new
standard starts.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from civic import bulk, db, migrations
from civic.app import startup_heap_frozen
from civic.config import Settings
from civic.db import table_of
from civic.identity import check_character
from civic.ids import new_id
from civic.outbox import OutboxRecord
from services.assistance.main import build_app
from services.assistance.models import BenefitAmount, Case, Household, HouseholdIncome, HouseholdMember
from services.assistance.policy_store import PolicyParameter, fixture_parameters, load_fixture
from services.assistance.recalc import CHUNK, Workers, recalculate

GOAL = "issue #4 goal: 1,000,000 households in under 60 s on this machine (PostgreSQL; 100,000 on SQLite), memory flat"
SEED_BATCH = 20_000
# Households with different means (the job assesses each distinct means once; a city's records repeat figures,
# but not all): 30,000 different incomes, a fen apart.
DISTINCT = 30_000
REGION, CITY = "371002", "371000"  # a Weihai district: the 2020 urban standard 690, the new one 750


def rid(i: int) -> str:
    """A distinct, well-formed resident ID per index: the birth date and sequence number carry the index."""
    born = date(1940, 1, 1) + timedelta(days=i // 1000)
    first17 = f"{REGION}{born:%Y%m%d}{i % 1000:03d}"
    return first17 + check_character(first17)


class ServerCpu:
    """CPU seconds used so far by a PostgreSQL server this bench started: the postmaster and its live backends,
    plus the backends it has already reaped (its children's times). Linux /proc; None where unknown."""

    def __init__(self, data_dir: Path | None = None) -> None:
        self.data_dir = data_dir

    def seconds(self) -> float | None:
        if self.data_dir is None:
            return None
        try:
            postmaster = int((self.data_dir / "postmaster.pid").read_text().split()[0])
            tick = os.sysconf("SC_CLK_TCK")
            # utime stime cutime cstime: fields 14-17 of /proc/PID/stat, after the parenthesised name
            total = sum(map(int, _stat(postmaster)[11:15]))
            for entry in Path("/proc").iterdir():
                if entry.name.isdigit() and entry.name != str(postmaster):
                    fields = _stat(int(entry.name))
                    if fields and int(fields[1]) == postmaster:
                        total += int(fields[11]) + int(fields[12])
            return total / tick
        except (OSError, ValueError, IndexError):
            return None


def _stat(pid: int) -> list[str]:
    """/proc/PID/stat's fields after the command name (state, ppid, ...); [] if the process has gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return []
    return text[text.rindex(")") + 2 :].split()


class CpuClock:
    """The job's CPU (this process and the workers it started, once they have exited) and the database server's,
    from one start, for 'where the time goes'."""

    def __init__(self, server: ServerCpu) -> None:
        self.server = server
        self.job0, self.server0 = _job_seconds(), server.seconds()

    def report(self, elapsed: float, count: int) -> str:
        job = _job_seconds() - self.job0
        text = f"CPU: the job's processes {job:.1f} s ({job / count * 1e6:.0f} µs a benefit)"
        server_now = self.server.seconds()
        if server_now is not None and self.server0 is not None:
            db_cpu = server_now - self.server0
            text += (f", the database server {db_cpu:.1f} s ({db_cpu / count * 1e6:.0f} µs a benefit); "
                     f"together {(job + db_cpu) / elapsed:.2f} cores busy over the {elapsed:.1f} s")  # fmt: skip
        return text


def _job_seconds() -> float:
    """This process's CPU and its exited children's (the job's workers; the server is not a child: pg_ctl
    daemonises it)."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def children_peak_rss_mb() -> float:
    """The largest peak resident set of the processes this one started and has waited for (Linux: KiB): after
    the job, its child processes' (the server's tools started before it, initdb and pg_ctl, are far smaller)."""
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def rss_mb() -> float:
    """The resident set now (Linux), so the job's own peak is not hidden behind the seeding's."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * resource.getpagesize() / 2**20


async def sample_rss(peak: list[float], stop: asyncio.Event) -> None:
    while not stop.is_set():
        peak[0] = max(peak[0], rss_mb())
        await asyncio.sleep(0.1)


async def seed(engine: AsyncEngine, households: int, paid_from: date) -> None:
    """Two members each; the spouse earns 400 yuan, the applicant 400 yuan less up to DISTINCT fen, so that the
    rules meet DISTINCT different households, not one a million times: (690 × 2 − income) today,
    (750 × 2 − income) from the new date."""
    tables = {m: table_of(m) for m in (Household, HouseholdMember, HouseholdIncome, Case, BenefitAmount)}
    now = datetime.now(UTC)
    for start in range(0, households, SEED_BATCH):
        rows: dict[type, list[dict[str, object]]] = {m: [] for m in tables}
        for h in range(start, min(start + SEED_BATCH, households)):
            hid, cid = new_id(), new_id()  # as the service makes them: time-ordered, in the order of creation
            applicant, spouse = rid(2 * h), rid(2 * h + 1)
            rows[Household].append({"id": hid, "region_code": REGION, "area": "urban",
                                    "applicant_resident_id": applicant, "created_at": now})  # fmt: skip
            incomes = (40_000 - h % DISTINCT, 40_000)
            for person, relation, fen in ((applicant, "本人", incomes[0]), (spouse, "配偶", incomes[1])):
                rows[HouseholdMember].append({"household_id": hid, "resident_id": person, "relation": relation,
                                              "work_capacity": True, "legal_supporter": True,
                                              "severe_disability": False, "serious_illness": False})  # fmt: skip
                rows[HouseholdIncome].append({"household_id": hid, "resident_id": person, "kind": "wages",
                                              "monthly_fen": fen})  # fmt: skip
            amount = 2 * 69_000 - sum(incomes)
            rows[Case].append({"id": cid, "benefit": "dibao", "resident_id": applicant, "region_code": REGION,
                               "household_id": hid, "paid_from": paid_from,
                               "status": "active", "opened_at": now})  # fmt: skip
            rows[BenefitAmount].append({"case_id": cid, "effective_from": paid_from, "amount_fen": amount,
                                        "cause": "bench"})  # fmt: skip
        async with engine.begin() as conn:  # COPY on PostgreSQL: a million households in about a minute
            for model, table in tables.items():
                columns = list(rows[model][0])
                await bulk.insert_rows(conn, table, columns, [tuple(r.values()) for r in rows[model]])


async def settle(engine: AsyncEngine) -> float:
    """PostgreSQL: vacuum and analyse the seeded tables and checkpoint, as autovacuum and the checkpointer would
    have long before a new standard's date. Without it, the job timed is the one that first reads the rows
    seeded a minute before: it sets the hint bits of every page and writes them out, and shares the cores with
    autovacuum working through the same tables. Returns the seconds it took (0 on SQLite)."""
    if engine.dialect.name != "postgresql":
        return 0.0
    t0 = time.perf_counter()
    async with engine.connect() as conn:
        autocommit = await conn.execution_options(isolation_level="AUTOCOMMIT")
        await autocommit.exec_driver_sql("VACUUM (ANALYZE)")
        await autocommit.exec_driver_sql("CHECKPOINT")
    return time.perf_counter() - t0


async def run(
    households: int, database_url: str | None, chunk: int, server: ServerCpu | None = None, workers: int = 1
) -> None:
    server = server or ServerCpu()
    with tempfile.TemporaryDirectory(prefix="civic-bench-recalc-") as tmp:
        settings = Settings(service_name="assistance", data_dir=Path(tmp), database_url=database_url,
                            log_json=False, log_level="WARNING", batch_workers=workers)  # fmt: skip
        app = build_app(settings)
        service = app.state.service
        engine = service.engine
        where = "SQLite" if service.settings.resolved_database_url().startswith("sqlite") else "PostgreSQL"
        processes = f"{workers} processes" if where == "PostgreSQL" and workers > 1 else "one process"
        print(f"assistance recalculation bench — {households:,} households on {where}, {processes}", flush=True)
        await migrations.upgrade(engine, service.schema)
        async with service.sessions() as session:
            await load_fixture(session, fixture_parameters())
        today = date.today()
        effective = date(today.year + (today.month == 12), today.month % 12 + 1, 1)
        t0 = time.perf_counter()
        await seed(engine, households, date(2026, 1, 1))
        async with service.sessions() as session:
            session.add(PolicyParameter(region_code=CITY, area="urban", name="dibao_standard", value="750", per="month",
                                        effective_from=effective, source="bench", added_by="bench"))  # fmt: skip
            await session.commit()
        print(f"  seeded {households:,} active benefits ({2 * households:,} members) in {time.perf_counter() - t0:.1f} s; "
              f"peak RSS so far {peak_rss_mb():.0f} MB", flush=True)  # fmt: skip
        if settled := await settle(engine):
            print(f"  vacuumed, analysed and checkpointed in {settled:.1f} s: the tables as a city's are on the day, "
                  f"not just written", flush=True)  # fmt: skip

        # The job as the service runs it, inside the app's lifespan: start-up's objects frozen.
        with startup_heap_frozen():
            rss_before, peak, stop = rss_mb(), [0.0], asyncio.Event()
            children_before = children_peak_rss_mb()
            sampler = asyncio.create_task(sample_rss(peak, stop))
            t0, cpu = time.perf_counter(), CpuClock(server)
            result = await recalculate(service.sessions, service.outbox, CITY, effective, chunk=chunk,
                                       workers=Workers.of(settings))  # fmt: skip
            elapsed = time.perf_counter() - t0
            cpu_text = cpu.report(elapsed, result.examined)
            stop.set()
            await sampler
            assert result.finished and result.changed == households, result
            children_after = children_peak_rss_mb()
            in_children = (f"; each of its child processes at most {children_after:.0f} MB"
                           if children_after > children_before else "")  # fmt: skip
            print(f"  recalculation: {result.examined:,} examined, {result.changed:,} changed in {elapsed:.1f} s → "
                  f"{result.examined / elapsed:,.0f} benefits/s; RSS {rss_before:.0f} MB before the job, at most "
                  f"{max(peak[0], rss_mb()):.0f} MB during it{in_children}", flush=True)  # fmt: skip
            print(f"    {cpu_text}", flush=True)
            t0, cpu = time.perf_counter(), CpuClock(server)
            again = await recalculate(service.sessions, service.outbox, CITY, effective, chunk=chunk,
                                      workers=Workers.of(settings))  # fmt: skip
            rerun = time.perf_counter() - t0
            cpu_text = cpu.report(rerun, again.examined)
            assert again.changed == 0, again
            print(f"  re-run (nothing to change): {again.examined:,} examined in {rerun:.1f} s → "
                  f"{again.examined / rerun:,.0f} benefits/s", flush=True)  # fmt: skip
            print(f"    {cpu_text}", flush=True)
            async with engine.connect() as conn:
                pending = (await conn.execute(select(func.count()).select_from(table_of(OutboxRecord)))).scalar_one()
            print(f"  events written: {pending:,} BenefitChanged in the outbox (one per changed benefit)")
        goal_rate = 1_000_000 / 60
        verdict = "meets" if result.examined / elapsed >= goal_rate else "does NOT meet"
        print(
            f"  {GOAL}: {goal_rate:,.0f} benefits/s needed — this run {verdict} that rate"
            f"{'' if households >= 1_000_000 else f' (measured at {households:,}, not at the million)'}"
        )
        await engine.dispose()


@contextmanager
def throwaway_postgresql() -> Iterator[tuple[str, ServerCpu]]:
    """A PostgreSQL cluster of its own, default settings, on a free port: the URL of an empty database in it, and
    the server's CPU clock."""
    candidates = [Path(p).parent for p in [shutil.which("initdb")] if p]
    candidates += [Path("/usr/local/bin"), *sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)]
    bindir = next((d for d in candidates if (d / "initdb").exists() and (d / "pg_ctl").exists()), None)
    if bindir is None:
        raise SystemExit("PostgreSQL server binaries not found (Debian: apt-get install postgresql)")
    base = Path(tempfile.mkdtemp(prefix="civic-bench-pg-"))
    data, sock = base / "data", base / "sock"
    sock.mkdir()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    as_postgres: list[str] = []
    if os.geteuid() == 0:  # PostgreSQL refuses to run as root
        shutil.chown(base, "postgres")
        shutil.chown(sock, "postgres")
        as_postgres = ["runuser", "-u", "postgres", "--"]
    subprocess.run([*as_postgres, str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust",
                    "-E", "UTF8", "--locale=C.UTF-8"], check=True, capture_output=True)  # fmt: skip
    subprocess.run([*as_postgres, str(bindir / "pg_ctl"), "-D", str(data), "-o",
                    f"-c listen_addresses=127.0.0.1 -p {port} -k {sock}", "-l", str(base / "log"), "-w", "start"],
                   check=True, capture_output=True)  # fmt: skip
    try:
        url = f"postgresql+asyncpg://postgres@127.0.0.1:{port}/assistance"
        asyncio.run(db.create_database_if_missing(url))
        yield url, ServerCpu(data)
    finally:
        subprocess.run([*as_postgres, str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast", "stop"],
                       capture_output=True)  # fmt: skip
        shutil.rmtree(base, ignore_errors=True)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--households", type=int, default=1_000_000, help="active benefits to seed (default 1,000,000)")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--database-url", default=None, help="an empty database (default: SQLite in a temp dir)")
    where.add_argument("--postgresql", action="store_true", help="a throwaway PostgreSQL cluster of its own")
    parser.add_argument("--chunk", type=int, default=CHUNK, help=f"cases per transaction of the job (default {CHUNK})")
    parser.add_argument("--workers", type=int, default=2, choices=range(1, 17), metavar="W",
                        help="processes the job may use on PostgreSQL (CIVIC_BATCH_WORKERS; default 2)")  # fmt: skip
    args = parser.parse_args(argv)
    if args.households < 1:
        parser.error("--households must be at least 1")
    if args.postgresql:
        with throwaway_postgresql() as (url, server):
            asyncio.run(run(args.households, url, args.chunk, server, args.workers))
    else:
        asyncio.run(run(args.households, args.database_url, args.chunk, workers=args.workers))
    return 0


if __name__ == "__main__":
    sys.exit(main())
