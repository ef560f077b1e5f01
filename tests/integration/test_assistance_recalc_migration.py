"""A recalculation interrupted across the upgrade to the walk by household (revision 0011) starts over: its cursor
was a case id, which means nothing to the new walk. Its ranges are forgotten and its counts reset; a finished
job is left as it was."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from pathlib import Path

from sqlalchemy import text

from civic import db, migrations
from tests.kit import settings_for

JOB = "INSERT INTO recalculation_job (id, region_code, effective_from, cursor, examined, changed, started_at, finished_at) VALUES (:id, '371000', :effective, :cursor, 40, 7, :started, :finished)"  # fmt: skip
SHARD = "INSERT INTO recalculation_shard (job_id, shard, after, through, cursor, examined, changed) VALUES (:job, :shard, :after, :through, :cursor, 20, 3)"  # fmt: skip


def job(job_id: str, cursor: str, finished: datetime | None = None) -> dict[str, object]:
    started = datetime(2026, 12, 1, 1, tzinfo=UTC)
    return {"id": job_id, "cursor": cursor, "effective": date(2026, 12, 1), "started": started, "finished": finished}


async def test_an_unfinished_job_starts_over_and_a_finished_one_stays(tmp_path: Path) -> None:
    settings = settings_for(f"assistance-{uuid.uuid4().hex[:6]}", tmp_path, "127.0.0.1:1")
    if settings.create_database:
        await db.create_database_if_missing(settings.resolved_database_url())
    schema = migrations.schema_of("assistance")
    engine = db.make_engine(settings.resolved_database_url())
    try:
        await migrations.upgrade(engine, schema, "0010")
        async with engine.begin() as conn:
            await conn.execute(text(JOB), job("371000:unfinished", ""))
            for shard, after, through in ((0, "", "c-0500"), (1, "c-0500", "")):
                await conn.execute(text(SHARD), {"job": "371000:unfinished", "shard": shard, "after": after,
                                                 "through": through, "cursor": f"{after}x"})  # fmt: skip
            await conn.execute(text(JOB), job("371000:one-process", "c-0042"))
            await conn.execute(text(JOB), job("371000:finished", "c-0999", datetime(2026, 12, 1, 2, tzinfo=UTC)))
            await conn.execute(text(SHARD), {"job": "371000:finished", "shard": 0, "after": "", "through": "",
                                             "cursor": "c-0999"})  # fmt: skip
        assert await migrations.upgrade(engine, schema) == ["0011"]
        async with engine.connect() as conn:
            jobs = (await conn.execute(text("SELECT id, cursor, examined, changed FROM recalculation_job ORDER BY id"))).all()  # fmt: skip
            shards = (await conn.execute(text("SELECT job_id, shard, cursor FROM recalculation_shard"))).all()
    finally:
        await engine.dispose()
    assert [tuple(j) for j in jobs] == [
        ("371000:finished", "c-0999", 40, 7),
        ("371000:one-process", "", 0, 0),
        ("371000:unfinished", "", 0, 0),
    ]
    assert [tuple(s) for s in shards] == [("371000:finished", 0, "c-0999")], "an unfinished job's ranges forgotten"
