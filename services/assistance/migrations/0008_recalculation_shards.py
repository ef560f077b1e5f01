"""recalculation shards: the ranges of cases a large recalculation works in processes side by side

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07 13:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "recalculation_shard",
        sa.Column("job_id", sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
        sa.Column("shard", sa.Integer(), nullable=False),
        sa.Column("after", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
        sa.Column("through", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
        sa.Column("cursor", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
        sa.Column("examined", sa.Integer(), nullable=False),
        sa.Column("changed", sa.Integer(), nullable=False),
        sa.Column("finished_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("job_id", "shard"),
    )


def downgrade() -> None:
    op.drop_table("recalculation_shard")
