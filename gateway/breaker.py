"""A circuit breaker per service: while a service is down the gateway answers at once instead of waiting on it.

Closed: requests pass; consecutive failures are counted. At the threshold the circuit opens: requests are refused
with 503 and ``Retry-After`` for ``open_s``. Then it is half-open: one request is let through as a probe; if it
succeeds the circuit closes, if not it opens again. Only the gateway's own failures to reach a service count
(connection refused, timeout), not the service's answers.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from enum import StrEnum

from civic.problems import Problem


class State(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half-open"


@dataclass
class CircuitBreaker:
    name: str
    failure_threshold: int
    open_s: float
    state: State = State.CLOSED
    failures: int = 0
    opened_at: float = 0.0
    probing: bool = field(default=False)

    def before_request(self) -> None:
        """Raise the 503 problem if this request may not go to the service now."""
        if self.state is State.CLOSED:
            return
        waited = time.monotonic() - self.opened_at
        if self.state is State.OPEN and waited >= self.open_s:
            self.state = State.HALF_OPEN
        if self.state is State.HALF_OPEN and not self.probing:
            self.probing = True  # this request is the probe; the others wait for its verdict
            return
        retry_after = max(1, math.ceil(self.open_s - waited))
        raise Problem(503, "service-unavailable", f"The {self.name} service is unavailable",
                      "The service is not answering; nothing was sent to it. Try again later.",
                      headers={"Retry-After": str(retry_after)})  # fmt: skip

    def succeeded(self) -> None:
        self.state, self.failures, self.probing = State.CLOSED, 0, False

    def failed(self) -> None:
        self.failures += 1
        if self.state is State.HALF_OPEN or self.failures >= self.failure_threshold:
            self.state, self.opened_at, self.probing = State.OPEN, time.monotonic(), False

    def released(self) -> None:
        """The request ended without saying anything about the service (cancelled): let another probe."""
        self.probing = False


class Breakers:
    def __init__(self, failure_threshold: int, open_s: float) -> None:
        self._threshold, self._open_s = failure_threshold, open_s
        self._by_name: dict[str, CircuitBreaker] = {}

    def __getitem__(self, name: str) -> CircuitBreaker:
        if name not in self._by_name:
            self._by_name[name] = CircuitBreaker(name, self._threshold, self._open_s)
        return self._by_name[name]
