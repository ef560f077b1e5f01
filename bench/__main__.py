"""``make bench``: the outbox → relay → runner pipeline against plain aiokafka, on the same broker build, in
one run; and ``civic up``'s time to ready.

Each scenario gets a fresh embedded broker (it is in-memory, so a restart is a clean slate), a fresh SQLite
directory, and a consumer in its own process, started and assigned its partitions before the clock starts.
"""

from __future__ import annotations

import asyncio
import json
import os
import platform
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from aiokafka import AIOKafkaProducer
from sqlmodel.ext.asyncio.session import AsyncSession

from bench.load import TOPIC, Figures, LoadGenerated, now
from civic import db
from civic.app import KERNEL_TABLES
from civic.broker import EmbeddedBroker, ensure_topics, free_port
from civic.config import Settings
from civic.outbox import Outbox, Relay

ROOT = Path(__file__).resolve().parents[1]
EVENTS = int(os.environ.get("BENCH_EVENTS", "20000"))
RATE = int(os.environ.get("BENCH_RATE", "5000"))
KEYS = 200
TICK_S = 0.01


def events(count: int, start: int = 0) -> list[LoadGenerated]:
    t = now()
    return [LoadGenerated(key=f"person-{i % KEYS}", seq=i, written_at=t) for i in range(start, start + count)]


def batches(total: int, rate: int | None) -> list[int]:
    """Sizes of the writes: paced at ``rate`` events/s in 10 ms ticks, or as fast as possible in 200s."""
    size = max(1, int(rate * TICK_S)) if rate else 200
    return [min(size, total - i) for i in range(0, total, size)]


async def pace(tick: int, started: float, rate: int | None) -> None:
    if rate:
        delay = started + tick * TICK_S - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)


async def produce_civic(bootstrap: str, data_dir: Path, rate: int | None) -> None:
    settings = Settings(service_name="bench-producer", data_dir=data_dir, kafka_bootstrap=bootstrap, log_json=False)
    engine = db.make_engine(settings.resolved_database_url())
    await db.create_tables(engine, KERNEL_TABLES)
    outbox = Outbox(settings)
    relay = Relay(settings, engine, outbox)
    task = asyncio.create_task(relay.run())
    started, written = time.monotonic(), 0
    for tick, size in enumerate(batches(EVENTS, rate)):
        await pace(tick, started, rate)
        async with AsyncSession(engine) as session:  # one transaction per request-sized write
            await outbox.add(session, *events(size, written))
            await session.commit()
        written += size
    while relay.published < EVENTS:
        await asyncio.sleep(0.005)
    await relay.stop()
    task.cancel()
    await engine.dispose()


async def produce_plain(bootstrap: str, rate: int | None) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=2, max_batch_size=256 * 1024)
    await producer.start()
    started, written, pending = time.monotonic(), 0, []
    for tick, size in enumerate(batches(EVENTS, rate)):
        await pace(tick, started, rate)
        for event in events(size, written):
            pending.append(await producer.send(TOPIC, event.model_dump_json().encode(), key=event.key.encode(),
                                               headers=[("ce_id", str(event.seq).encode())]))  # fmt: skip
        written += size
    await asyncio.gather(*pending)
    await producer.stop()


def scenario(mode: str, rate: int | None) -> Figures:
    with tempfile.TemporaryDirectory() as tmp, EmbeddedBroker() as broker:
        asyncio.run(ensure_topics(broker.bootstrap, [TOPIC], partitions=6))
        consumer = subprocess.Popen(
            [sys.executable, "-m", "bench.consumer", mode, "--bootstrap", broker.bootstrap,
             "--expected", str(EVENTS), "--data-dir", f"{tmp}/consumer"],
            cwd=ROOT, stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        assert consumer.stdout is not None
        if consumer.stdout.readline().strip() != "ready":
            raise RuntimeError(f"the {mode} consumer did not start")
        started = now()
        if mode == "civic":
            asyncio.run(produce_civic(broker.bootstrap, Path(tmp) / "producer", rate))
        else:
            asyncio.run(produce_plain(broker.bootstrap, rate))
        result = json.loads(consumer.stdout.readline())
        consumer.wait(30)
    label = {"civic": "outbox → relay → runner (+inbox)", "plain": "plain aiokafka produce → consume"}[mode]
    load = f"paced {rate:,}/s" if rate else "flat out"
    return Figures(f"{label}, {load}", EVENTS, result["done_at"] - started, result["latencies_ms"])


def civic_up_seconds() -> float:
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        while any(_busy(port + i) for i in range(6)):
            port = free_port()
        proc = subprocess.Popen(
            [sys.executable, "-m", "civic.local", "--data-dir", tmp, "--port", str(port),
             "--broker-port", str(free_port())],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
        assert proc.stdout is not None
        try:
            for line in proc.stdout:
                match = re.search(r"ready in ([0-9.]+) s", line)
                if match:
                    return float(match[1])
            raise RuntimeError("civic up did not become ready")
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(30)


def _busy(port: int) -> bool:
    from civic.broker import port_in_use

    return port_in_use(port)


def main() -> None:
    print(f"# civic bench — {EVENTS:,} events of ~1 KB (envelope + data), {KEYS} keys, 6 partitions, SQLite")
    print(f"# machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"{platform.platform()}")  # fmt: skip
    rows: dict[tuple[str, int | None], Figures] = {}
    for rate in (None, RATE):
        for mode in ("plain", "civic"):
            rows[mode, rate] = figures = scenario(mode, rate)
            print(figures.line(), flush=True)
    flat = rows["civic", None].rate / rows["plain", None].rate
    paced_p99 = rows["civic", RATE].pct(99) / max(rows["plain", RATE].pct(99), 0.001)
    print(f"ratio civic/plain: throughput {flat:.2f}×, p99 at {RATE:,}/s {paced_p99:.1f}×")
    print(f"civic up: ready in {civic_up_seconds():.1f} s")


if __name__ == "__main__":
    main()
