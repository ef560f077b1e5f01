"""a case's amount is read from its schedule, not kept on the case

``benefit_case.monthly_amount_fen`` repeated the amount of the case's latest ``benefit_amount`` entry. Keeping it
meant that a recalculation updated every case's row beside writing its new entry: at 1,000,000 benefits on
PostgreSQL, ~13 s of database time and the job's wall time 72-78 s against 60 s without (side by side). Readers
take the latest entry instead (``lifecycle.latest_amount``). With no bulk update left, the cases' pages need no
room kept free for one (0005's fillfactor 50 is reset; pages written with it keep their fill until the table is
rewritten).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07 19:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("benefit_case") as batch:
        batch.drop_column("monthly_amount_fen")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE benefit_case RESET (fillfactor)")


def downgrade() -> None:
    with op.batch_alter_table("benefit_case") as batch:
        batch.add_column(sa.Column("monthly_amount_fen", sa.Integer(), nullable=False, server_default="0"))
    op.execute(
        "UPDATE benefit_case SET monthly_amount_fen = (SELECT a.amount_fen FROM benefit_amount a"
        " WHERE a.case_id = benefit_case.id ORDER BY a.effective_from DESC LIMIT 1)"
        " WHERE EXISTS (SELECT 1 FROM benefit_amount a WHERE a.case_id = benefit_case.id)"
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE benefit_case SET (fillfactor = 50)")
