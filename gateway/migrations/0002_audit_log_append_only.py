"""The audit log is append-only in the database too: an UPDATE or DELETE through the application's connection
fails (SQLite triggers) or does nothing (PostgreSQL rules).

Revision ID: 0002
Revises: 0001
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

VERBS = ("UPDATE", "DELETE")


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    for verb in VERBS:
        name = f"audit_entry_no_{verb.lower()}"
        if dialect == "sqlite":
            op.execute(
                f"CREATE TRIGGER {name} BEFORE {verb} ON audit_entry "
                "BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END"
            )
        elif dialect == "postgresql":
            op.execute(f"CREATE RULE {name} AS ON {verb} TO audit_entry DO INSTEAD NOTHING")


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    for verb in VERBS:
        name = f"audit_entry_no_{verb.lower()}"
        if dialect == "sqlite":
            op.execute(f"DROP TRIGGER {name}")
        elif dialect == "postgresql":
            op.execute(f"DROP RULE {name} ON audit_entry")
