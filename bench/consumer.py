"""The consuming side of a benchmark run, in its own process as a consuming service would be.

Prints ``ready`` once it owns its partitions, then one JSON line with the latencies when it has seen the
expected number of events. Latency = wall-clock time the event was fully handled minus ``written_at``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from aiokafka import AIOKafkaConsumer

from bench.load import TOPIC, LoadGenerated, now
from civic import db
from civic.app import KERNEL_TABLES
from civic.bus import ConsumerRunner, HandlerContext
from civic.config import Settings
from civic.events import Received
from civic.outbox import Outbox


async def handle_load(event: LoadGenerated, ctx: HandlerContext) -> None:
    """Stands in for a domain handler: the work it does is the runner's (inbox write, one transaction)."""


async def run_civic(settings: Settings, expected: int) -> list[float]:
    engine = db.make_engine(settings.resolved_database_url())
    await db.create_tables(engine, KERNEL_TABLES)
    runner = ConsumerRunner(settings, engine, Outbox(settings), "bench", {LoadGenerated: [handle_load]})
    latencies: list[float] = []
    finished = asyncio.Event()

    async def record(done: Sequence[Received]) -> None:
        t = now()
        latencies.extend((t - json.loads(r.value)["written_at"]) * 1000 for r in done)
        if len(latencies) >= expected:
            finished.set()

    runner.after_commit.append(record)
    task = asyncio.create_task(runner.run())
    while runner.consumer is None or not runner.consumer.assignment():
        await asyncio.sleep(0.01)
    print("ready", flush=True)
    await finished.wait()
    await runner.stop()
    task.cancel()
    await engine.dispose()
    return latencies


async def run_plain(bootstrap: str, expected: int, settings: Settings) -> list[float]:
    consumer = AIOKafkaConsumer(
        TOPIC,
        bootstrap_servers=bootstrap,
        group_id="bench-plain",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        session_timeout_ms=settings.kafka_session_timeout_ms,
        heartbeat_interval_ms=settings.kafka_heartbeat_interval_ms,
        max_poll_records=settings.consumer_batch_size,
        fetch_max_wait_ms=settings.kafka_fetch_max_wait_ms,
    )
    await consumer.start()
    while not consumer.assignment():
        await asyncio.sleep(0.01)
    print("ready", flush=True)
    latencies: list[float] = []
    while len(latencies) < expected:
        batch = await consumer.getmany(timeout_ms=500, max_records=settings.consumer_batch_size)
        t = now()
        for records in batch.values():
            latencies.extend((t - json.loads(r.value)["written_at"]) * 1000 for r in records if r.value)
        if batch:
            await consumer.commit()  # as the runner does: commit after each batch
    await consumer.stop()
    return latencies


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["civic", "plain"])
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--expected", type=int, required=True)
    parser.add_argument("--data-dir", type=Path, required=True)
    args = parser.parse_args()
    settings = Settings(service_name="bench-consumer", data_dir=args.data_dir, kafka_bootstrap=args.bootstrap,
                        kafka_session_timeout_ms=3000, kafka_heartbeat_interval_ms=300,
                        kafka_rebalance_timeout_ms=1000, log_json=False, log_level="WARNING")  # fmt: skip
    if args.mode == "civic":
        latencies = await run_civic(settings, args.expected)
    else:
        latencies = await run_plain(args.bootstrap, args.expected, settings)
    json.dump({"latencies_ms": latencies, "done_at": now()}, sys.stdout)
    print(flush=True)


if __name__ == "__main__":
    asyncio.run(main())
