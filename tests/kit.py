"""A small pipeline for kernel tests: a producer side (outbox + relay) and a consumer side (runner), each on
its own SQLite file, both on the real broker. The test event and its handler stand in for a domain's."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import func
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import Field, SQLModel, select
from sqlmodel.ext.asyncio.session import AsyncSession

from civic import db
from civic.app import KERNEL_TABLES
from civic.bus import ConsumerRunner, HandlerContext, Handlers
from civic.config import Settings
from civic.events import Event
from civic.inbox import InboxRecord
from civic.outbox import Outbox, OutboxRecord, Relay

TEST_TOPIC = "civic.testkit"


class ThingNoted(Event):
    """A test fact. ``run`` separates tests that share the topic; ``key`` orders; ``seq`` counts per key."""

    type_name = "civic.testkit.thing-noted.v1"
    published = False

    run: str
    key: str
    seq: int

    def subject(self) -> str:
        return self.key


class NotedEffect(SQLModel, table=True):
    __tablename__ = "test_noted_effect"

    id: int | None = Field(default=None, primary_key=True)
    event_id: str
    key: str
    seq: int


EFFECT_TABLES = [*KERNEL_TABLES, NotedEffect.__table__]  # type: ignore[attr-defined]


@dataclass
class Noter:
    """The handler under test: records one effect per event of its run; fails for keys marked broken."""

    run: str
    broken: set[str] = field(default_factory=set)
    calls: int = 0
    attempts: Counter[tuple[str, int]] = field(default_factory=Counter)

    async def note_thing(self, event: ThingNoted, ctx: HandlerContext) -> None:
        if event.run != self.run:
            return
        self.calls += 1
        self.attempts[event.key, event.seq] += 1
        if event.key in self.broken:
            raise RuntimeError(f"cannot handle key {event.key} yet")
        ctx.session.add(NotedEffect(event_id=ctx.envelope.id, key=event.key, seq=event.seq))

    def handlers(self) -> Handlers:
        return {ThingNoted: [self.note_thing]}


async def count_effects(engine: AsyncEngine) -> int:
    async with AsyncSession(engine) as s:
        return int((await s.exec(select(func.count()).select_from(NotedEffect))).one())


async def effects(engine: AsyncEngine) -> list[NotedEffect]:
    async with AsyncSession(engine) as s:
        return list((await s.exec(select(NotedEffect).order_by(NotedEffect.id))).all())  # type: ignore[arg-type]


async def inbox_ids(engine: AsyncEngine) -> list[str]:
    async with AsyncSession(engine) as s:
        return list((await s.exec(select(InboxRecord.event_id))).all())


async def outbox_pending(engine: AsyncEngine) -> int:
    async with AsyncSession(engine) as s:
        return int((await s.exec(select(func.count()).select_from(OutboxRecord))).one())


async def _prepare(engine: AsyncEngine, settings: Settings) -> None:
    if settings.create_database:  # the tests' PostgreSQL run: each side gets a database of its own
        await db.create_database_if_missing(settings.resolved_database_url())
    await db.create_tables(engine, EFFECT_TABLES)


class ProducerSide:
    """A service that writes ThingNoted events through its outbox and runs its relay."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.engine = db.make_engine(settings.resolved_database_url())
        self.outbox = Outbox(settings)
        self.relay = Relay(settings, self.engine, self.outbox)
        self.task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await _prepare(self.engine, self.settings)
        self.task = asyncio.create_task(self.relay.run())

    async def write(self, events: Iterable[Event], per_transaction: int = 1) -> list[str]:
        ids: list[str] = []
        batch = list(events)
        for i in range(0, len(batch), per_transaction):
            async with AsyncSession(self.engine) as session:
                ids += await self.outbox.add(session, *batch[i : i + per_transaction])
                await session.commit()
        return ids

    async def stop(self) -> None:
        await self.relay.stop()
        if self.task:
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)
        await self.engine.dispose()


class ConsumerSide:
    def __init__(self, settings: Settings, handlers: Handlers) -> None:
        self.settings = settings
        self.engine = db.make_engine(settings.resolved_database_url())
        self.runner = ConsumerRunner(settings, self.engine, Outbox(settings), settings.service_name, handlers)
        self.task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await _prepare(self.engine, self.settings)
        self.task = asyncio.create_task(self.runner.run())

    async def stop(self) -> None:
        await self.runner.stop()
        if self.task:
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)
        await self.engine.dispose()


def settings_for(name: str, data_dir: Path, bootstrap: str, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "service_name": name,
        "environment": "test",
        "data_dir": data_dir,
        "kafka_bootstrap": bootstrap,
        "kafka_session_timeout_ms": 3000,
        "kafka_heartbeat_interval_ms": 300,
        "kafka_rebalance_timeout_ms": 2000,
        "kafka_request_timeout_ms": 8000,
        "consumer_backoff_initial_s": 0.01,
        "consumer_backoff_max_s": 0.05,
        "relay_idle_poll_s": 0.1,
        "log_json": False,
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Message:
    """An event exactly as the relay would publish it: for tests that play the relay's part by hand."""

    event_id: str
    topic: str
    key: bytes
    value: bytes
    headers: list[tuple[str, bytes]]


def message_of(event: Event, settings: Settings) -> Message:
    import json

    row = Outbox(settings).record(event)
    headers = [(name, value.encode()) for name, value in json.loads(row["headers"])]
    return Message(row["event_id"], row["topic"], row["key"].encode(), row["value"], headers)
