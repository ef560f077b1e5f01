"""withdraw the invented 371000 visit figure; relabel the borrowed national nursing-bed target

A database that loaded the policy fixture before this change holds a made-up figure (371000 visiting elders living
alone every 3 days) as if it were the city's policy, and the national nursing-bed target labelled as a national
figure. The loader never rewrites a row, so this revision does: each row is matched by its key and its exact old
source text, so a figure an operator entered under the same key is left alone.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23 13:21:54.846007
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INVENTED = (
    "assumption (not in seeds): a city visiting elders living alone every 3 days, to show a regional figure; "
    "set the local figure"
)
OLD_LABEL = "domain.md §2 and seed 000: nursing-type beds 55% of institution beds (2022 target)"
NEW_LABEL = (
    "assumption (no national figure in the seeds): Zhoushan's 2022 target (seed 000, 舟山市民政事业发展“十四五”规划, "
    "专栏2 指标8 养老机构护理型床位占比 2022年目标值 55%) as a working national fallback; to confirm, set the local figure"
)


def upgrade() -> None:
    op.execute(
        sa.text(
            "DELETE FROM policy_parameter WHERE region_code = '371000' AND name = 'visit_interval_days_alone' "
            "AND value = '3' AND source = :source"
        ).bindparams(source=INVENTED)
    )
    op.execute(
        sa.text(
            "UPDATE policy_parameter SET source = :new WHERE region_code = '000000' "
            "AND name = 'nursing_bed_ratio_target' AND source = :old"
        ).bindparams(new=NEW_LABEL, old=OLD_LABEL)
    )


def downgrade() -> None:
    """The invented figure is not put back; the label goes back to what it said."""
    op.execute(
        sa.text(
            "UPDATE policy_parameter SET source = :old WHERE region_code = '000000' "
            "AND name = 'nursing_bed_ratio_target' AND source = :new"
        ).bindparams(new=NEW_LABEL, old=OLD_LABEL)
    )
