"""Inbox: the ids of events a consumer group has handled, written in the same transaction as the handling.

A redelivered event (the relay published it twice, or the consumer died before committing its offset) finds
its id here and changes nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from sqlalchemy import insert, select
from sqlmodel import Field, SQLModel
from sqlmodel.ext.asyncio.session import AsyncSession

from civic.db import table_of


class InboxRecord(SQLModel, table=True):
    __tablename__ = "inbox"

    consumer_group: str = Field(primary_key=True, max_length=200)
    event_id: str = Field(primary_key=True, max_length=64)
    event_type: str = Field(max_length=200)
    handled_at: datetime = Field(default_factory=lambda: datetime.now(UTC))


async def already_handled(session: AsyncSession, group: str, event_ids: Iterable[str]) -> set[str]:
    ids = list(event_ids)
    if not ids:
        return set()
    table = table_of(InboxRecord)
    rows = await (await session.connection()).execute(
        select(table.c.event_id).where(table.c.consumer_group == group, table.c.event_id.in_(ids))
    )
    return {row[0] for row in rows}


async def mark_handled(session: AsyncSession, group: str, events: Iterable[tuple[str, str]]) -> None:
    """Record ``(event_id, event_type)`` pairs as handled by ``group``, in the session's transaction."""
    now = datetime.now(UTC)
    rows = [{"consumer_group": group, "event_id": i, "event_type": t, "handled_at": now} for i, t in events]
    if rows:
        await (await session.connection()).execute(insert(table_of(InboxRecord)), rows)
