"""Inbox: the ids of events a consumer group has handled, written in the same transaction as the handling.

A redelivered event (the relay published it twice, or the consumer died before committing its offset) finds
its id here and changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Field, SQLModel
from sqlmodel.ext.asyncio.session import AsyncSession

from civic.db import table_of


class InboxRecord(SQLModel, table=True):
    __tablename__ = "inbox"

    consumer_group: str = Field(primary_key=True, max_length=200)
    event_id: str = Field(primary_key=True, max_length=64)
    event_type: str = Field(max_length=200)
    handled_at: datetime = Field(default_factory=lambda: datetime.now(UTC))


async def claim(session: AsyncSession, group: str, events: Iterable[tuple[str, str]]) -> set[str]:
    """Record ``(event_id, event_type)`` pairs as handled by ``group`` in the session's transaction, before the
    handlers run; the ids not recorded before, which are the events to handle. One statement where a look-up and
    an insert after the handlers were two: if a handler fails, the transaction rolls back with these rows. Two
    consumers racing for one event (a rebalance on PostgreSQL): the second waits on the first's row and finds it
    taken."""
    rows, now, offered = [], datetime.now(UTC), set()
    for event_id, event_type in events:
        if event_id not in offered:  # the same event twice in one batch
            offered.add(event_id)
            rows.append({"consumer_group": group, "event_id": event_id, "event_type": event_type, "handled_at": now})
    if not rows:
        return set()
    conn = await session.connection()
    table = table_of(InboxRecord)
    new = _insert_for(conn.dialect.name)(table).on_conflict_do_nothing().returning(table.c.event_id)
    return {row[0] for row in await conn.execute(new, rows)}


def _insert_for(dialect: str) -> Callable[[Table], sqlite.Insert | postgresql.Insert]:
    return postgresql.insert if dialect == "postgresql" else sqlite.insert
