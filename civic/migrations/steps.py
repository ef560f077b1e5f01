"""Migration steps on the kernel's own tables (outbox, inbox), which every app's database holds: each app's
revision calls the step, so the change is written once and every history records when it took it."""

from __future__ import annotations

from alembic import op

# SQLite keeps the outbox's unique constraint unnamed; batch mode names it by this convention when it reflects it.
_SQLITE_UNIQUE = {"uq": "uq_%(table_name)s_%(column_0_name)s"}


def drop_unique_outbox_event_id() -> None:
    """The outbox's event ids are uuid4s made as each event is added, and every consumer's inbox refuses an
    event id it has seen: the unique index checked nothing, and cost each event a B-tree insert at a random place
    (at 200,000 events in one transaction, a third of the outbox's write time on PostgreSQL). Nothing looks an
    outbox row up by its event id; the relay reads by ``seq``."""
    if op.get_bind().dialect.name == "postgresql":
        op.drop_constraint("outbox_event_id_key", "outbox", type_="unique")
    else:
        with op.batch_alter_table("outbox", naming_convention=_SQLITE_UNIQUE) as batch:
            batch.drop_constraint("uq_outbox_event_id", type_="unique")


def restore_unique_outbox_event_id() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.create_unique_constraint("outbox_event_id_key", "outbox", ["event_id"])
    else:
        with op.batch_alter_table("outbox") as batch:
            batch.create_unique_constraint("uq_outbox_event_id", ["event_id"])
