"""outbox event ids not indexed

The kernel's step ``civic.migrations.steps.drop_unique_outbox_event_id``: why, there.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 23:00:00
"""

from collections.abc import Sequence

from civic.migrations.steps import drop_unique_outbox_event_id, restore_unique_outbox_event_id

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    drop_unique_outbox_event_id()


def downgrade() -> None:
    restore_unique_outbox_event_id()
