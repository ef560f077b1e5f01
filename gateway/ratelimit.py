"""Rate limits per client: a token bucket per principal (or per IP address for callers without a valid token).

Every request is decided by the bucket in this gateway process alone, without touching the database: the hot
path stays a dictionary update. With several replicas, ``gateway.ratelimit_shared`` makes the buckets one: now
and then it hands the cluster the requests this replica accepted (``drain_accepted``) and takes from each bucket
what the other replicas accepted from the same client (``debit``). Its docstring states the guarantee.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from dataclasses import dataclass

from civic.problems import Problem

_MAX_CLIENTS = 100_000  # idle buckets are forgotten beyond this (a full bucket is the same as none)


@dataclass
class _Bucket:
    tokens: float  # below zero when other replicas spent more than this one knew of: the client waits it off
    at: float  # when ``tokens`` was last brought up to date (monotonic)
    synced_window: int | None = None  # the shared window this bucket was last brought up to date with


class RateLimiter:
    def __init__(self, per_s: float, burst: int) -> None:
        self.per_s, self.burst = per_s, burst
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()  # least recently asking client first
        self._accepted: dict[str, int] = {}  # per client, since the last ``drain_accepted``

    def take(self, client: str) -> None:
        """Spend one token of ``client``'s bucket, or raise 429 saying when the next one will be there."""
        now = time.monotonic()
        bucket = self._buckets.pop(client, None) or _Bucket(float(self.burst), now)
        bucket.tokens = min(float(self.burst), bucket.tokens + (now - bucket.at) * self.per_s)
        bucket.at = now
        self._buckets[client] = bucket
        if len(self._buckets) > _MAX_CLIENTS:
            self._buckets.popitem(last=False)
        if bucket.tokens < 1.0:
            retry_after = max(1, math.ceil((1.0 - bucket.tokens) / self.per_s))
            raise Problem(429, "rate-limited", "Too many requests",
                          f"The limit is {self.per_s:g} requests per second (bursts of {self.burst}).",
                          headers={"Retry-After": str(retry_after)})  # fmt: skip
        bucket.tokens -= 1.0
        self._accepted[client] = self._accepted.get(client, 0) + 1

    # What gateway.ratelimit_shared uses; none of it runs per request.

    def drain_accepted(self) -> dict[str, int]:
        """The requests accepted per client since the last call (and forget them: the caller now owns them)."""
        accepted, self._accepted = self._accepted, {}
        return accepted

    def give_back(self, accepted: dict[str, int]) -> None:
        """Counts ``drain_accepted`` returned that could not be handed on: they go out with the next ones."""
        for client, count in accepted.items():
            self._accepted[client] = self._accepted.get(client, 0) + count

    def synced_window(self, client: str) -> int | None:
        """The shared window ``client``'s bucket was last brought up to date with (None: never, or no bucket)."""
        bucket = self._buckets.get(client)
        return bucket.synced_window if bucket else None

    def debit(self, client: str, requests: float, window: int) -> None:
        """Take from ``client``'s bucket the requests other replicas accepted (the bucket may go below zero: the
        client then waits until the cluster-wide bucket has refilled), and note the window it is up to date with.
        The bucket is refilled up to now first: a debit that arrives late is never laxer than one on time."""
        now = time.monotonic()
        bucket = self._buckets.get(client)
        if bucket is None:  # a client that has not asked here (lately): it may, and owes the same
            if requests <= 0 or len(self._buckets) >= _MAX_CLIENTS:
                return
            bucket = self._buckets[client] = _Bucket(float(self.burst), now)
            self._buckets.move_to_end(client, last=False)  # first to be forgotten: it never asked here
        bucket.tokens = min(float(self.burst), bucket.tokens + (now - bucket.at) * self.per_s) - requests
        bucket.at = now
        bucket.synced_window = window
