"""benefit cases leave room on their pages for updates

A recalculation rewrites every open case's amount: with half of each page free (fillfactor 50) the new row version
goes on the same page (a HOT update), not into each of the table's four indexes. PostgreSQL only; pages already
written keep their fill until the table is rewritten (``VACUUM FULL benefit_case`` in a maintenance window).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 21:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE benefit_case SET (fillfactor = 50)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE benefit_case RESET (fillfactor)")
