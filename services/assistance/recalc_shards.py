"""A large recalculation spread over processes (PostgreSQL): the cases split into disjoint ranges of households
when the job starts (``split``), each range worked by the chunk loop (``recalc_chunks.work_range``) in a process
of its own — the service's, and children it starts (``python -m services.assistance.recalc_shards``) — with its
own cursor.

Why processes: the job's Python is one core's work, and it was the critical path (the database's work ran beside
it, on the other core, which stayed half idle). On two cores, from copies of one seeded cluster, alternating, a
million benefits took 93.7 and 95.6 s in one process, 72.1 and 69.9 s in two (2026-12-07). At 200,000 the child's
start (~2 s of CPU on a slow day) ate the gain: hence a range of at least ``MIN_CASES_PER_SHARD``.

Nothing is lost or done twice: each range commits its cursor with each chunk, as a one-process job does; a child
that dies loses its chunk in hand, the job fails, and the next run resumes every unfinished range from its
cursor, with the ranges fixed when the job started. A child is killed with its parent (``parent_death_preexec``)
and when the job is cancelled or another range fails, so no range is ever worked by two processes of one service.
"""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import sys
from collections.abc import Coroutine
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from pydantic import SecretStr
from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col
from sqlmodel import select as orm_select
from sqlmodel.ext.asyncio.session import AsyncSession

from civic import db
from civic.broker import parent_death_preexec
from civic.config import Settings
from civic.db import table_of
from civic.logs import setup_logging
from civic.outbox import Outbox
from services.assistance import rules
from services.assistance.models import Case, RecalculationShard
from services.assistance.recalc_chunks import CHUNK, Progress, RangeDone, work_range

MODULE = "services.assistance.recalc_shards"
# Fewer cases per range than this are not worth a process: its start (imports, an engine) costs 1-2 s of CPU, the
# time the job takes for ~20,000 cases.
MIN_CASES_PER_SHARD = 50_000
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Workers:
    """How many processes a job may use (``Settings.batch_workers``), the settings each child builds its engine and
    outbox from, and the fewest cases per range worth a process."""

    settings: Settings
    count: int
    min_cases: int = MIN_CASES_PER_SHARD

    @classmethod
    def of(cls, settings: Settings) -> Workers | None:
        return cls(settings, settings.batch_workers) if settings.batch_workers > 1 else None


async def shards_of(session: AsyncSession, job_id: str) -> list[RecalculationShard]:
    rows = await session.exec(
        orm_select(RecalculationShard)
        .where(RecalculationShard.job_id == job_id)
        .order_by(col(RecalculationShard.shard))
    )
    return list(rows.all())


async def forget_shards(session: AsyncSession, job_id: str) -> None:
    """A finished job run again is split again: the cases may have grown."""
    shards = table_of(RecalculationShard)
    await (await session.connection()).execute(delete(shards).where(shards.c.job_id == job_id))


async def split(session: AsyncSession, job_id: str, workers: Workers) -> list[RecalculationShard]:
    """The job's ranges of households, about equal in cases, added to ``session`` (the caller commits); none if
    there are too few cases for more than one. Cases added later fall in a range by their household: the last
    has no upper bound."""
    c = table_of(Case).c
    conn = await session.connection()
    with_household = c.household_id.is_not(None)
    total = (await conn.execute(select(func.count()).select_from(table_of(Case)).where(with_household))).scalar_one()
    count = min(workers.count, total // max(1, workers.min_cases))
    if count < 2:
        return []
    bounds = [""]
    for k in range(1, count):  # an index walk to each bound: ~0.1 s at a million
        at = (await conn.execute(select(c.household_id).where(with_household).order_by(c.household_id)
                                 .offset(total * k // count - 1).limit(1))).scalar_one()  # fmt: skip
        bounds.append(at)
    shards = [RecalculationShard(job_id=job_id, shard=k, after=bounds[k], cursor=bounds[k],
                                 through=bounds[k + 1] if k + 1 < count else "") for k in range(count)]  # fmt: skip
    session.add_all(shards)
    return shards


async def work_shard(
    sessions: async_sessionmaker[AsyncSession], outbox: Outbox, policy: rules.Policy, region_code: str,
    effective_from: date, shard: RecalculationShard, *, chunk: int, max_cases: int | None, overlap: bool,
) -> RangeDone:  # fmt: skip
    """Work one range in this process, from its cursor; mark it finished when it reaches its end."""
    start = Progress(shard.job_id, shard.cursor, shard.examined, shard.changed, shard.shard)
    done = await work_range(sessions, outbox, policy, region_code, effective_from, start, shard.through,
                            chunk=chunk, max_cases=max_cases, overlap=overlap)  # fmt: skip
    if not done.finished:
        return done
    async with sessions() as session:
        shards = table_of(RecalculationShard)
        await (await session.connection()).execute(
            update(shards).where(shards.c.job_id == shard.job_id, shards.c.shard == shard.shard)
            .values(finished_at=datetime.now(UTC))
        )  # fmt: skip
        await session.commit()
    return done


async def work_shards(
    sessions: async_sessionmaker[AsyncSession], outbox: Outbox, policy: rules.Policy, region_code: str,
    effective_from: date, shards: list[RecalculationShard], workers: Workers | None, *, chunk: int,
    max_cases: int | None, overlap: bool,
) -> RangeDone:  # fmt: skip
    """Work the job's unfinished ranges: the first in this process, the others each in a child, side by side;
    without ``workers`` (the setting is 1 now, for a job split before), one after the other here."""
    pending = [shard for shard in shards if shard.finished_at is None]
    if not pending:
        return RangeDone(0, 0, True)

    def here(shard: RecalculationShard) -> Coroutine[Any, Any, RangeDone]:
        return work_shard(sessions, outbox, policy, region_code, effective_from, shard, chunk=chunk,
                          max_cases=max_cases, overlap=overlap)  # fmt: skip

    if workers is None:
        done = [await here(shard) for shard in pending]
    else:
        own, *others = pending
        log.info("recalculation %s: %d ranges to work, %d of them in child processes", own.job_id, len(pending),
                 len(others))  # fmt: skip
        try:
            async with asyncio.TaskGroup() as group:
                tasks = [group.create_task(here(own))]
                tasks += [group.create_task(in_child(workers.settings, region_code, effective_from, s,
                                                     chunk=chunk, max_cases=max_cases)) for s in others]  # fmt: skip
        except BaseExceptionGroup as failed:  # the others were cancelled (children killed): raise the first cause
            raise failed.exceptions[0] from failed
        done = [task.result() for task in tasks]
    return RangeDone(sum(d.examined for d in done), sum(d.changed for d in done), all(d.finished for d in done))


class RangeFailed(RuntimeError):
    """A child working a range exited without finishing it (its error is in the service's log, from its stderr)."""


async def in_child(
    settings: Settings, region_code: str, effective_from: date, shard: RecalculationShard, *, chunk: int,
    max_cases: int | None,
) -> RangeDone:  # fmt: skip
    """Work one range in a child process; killed if this is cancelled."""
    request = {"settings": settings_values(settings), "job_id": shard.job_id, "shard": shard.shard,
               "region_code": region_code, "effective_from": effective_from.isoformat(), "chunk": chunk,
               "max_cases": max_cases}  # fmt: skip
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-m", MODULE, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        preexec_fn=parent_death_preexec(),
    )  # fmt: skip
    try:
        out, _ = await child.communicate(json.dumps(request, default=str).encode())
    except BaseException:
        if child.returncode is None:
            child.kill()  # its transaction in hand rolls back with its connection; its cursor is where it committed
            await child.wait()
        raise
    if child.returncode != 0:
        raise RangeFailed(
            f"recalculation {shard.job_id}, range {shard.shard}: the child exited with {child.returncode}"
        )
    done = json.loads(out.decode().strip().splitlines()[-1])
    return RangeDone(int(done["examined"]), int(done["changed"]), bool(done["finished"]))


def settings_values(settings: Settings) -> dict[str, Any]:
    """The settings as the child builds them again, secrets included (they go through a pipe, not argv)."""
    return {name: value.get_secret_value() if isinstance(value, SecretStr) else value for name, value in settings}


async def _child(settings: Settings, request: dict[str, Any]) -> RangeDone:
    from services.assistance.policy_store import current_policy  # the service's modules; a child needs no web app

    engine = db.make_engine(settings.resolved_database_url())
    sessions, outbox = db.make_sessionmaker(engine), Outbox(settings)
    try:
        async with sessions() as session:
            shard = await session.get(RecalculationShard, (request["job_id"], request["shard"]))
            policy = await current_policy(session)
        if shard is None:
            raise RangeFailed(f"no range {request['shard']} of recalculation {request['job_id']}")
        # What the imports built lives as long as the child: out of the cyclic collector's walks (as
        # ``civic.app.startup_heap_frozen`` does for a service).
        gc.freeze()
        return await work_shard(sessions, outbox, policy, request["region_code"],
                                date.fromisoformat(request["effective_from"]), shard,
                                chunk=int(request.get("chunk") or CHUNK), max_cases=request.get("max_cases"),
                                overlap=engine.dialect.name == "postgresql")  # fmt: skip
    finally:
        await engine.dispose()


def main() -> int:
    """A child's life: the request on stdin, the service's logging (resident IDs masked, even in a traceback of a
    refused row), the range worked, what it did on stdout as one line of JSON; exit 1 if it failed."""
    request = json.loads(sys.stdin.read())
    settings = Settings(**request["settings"])
    setup_logging(settings.service_name, settings.log_level, settings.log_json)
    try:
        done = asyncio.run(_child(settings, request))
    except Exception:
        log.exception("recalculation %s: range %s failed", request.get("job_id"), request.get("shard"))
        return 1
    print(json.dumps({"examined": done.examined, "changed": done.changed, "finished": done.finished}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
