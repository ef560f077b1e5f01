"""The load both pipelines carry: one event type with a realistic size, and latency arithmetic."""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass

from civic.events import Event

PAYLOAD = "x" * 300  # with the envelope headers, about the size of a death registration


class LoadGenerated(Event):
    """A benchmark event; ``written_at`` is the wall-clock time the producer wrote it."""

    type_name = "civic.bench.load-generated.v1"
    published = False

    key: str
    seq: int
    written_at: float
    payload: str = PAYLOAD

    def subject(self) -> str:
        return self.key


TOPIC = LoadGenerated.topic()


@dataclass
class Figures:
    name: str
    events: int
    seconds: float
    latencies_ms: list[float]

    @property
    def rate(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0

    def pct(self, p: float) -> float:
        if not self.latencies_ms:
            return float("nan")
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]

    def line(self) -> str:
        return (
            f"{self.name:<44} {self.events:>7} ev {self.rate:>9,.0f} ev/s   "
            f"p50 {self.pct(50):>7.1f} ms   p99 {self.pct(99):>7.1f} ms   max {max(self.latencies_ms):>7.1f} ms"
        )


def now() -> float:
    return time.time()


def median(values: list[float]) -> float:
    return statistics.median(values)
