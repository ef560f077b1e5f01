"""``civic.bulk.fetch_all`` gives a batch job's reads the driver's own records on PostgreSQL: the same rows, in the
same order, with the same values as SQLAlchemy's ``execute(...).all()`` — for text, numbers, dates and NULLs, a
list parameter used twice and a range — on both databases."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select

from civic import bulk
from civic.db import table_of
from services.assistance.models import BenefitAmount, Case, Payment
from tests.integration.test_assistance_recalc_batch import service_with_shapes


async def test_the_batch_reads_rows_are_those_sqlalchemy_gives(tmp_path: Path) -> None:
    async with service_with_shapes(tmp_path) as (service, ids):
        c, a, p = table_of(Case).c, table_of(BenefitAmount).c, table_of(Payment).c
        async with service.engine.connect() as conn:
            wanted = bulk.list_param(conn, [*ids[2:7], "no such case"])
            statements = [
                select(c.id, c.benefit, c.resident_id, c.paid_from, c.setting, c.child_category)
                .where(bulk.one_of(conn, c.id, wanted), bulk.one_of(conn, c.id, wanted), c.status == "active")
                .order_by(c.id),
                select(a.case_id, a.effective_from, a.amount_fen)
                .where(a.case_id.between(ids[1], ids[-2]))
                .order_by(a.case_id, a.effective_from),
                select(p.case_id, func.max(p.month)).where(p.case_id.between(ids[0], ids[-1])).group_by(p.case_id),
            ]
            for statement in statements:
                expected = [tuple(row) for row in (await conn.execute(statement)).all()]
                assert expected, "a read that finds rows"
                assert [tuple(row) for row in await bulk.fetch_all(conn, statement)] == expected
            cases = await bulk.fetch_all(conn, statements[0])
        assert [row[0] for row in cases] == ids[2:7]
        assert {row[4] for row in cases} == {None}, "NULL as None"
