"""身后一件事 on the whole system as `civic up` runs it (SQLite): journeys/s flat out, and completion latency
at a steady 50 journeys/s. A journey is complete when every step of its definition is done or not needed, as
seen on the bus by an observer reading the domain topics (the tracker's own view adds its projection lag).

Run: `python -m bench.journeys` (also part of `make bench`). Not a test: it prints figures.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import httpx
from aiokafka import AIOKafkaConsumer

from civic.auth import Role
from civic.broker import free_port, port_in_use
from civic.config import DOMAINS, Settings
from civic.events import UnparseableEvent, decode
from civic.identity import check_character
from gateway.journeys.definitions.after_death import AFTER_DEATH
from gateway.journeys.model import JourneyState
from gateway.journeys.progress import Seen, derive
from gateway.tokens import issue_dev_token

ROOT = Path(__file__).resolve().parents[1]
FLAT_OUT = int(os.environ.get("BENCH_JOURNEYS", "200"))
PACED = int(os.environ.get("BENCH_PACED_JOURNEYS", "200"))
RATE = float(os.environ.get("BENCH_JOURNEY_RATE", "50"))
CONCURRENCY = 16
_serial = iter(range(1, 10**6))


def resident_id(born: date) -> str:
    """A valid, unique resident ID for the load (region 371002, Weihai Huancui)."""
    first17 = f"371002{born:%Y%m%d}{next(_serial) % 1000:03d}"
    return first17 + check_character(first17)


class Observer:
    """Reads the domain topics and notes when each journey's last step lands."""

    def __init__(self, bootstrap: str) -> None:
        self.bootstrap = bootstrap
        self.events: dict[str, list[Seen]] = {}
        self.completed_at: dict[str, float] = {}

    async def run(self, stop: asyncio.Event) -> None:
        consumer = AIOKafkaConsumer(*(f"civic.{d}" for d in DOMAINS), bootstrap_servers=self.bootstrap,
                                    auto_offset_reset="earliest", enable_auto_commit=False,
                                    fetch_max_wait_ms=20)  # fmt: skip
        await consumer.start()
        try:
            while not stop.is_set():
                batch = await consumer.getmany(timeout_ms=100)
                now = time.monotonic()
                for records in batch.values():
                    for record in records:
                        try:
                            env = decode(record.headers, record.value).envelope
                        except UnparseableEvent:
                            continue
                        seen = self.events.setdefault(env.correlation_id, [])
                        seen.append(Seen(env.id, env.type, env.time))
                        if env.correlation_id not in self.completed_at and (
                            derive(AFTER_DEATH, seen).state is JourneyState.COMPLETED
                        ):
                            self.completed_at[env.correlation_id] = now
        finally:
            await consumer.stop()


async def register(api: httpx.AsyncClient, headers: dict[str, str], born: date) -> tuple[str, float]:
    started = time.monotonic()
    response = await api.post("/api/funeral/deaths", headers=headers, json={
        "resident_id": resident_id(born), "date_of_death": "2026-11-01",
        "reported_by": {"name": "测试", "relation": "子女"}})  # fmt: skip
    response.raise_for_status()
    return str(response.json()["journey_id"]), started


async def scenario(gateway: str, bootstrap: str, data_dir: Path) -> None:
    headers = {"authorization": "Bearer " + issue_dev_token(Settings(data_dir=data_dir), role=Role.CASEWORKER,
                                                            subject="bench", domain="funeral")}  # fmt: skip
    observer = Observer(bootstrap)
    stop = asyncio.Event()
    watching = asyncio.create_task(observer.run(stop))
    limits = httpx.Limits(max_connections=CONCURRENCY)
    async with httpx.AsyncClient(base_url=gateway, timeout=30, limits=limits) as api:
        # Flat out: CONCURRENCY requests in flight at a time.
        gate = asyncio.Semaphore(CONCURRENCY)

        async def one(i: int) -> tuple[str, float]:
            async with gate:
                return await register(api, headers, date(1930 + i % 40, 1 + i % 12, 1 + i % 28))

        t0 = time.monotonic()
        flat = await asyncio.gather(*(one(i) for i in range(FLAT_OUT)))
        accepted_s = time.monotonic() - t0
        await _wait_complete(observer, [j for j, _ in flat])
        flat_s = max(observer.completed_at[j] for j, _ in flat) - t0
        print(f"flat out: {FLAT_OUT} deaths accepted in {accepted_s:.1f} s ({FLAT_OUT / accepted_s:,.0f}/s); "
              f"all journeys complete after {flat_s:.1f} s → {FLAT_OUT / flat_s:,.1f} journeys/s")  # fmt: skip

        # Paced: one registration every 1/RATE s; completion latency per journey.
        paced: list[tuple[str, float]] = []
        t0 = time.monotonic()
        tasks = []
        for i in range(PACED):
            delay = t0 + i / RATE - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(register(api, headers, date(1925 + i % 40, 1 + i % 12, 1 + i % 28))))
        paced = await asyncio.gather(*tasks)
        await _wait_complete(observer, [j for j, _ in paced])
        latencies = sorted((observer.completed_at[j] - started) * 1000 for j, started in paced)
        p50, p99 = latencies[len(latencies) // 2], latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))]
        print(f"paced {RATE:g}/s: {PACED} journeys, completion p50 {p50:,.0f} ms, p99 {p99:,.0f} ms, "
              f"max {latencies[-1]:,.0f} ms")  # fmt: skip
    stop.set()
    await watching


async def _wait_complete(observer: Observer, journeys: list[str], timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while any(j not in observer.completed_at for j in journeys):
        if time.monotonic() > deadline:
            missing = sum(j not in observer.completed_at for j in journeys)
            raise RuntimeError(f"{missing} journeys did not complete within {timeout:g} s")
        await asyncio.sleep(0.05)


def main() -> None:
    print(f"# 身后一件事 on civic up (SQLite, 2 cores here): steps {[s.name for s in AFTER_DEATH.steps]}")
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        while any(port_in_use(port + i) for i in range(6)):
            port = free_port()
        broker_port = free_port()
        proc = subprocess.Popen(
            [sys.executable, "-m", "civic.local", "--data-dir", tmp, "--port", str(port),
             "--broker-port", str(broker_port)],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
        assert proc.stdout is not None
        try:
            for line in proc.stdout:
                if re.search(r"ready in ([0-9.]+) s", line):
                    break
            else:
                raise RuntimeError("civic up did not become ready")
            asyncio.run(scenario(f"http://127.0.0.1:{port}", f"127.0.0.1:{broker_port}", Path(tmp)))
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(60)
    print(
        "synchronous baseline (the gateway calling each service in turn): not measured — the services offer "
        "no per-step HTTP calls to orchestrate; see README"
    )


if __name__ == "__main__":
    main()
