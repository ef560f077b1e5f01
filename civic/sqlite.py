"""SQLite under asyncio with one trip to the connection's thread per statement.

aiosqlite runs each SQLite connection in a thread of its own; every call on it is a trip there and back (a queue
put that wakes the thread, a callback that wakes the event loop). SQLAlchemy's adapter makes four such trips per
statement — make a cursor, execute, fetch the rows, close the cursor — and each costs more CPU than the statement:
a primary-key SELECT took ~390 µs of CPU where SQLite itself needs ~20. Here the cursor is made, executed, read
and closed in one function run on the connection's thread: ~230 µs for that SELECT, ~200 instead of ~280 for an
INSERT, and the services handle a journey's events with about a tenth less CPU.

Everything else is aiosqlite's and SQLAlchemy's own — the thread, the connection, the transactions, the errors —
so the engine behaves as ``sqlite+aiosqlite`` does; ``make_engine`` passes ``dbapi()`` as the engine's module.
Server-side cursors (``stream_results``) keep SQLAlchemy's stock cursor, which fetches in steps.
"""

from __future__ import annotations

import collections
import sqlite3
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import aiosqlite
from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
    AsyncAdapt_aiosqlite_dbapi,
)
from sqlalchemy.util import EMPTY_DICT
from sqlalchemy.util.concurrency import await_

Outcome = tuple[Any, int, int | None, Sequence[Any]]  # description, rowcount, lastrowid, rows


def _run(conn: sqlite3.Connection, operation: str, parameters: Any, many: bool) -> Outcome:
    """On the connection's thread: the whole statement, its rows read and its cursor closed."""
    cursor = conn.cursor()
    try:
        if many:
            cursor.executemany(operation, parameters)
        elif parameters is None:
            cursor.execute(operation)
        else:
            cursor.execute(operation, parameters)
        description = cursor.description
        rows = cursor.fetchall() if description else ()
        return description, cursor.rowcount, cursor.lastrowid, rows
    finally:
        cursor.close()


class OneTripCursor(AsyncAdapt_aiosqlite_cursor):
    """SQLAlchemy's aiosqlite cursor, with no driver cursor of its own: each statement is one ``_run``."""

    __slots__ = ("_arraysize", "_description", "_lastrowid", "_rowcount")

    def __init__(self, adapt_connection: Any) -> None:
        # Not the base __init__: that makes (and enters) a driver cursor, one trip to the thread.
        self._adapt_connection = adapt_connection
        self._connection = adapt_connection._connection
        self._cursor = None  # type: ignore[assignment]  # the base closes nothing when there is none
        self._soft_closed_memoized = EMPTY_DICT
        self._rows = collections.deque()
        self._description: Any = None
        self._rowcount = -1
        self._lastrowid: int | None = None
        self._arraysize = 1

    @property
    def description(self) -> Any:
        return self._description

    @property
    def rowcount(self) -> int:
        return self._rowcount

    @property
    def lastrowid(self) -> int:
        return self._lastrowid  # type: ignore[return-value]  # None before an INSERT, as sqlite3 says

    @property
    def arraysize(self) -> int:
        return self._arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._arraysize = value

    async def _async_soft_close(self) -> None:
        """Nothing to close: the rows and the description are here already."""

    async def _execute_async(self, operation: Any, parameters: Any) -> None:
        await self._in_one_trip(operation, parameters, many=False)

    async def _executemany_async(self, operation: Any, seq_of_parameters: Any) -> None:
        await self._in_one_trip(operation, seq_of_parameters, many=True)

    async def _in_one_trip(self, operation: str, parameters: Any, *, many: bool) -> None:
        driver: aiosqlite.Connection = self._connection  # type: ignore[assignment]
        on_its_thread: Callable[..., Awaitable[Outcome]] = driver._execute  # aiosqlite's one trip
        async with self._adapt_connection._execute_mutex:
            outcome = await on_its_thread(_run, driver._conn, operation, parameters, many)
        self._description, self._rowcount, self._lastrowid, rows = outcome
        self._rows = collections.deque(rows)


class OneTripConnection(AsyncAdapt_aiosqlite_connection):
    __slots__ = ()
    _cursor_cls = OneTripCursor


class OneTripDBAPI(AsyncAdapt_aiosqlite_dbapi):
    """The aiosqlite DBAPI shim, handing out ``OneTripConnection``s."""

    def connect(self, *arg: Any, **kw: Any) -> OneTripConnection:
        connection = self.aiosqlite.connect(*arg, **kw)
        connection._thread.daemon = True  # as SQLAlchemy's: a process may exit with a connection still open
        return OneTripConnection(self, await_(connection))


def dbapi() -> OneTripDBAPI:
    """The module to give ``create_async_engine`` for a ``sqlite+aiosqlite`` URL."""
    return OneTripDBAPI(aiosqlite, sqlite3)
