"""Rate limits shared by all gateway replicas, through the gateway's own database (no Redis, no round trip per
request).

Each replica decides every request with its own token bucket per client (``gateway.ratelimit``). Every
``rate_limit_sync_s`` (0.5 s by default) its ``SharedRateLimits.sync``:

1. adds the requests it accepted since the last sync, per client, to ``rate_limit_window`` — one row per client
   and time window (``window_s`` = twice the sync interval, at least 1 s), ``count = count + excluded.count`` in
   one short transaction, rows in client order so that replicas' upserts never deadlock;
2. reads the cluster-wide counts of the current and previous window — of every client active anywhere, not
   only of those that asked this replica, since any client may turn to it next — and takes from each client's
   bucket what the *other* replicas accepted since it last looked (the counts it has seen are remembered per
   client and window, its own included). A bucket may go below zero: that client then gets 429, with a
   ``Retry-After`` for the whole debt, until the cluster-wide bucket has refilled;
3. once per window, deletes rows older than the previous window but one.

**The guarantee.** A request accepted by one replica is in the table by that replica's next sync and taken from
every other replica's bucket by their next sync after that: within two sync intervals. Until then it is the
only thing a replica does not know (a debit that arrives late is applied after refilling, so it is never laxer
than one on time). Hence over any period the cluster accepts at most what one bucket allows — ``burst +
per_s × period`` — plus what the other replicas accepted in the last two sync intervals. Each of them can accept
in that time only what its own bucket holds, so with N replicas:

- a client already at its limit (buckets empty) gets at most (N − 1) × 2 × interval × per_s extra: 50 requests
  with 2 replicas and the defaults (50/s, 0.5 s); a client alternating between replicas gets exactly one
  bucket plus those;
- in the worst case — a client new to every replica, firing at all N at once — (N − 1) × (burst + 2 × interval
  × per_s) extra, once: after the next syncs every replica holds the whole debt and the client waits it off, so
  over longer periods the average is the configured rate, not N times it (as with separate buckets).

A replica that has not followed a client in the last two windows (its first counts anywhere, or its first
after a pause) takes off the other replicas' counts of the current and previous window less the refill since
the previous window began: it errs towards the client (by at most 2 × window_s × per_s) so that a well-behaved
client moved to another replica (a replica down, a load balancer's choice) is not throttled for what it did
within its limit. Counts of one window are compared across replicas by wall-clock time: replicas' clocks must
agree to well within a window (NTP); the counts of a replica whose clock is behind by more than a window are
missed by the others.

**When the database cannot be reached** (or the table is missing), a sync returns False and logs a warning once;
the replica keeps the counts it could not hand on for its next sync and goes on deciding with its own buckets:
requests are served on the local limits (each replica at most its own bucket, so at worst N × the limit
cluster-wide, as without sharing), and never get a 500 because of the limiter, which has no database on its
request path. When the database is back, the kept counts are added to the current window and taken off by the
other replicas from then on; what other replicas wrote meanwhile into windows that have since passed (older
than the previous one) is not taken off by this one.

Cost per replica and interval: one upsert of a row per client it accepted requests from (only if it did), one
SELECT of the rows of the current and previous window (about two per client active anywhere in the last
seconds), and once per window one DELETE by the indexed window column. On SQLite (one replica, ``civic up``) the
write lock is held for that one upsert, not longer, and reads do not block writers (WAL). Sharing is on by
default with PostgreSQL, where replicas run, so that they are right without anyone remembering to turn it on;
off by default with SQLite (one local gateway), where the file's one write lock is better left to the audit log
and the journey tracker — on a loaded machine the sync's transaction, cut off by its timeout, kept audit writes
waiting until they failed. ``CIVIC_RATE_LIMIT_SHARED`` says otherwise either way.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time

from fastapi import FastAPI
from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from civic.db import table_of
from civic.schedule import periodic
from gateway.ratelimit import RateLimiter
from gateway.tables import RateLimitWindow

log = logging.getLogger("gateway.ratelimit")

_WINDOWS = table_of(RateLimitWindow)
_CLIENT_LENGTH = 300  # the column's length: longer keys are stored as their hash


def stored_client(client: str) -> str:
    if len(client) <= _CLIENT_LENGTH:
        return client
    return "sha256:" + hashlib.sha256(client.encode()).hexdigest()


class SharedRateLimits:
    """Makes one replica's ``RateLimiter`` part of the cluster's (see the module's docstring)."""

    def __init__(self, limiter: RateLimiter, engine: AsyncEngine, interval_s: float) -> None:
        self.limiter, self.engine = limiter, engine
        self.window_ms = int(max(1.0, 2 * interval_s) * 1000)
        # A hung database must not hold the sync forever; counts in hand are kept for the next try.
        self.timeout_s = max(2.0, 4 * interval_s)
        self.reachable = True
        self.runs = 0  # syncs finished, successful or not
        self._seen: dict[tuple[str, int], int] = {}  # (stored client, window) -> cluster count already taken off
        self._purged_window: int | None = None
        # Stored (hashed) names of this replica's clients whose keys are too long for the column; another
        # replica's such clients are followed under the hash, which no request here is charged to.
        self._long_names: dict[str, str] = {}
        self._lock = asyncio.Lock()  # the background task and a test may both call sync

    async def sync(self, now: float | None = None) -> bool:
        """Hand on this replica's counts and take the others' off its buckets. ``now``: Unix time (tests move
        it to make old windows). False, with nothing raised, if the database could not be reached."""
        async with self._lock:
            try:
                return await self._sync(time.time() if now is None else now)
            finally:
                self.runs += 1

    async def _sync(self, wall: float) -> bool:
        window = int(wall * 1000) // self.window_ms * self.window_ms
        accepted = self.limiter.drain_accepted()
        try:
            async with asyncio.timeout(self.timeout_s):
                if accepted:
                    await self._add(accepted, window)
        except (SQLAlchemyError, OSError, TimeoutError) as exc:
            self.limiter.give_back(accepted)
            return self._unreachable(exc)
        for client, count in accepted.items():
            key = (stored_client(client), window)
            self._seen[key] = self._seen.get(key, 0) + count
        try:
            async with asyncio.timeout(self.timeout_s):
                await self._take_others_off(wall, window)
                if self._purged_window != window:
                    await self.purge(window - 2 * self.window_ms)
                    self._purged_window = window
        except (SQLAlchemyError, OSError, TimeoutError) as exc:
            return self._unreachable(exc)
        if not self.reachable:
            log.info("shared rate limits: the database is back")
            self.reachable = True
        return True

    def _unreachable(self, exc: BaseException) -> bool:
        if self.reachable:
            log.warning("shared rate limits: database unreachable (%s); each replica limits on its own meanwhile",
                        type(exc).__name__)  # fmt: skip
            self.reachable = False
        return False

    async def _add(self, accepted: dict[str, int], window: int) -> None:
        counts: dict[str, int] = {}
        for client, count in accepted.items():
            key = stored_client(client)
            counts[key] = counts.get(key, 0) + count
            if key != client:
                self._long_names[key] = client
        rows = [{"client": c, "window_start_ms": window, "count": counts[c]} for c in sorted(counts)]
        dialect = postgresql if self.engine.dialect.name == "postgresql" else sqlite
        insert = dialect.insert(_WINDOWS)
        upsert = insert.on_conflict_do_update(
            index_elements=[_WINDOWS.c.client, _WINDOWS.c.window_start_ms],
            set_={"count": _WINDOWS.c.count + insert.excluded.count},
        )
        async with self.engine.begin() as conn:
            await conn.execute(upsert, rows)

    async def _take_others_off(self, wall: float, window: int) -> None:
        previous = window - self.window_ms
        for old in [seen for seen in self._seen if seen[1] < previous]:
            del self._seen[old]
        # Every client active anywhere lately, not only this replica's: a client may turn to it any moment.
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                select(_WINDOWS.c.client, _WINDOWS.c.window_start_ms, _WINDOWS.c.count).where(
                    _WINDOWS.c.window_start_ms >= previous
                )
            )
            counts = [(str(client), int(start), int(count)) for client, start, count in rows]
        others: dict[str, int] = {}
        for key, start, count in counts:
            new = count - self._seen.get((key, start), 0)
            others[key] = others.get(key, 0) + max(0, new)
            if new > 0:
                self._seen[key, start] = count
        refilled = (wall - previous / 1000) * self.limiter.per_s
        for key, new in others.items():
            client = self._long_names.get(key, key)
            synced = self.limiter.synced_window(client)
            debt = float(new)
            if synced is None or synced < previous:  # not followed here lately: err towards the client
                debt = max(0.0, debt - refilled)
            self.limiter.debit(client, debt, window)

    async def purge(self, before_ms: int) -> int:
        """Delete the counts of windows that began before ``before_ms`` (every replica may; deletes do not
        conflict)."""
        async with self.engine.begin() as conn:
            result = await conn.execute(delete(_WINDOWS).where(_WINDOWS.c.window_start_ms < before_ms))
        return int(result.rowcount or 0)


async def _sync(app: FastAPI) -> None:
    shared: SharedRateLimits = app.state.shared_rate_limits
    await shared.sync()


# A lifespan resource: ``SharedRateLimits.sync`` now and every ``rate_limit_sync_s`` (a failed run is logged by
# ``periodic`` and tried again; sync itself does not raise for an unreachable database).
sharing_rate_limits = periodic(
    "rate-limit-sync", _sync, lambda app: float(app.state.gateway_settings.rate_limit_sync_s)
)
