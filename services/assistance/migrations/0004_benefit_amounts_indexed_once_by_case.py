"""benefit amounts indexed once by case

The schedule's unique (case_id, effective_from) already serves every lookup by case: the single-column index was
a second index entry for every amount written (a recalculation writes a million).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 18:29:03.034659
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("benefit_amount", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_benefit_amount_case_id"))


def downgrade() -> None:
    with op.batch_alter_table("benefit_amount", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_benefit_amount_case_id"), ["case_id"], unique=False)
