"""schedule entries keyed by their case and date, without a surrogate id

A ``benefit_amount`` row is found by its case and date, which its unique constraint already made a key: the
serial ``id`` was a second index entry and a sequence draw for every amount written (a recalculation writes a
million), and nothing read it. The unique (case_id, effective_from) becomes the primary key.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07 21:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# SQLite keeps the unique constraint unnamed; batch mode names it by this convention when it reflects it.
_SQLITE_NAMES = {"uq": "uq_%(table_name)s_%(column_0_name)s"}
_UNIQUE = {"postgresql": "benefit_amount_case_id_effective_from_key", "sqlite": "uq_benefit_amount_case_id"}


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    with op.batch_alter_table("benefit_amount", naming_convention=_SQLITE_NAMES) as batch:
        batch.drop_constraint(_UNIQUE[dialect], type_="unique")
        batch.drop_column("id")  # its primary key (and on PostgreSQL its sequence) with it
        batch.create_primary_key("benefit_amount_pkey", ["case_id", "effective_from"])


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    with op.batch_alter_table("benefit_amount", naming_convention=_SQLITE_NAMES) as batch:
        batch.drop_constraint("benefit_amount_pkey", type_="primary")
    if dialect == "postgresql":
        op.execute("ALTER TABLE benefit_amount ADD COLUMN id SERIAL PRIMARY KEY")
        op.create_unique_constraint(_UNIQUE[dialect], "benefit_amount", ["case_id", "effective_from"])
        return
    with op.batch_alter_table("benefit_amount", naming_convention=_SQLITE_NAMES) as batch:
        batch.add_column(sa.Column("id", sa.Integer(), nullable=True))
    op.execute("UPDATE benefit_amount SET id = rowid")
    with op.batch_alter_table("benefit_amount", naming_convention=_SQLITE_NAMES) as batch:
        batch.alter_column("id", nullable=False)
        batch.create_primary_key("pk_benefit_amount", ["id"])
        batch.create_unique_constraint(_UNIQUE[dialect], ["case_id", "effective_from"])
