"""A database that loaded eldercare's policy fixture before the invented 371000 visit figure was withdrawn loses it
when upgraded (revision 0006), and the national nursing-bed target gets its honest label; a figure an operator
entered under the same key stays."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from sqlalchemy import text

from civic import db, migrations
from services.eldercare.policy_store import fixture_parameters

INVENTED = (
    "assumption (not in seeds): a city visiting elders living alone every 3 days, to show a regional figure; "
    "set the local figure"
)
OLD_LABEL = "domain.md §2 and seed 000: nursing-type beds 55% of institution beds (2022 target)"


async def test_upgrading_withdraws_the_invented_visit_figure_and_relabels_the_borrowed_national_target(
    tmp_path: Path,
) -> None:
    schema = migrations.schema_of("eldercare")
    engine = db.make_engine(f"sqlite+aiosqlite:///{tmp_path / 'eldercare.db'}")
    insert = text("INSERT INTO policy_parameter (region_code, name, effective_from, value, source) "
                  "VALUES (:region, :name, :day, :value, :source)")  # fmt: skip
    try:
        await migrations.upgrade(engine, schema, "0005")
        async with engine.begin() as conn:
            for row in (
                ("371000", "visit_interval_days_alone", date(2024, 1, 1), "3", INVENTED),
                ("000000", "nursing_bed_ratio_target", date(2000, 1, 1), "0.55", OLD_LABEL),
                ("371000", "visit_interval_days_alone", date(2026, 1, 1), "5", "威海市民政局 operator: local figure"),
            ):
                region, name, day, value, source = row
                await conn.execute(insert, {"region": region, "name": name, "day": day, "value": value,
                                            "source": source})  # fmt: skip
        applied = await migrations.upgrade(engine, schema)  # to the head: 0006 and the revisions after it
        assert applied[0] == "0006", applied
        async with engine.connect() as conn:
            rows = (await conn.execute(text("SELECT region_code, name, value, source FROM policy_parameter "
                                            "ORDER BY region_code, value"))).all()  # fmt: skip
    finally:
        await engine.dispose()
    [national] = [p for p in fixture_parameters() if (p.region_code, p.name) == ("000000", "nursing_bed_ratio_target")]
    assert [tuple(r) for r in rows] == [
        ("000000", "nursing_bed_ratio_target", "0.55", national.source),
        ("371000", "visit_interval_days_alone", "5", "威海市民政局 operator: local figure"),
    ], "the invented figure gone, the operator's kept, the national one labelled as the fixture now labels it"
