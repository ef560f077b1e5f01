"""Shared fixtures: a real Kafka-protocol broker (embedded Tansu) and per-test SQLite files."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable, Iterator

import pytest

from civic.broker import EmbeddedBroker, ensure_topics, system_topics

# Test runs must never pick up a developer's local settings.
for _name in [n for n in os.environ if n.startswith("CIVIC_")]:
    del os.environ[_name]


@pytest.fixture(scope="session")
def broker() -> Iterator[EmbeddedBroker]:
    """One broker for the session; tests isolate themselves with their own topics and group names."""
    with EmbeddedBroker() as b:
        asyncio.run(ensure_topics(b.bootstrap, [*system_topics(), "civic.testkit"], partitions=3))
        yield b


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float = 30.0, what: str = "condition") -> None:
    """Poll ``check`` until it holds; fail with ``what`` after ``timeout`` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await check():
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(0.02)
