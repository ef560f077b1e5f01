"""Rate limits per client: a token bucket per principal (or per IP address for callers without a valid token).

Buckets live in the gateway process; with several gateway replicas each enforces its own share (a shared store
such as Redis would be needed for one exact global limit, which this deployment does not have yet).
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
    tokens: float
    at: float


class RateLimiter:
    def __init__(self, per_s: float, burst: int) -> None:
        self.per_s, self.burst = per_s, burst
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()

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
