"""A recalculation spread over processes (``recalc_shards``): on PostgreSQL the cases are split into ranges, the
first worked by the service's process and the others by children it starts, each range resumable by its own
cursor; the effects are those of one process — every changed case once, one BenefitChanged each, back-pay for
paid months — also after a child fails and the job is resumed. On SQLite (one writer) a job is never split."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.exc import DBAPIError
from sqlmodel import col, select

from services.assistance.models import CaseChange, Payment, RecalculationJob, RecalculationShard
from services.assistance.recalc import Workers, recalculate
from services.assistance.recalc_shards import RangeFailed
from tests.factories import resident_id
from tests.integration.test_assistance_recalc_batch import (
    CHANGING,
    EFFECTIVE,
    SHAPES,
    accept_history_again,
    benefit_changed_events,
    households_of,
    refuse_history_of,
    service_with_shapes,
)

JOB = f"371000:{EFFECTIVE.isoformat()}"


def three_processes(service: object) -> Workers:
    """Three processes for ten cases: ranges of three or four (the service's minimum would keep them whole)."""
    return Workers(service.settings, 3, min_cases=3)  # type: ignore[attr-defined]


async def shard_rows(service: object) -> list[RecalculationShard]:
    async with service.sessions() as session:  # type: ignore[attr-defined]
        rows = await session.exec(select(RecalculationShard).order_by(col(RecalculationShard.shard)))
        return list(rows.all())


async def effects(service: object) -> tuple[list[str], int, list[str]]:
    """The history entries by case, the BenefitChanged events, and the back-payments by case."""
    async with service.sessions() as session:  # type: ignore[attr-defined]
        history = (await session.exec(select(CaseChange.case_id))).all()
        back_pay = (await session.exec(select(Payment.case_id).where(Payment.kind == "back_pay"))).all()
        return sorted(history), await benefit_changed_events(session), sorted(back_pay)


async def test_a_job_split_over_processes_does_what_one_process_does(tmp_path: Path) -> None:
    async with service_with_shapes(tmp_path) as (service, ids):
        split = service.engine.dialect.name == "postgresql"
        first = await recalculate(service.sessions, service.outbox, "371000", EFFECTIVE, chunk=2,
                                  workers=three_processes(service))  # fmt: skip
        assert (first.examined, first.changed, first.finished) == (len(SHAPES), len(CHANGING), True)
        history, events, back_pay = await effects(service)
        assert history == sorted(ids[i] for i in CHANGING), "each changed case once"
        assert events == len(CHANGING), "one BenefitChanged per changed case"
        assert back_pay == sorted(2 * [ids[1], ids[4]]), "a rise over two paid months: the difference of each"

        shards = await shard_rows(service)
        if not split:
            assert shards == [], "SQLite: one process, one range"
            return
        assert len(shards) == 3 and all(s.finished_at is not None for s in shards)
        assert [s.after for s in shards] == ["", shards[0].through, shards[1].through] and shards[2].through == ""
        assert [s.cursor for s in shards[:2]] == [s.through for s in shards[:2]], "each range worked to its end"
        assert sum(s.examined for s in shards) == len(SHAPES)
        households = await households_of(service, ids)
        assert {s.shard for s in shards if any(s.after < households[i] <= (s.through or "~") for i in CHANGING)} == {
            0,
            1,
            2,
        }
        async with service.sessions() as session:
            job = await session.get(RecalculationJob, JOB)
        assert job is not None and (job.examined, job.changed) == (len(SHAPES), len(CHANGING))

        again = await recalculate(service.sessions, service.outbox, "371000", EFFECTIVE, chunk=2,
                                  workers=three_processes(service))  # fmt: skip
        assert (again.examined, again.changed, again.finished) == (len(SHAPES), 0, True)
        assert await effects(service) == (history, events, back_pay), "a re-run changes nothing"


async def test_an_interrupted_split_job_resumes_each_range_from_its_cursor(tmp_path: Path) -> None:
    """Stopped after one open case per range, then resumed by a service whose setting is now one process: the
    ranges fixed at the start are worked on from their cursors, in this process, one after the other."""
    async with service_with_shapes(tmp_path) as (service, ids):
        split = service.engine.dialect.name == "postgresql"
        stopped = await recalculate(service.sessions, service.outbox, "371000", EFFECTIVE, chunk=1, max_cases=1,
                                    workers=three_processes(service))  # fmt: skip
        assert not stopped.finished
        assert stopped.examined == (3 if split else 1), "one open case per range"
        shards = await shard_rows(service)
        assert len(shards) == (3 if split else 0)
        assert all(s.finished_at is None and s.examined == 1 and s.cursor > s.after for s in shards)

        resumed = await recalculate(service.sessions, service.outbox, "371000", EFFECTIVE, chunk=2)
        assert resumed.finished and resumed.examined == len(SHAPES) - stopped.examined
        assert all(s.finished_at is not None for s in await shard_rows(service))
        history, events, back_pay = await effects(service)
        assert history == sorted(ids[i] for i in CHANGING), "each changed case once"
        assert events == len(CHANGING)
        assert back_pay == sorted(2 * [ids[1], ids[4]])


async def test_a_range_that_fails_in_a_child_fails_the_job_and_the_resume_completes_it(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    """The database refuses the history row of the last changing case (in the last range: a child's on
    PostgreSQL), naming a resident. The job fails; the child's log says which range failed, with the resident ID
    masked; what committed stays, with its cursors; the resume does the rest, once."""
    async with service_with_shapes(tmp_path) as (service, ids):
        split = service.engine.dialect.name == "postgresql"
        refused, named = ids[CHANGING[-1]], resident_id()
        await refuse_history_of(service, refused, saying=f"refused for {named}")
        with pytest.raises(RangeFailed if split else DBAPIError):
            await recalculate(service.sessions, service.outbox, "371000", EFFECTIVE, chunk=2,
                              workers=three_processes(service))  # fmt: skip
        if split:
            logged = capfd.readouterr().err
            assert f"{JOB}: range 2 failed" in logged and "refused for" in logged, logged[-2000:]
            assert named not in logged, "the resident ID masked in the child's log"
        history, events, _ = await effects(service)
        assert refused not in history and events == len(history), "each event with its change, nothing else"
        async with service.sessions() as session:
            job = await session.get(RecalculationJob, JOB)
        assert job is not None and job.finished_at is None
        shards = await shard_rows(service)
        if split:
            [household] = await households_of(service, [refused])
            assert shards[-1].finished_at is None and shards[-1].cursor < household, (
                "the failed range stopped before it"
            )

        await accept_history_again(service)
        resumed = await recalculate(service.sessions, service.outbox, "371000", EFFECTIVE, chunk=2,
                                    workers=three_processes(service))  # fmt: skip
        assert resumed.finished
        history, events, back_pay = await effects(service)
        assert history == sorted(ids[i] for i in CHANGING), "each changed case once"
        assert events == len(CHANGING)
        assert back_pay == sorted(2 * [ids[1], ids[4]])
