"""身后一件事 on the whole system as `civic up` runs it (SQLite), choreographed and, side by side, orchestrated.

- **Choreography** (the design): the death is registered through the gateway; the services react to each other's
  events. Journeys/s flat out (16 in flight), completion latency at a steady 50/s, and the same steady load while
  one service (eldercare) is stopped (SIGSTOP) for 30 s.
- **Synchronous baseline**: the same system with its consumers off and ``civic.steps`` on; an orchestrator calls,
  through the gateway, funeral's registration and then each service that reacts to what the last one published,
  in turn, until nothing is left — what a gateway orchestrating the journey over HTTP would do. Same three
  measurements.

A journey is complete when every step of its definition is done or not needed, as seen on the bus by an observer
reading the domain topics (the tracker's own view adds its projection lag); for both designs the same way.

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
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import aiohttp
from aiokafka import AIOKafkaConsumer

from civic.auth import Role
from civic.broker import free_port, port_in_use
from civic.config import DOMAINS, Settings
from civic.events import UnparseableEvent, current_correlation_id, decode
from civic.identity import check_character
from civic.outbox import Outbox
from civic.steps import message_of_row
from contracts.funeral import DeathRegistered, Reporter
from gateway.journeys.definitions.after_death import AFTER_DEATH
from gateway.journeys.model import JourneyState
from gateway.journeys.progress import Seen, derive
from gateway.tokens import issue_dev_token

ROOT = Path(__file__).resolve().parents[1]
FLAT_OUT = int(os.environ.get("BENCH_JOURNEYS", "200"))
PACED = int(os.environ.get("BENCH_PACED_JOURNEYS", "200"))
RATE = float(os.environ.get("BENCH_JOURNEY_RATE", "50"))
OUTAGE_S = float(os.environ.get("BENCH_OUTAGE_S", "30"))
OUTAGE_RATE = float(os.environ.get("BENCH_OUTAGE_RATE", "10"))
STOPPED = "eldercare"  # the service stopped for the outage
CONCURRENCY = 16
_serial = iter(range(1, 10**6))


def resident_id(born: date) -> str:
    """A valid, unique resident ID for the load (region 371002, Weihai Huancui)."""
    first17 = f"371002{born:%Y%m%d}{next(_serial) % 1000:03d}"
    return first17 + check_character(first17)


def born(i: int) -> date:
    return date(1925 + i % 45, 1 + i % 12, 1 + i % 28)


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


class Refused(Exception):
    """The gateway or a service answered with an error status."""

    def __init__(self, status: int, path: str) -> None:
        super().__init__(f"{status} from {path.split('/')[2]}")
        self.status, self.path = status, path


class Api:
    """The load's HTTP client: aiohttp, whose CPU per call is a fraction of httpx's (the gateway bench measured
    httpx's pool at ~3.4 ms a call) — the load runs on the same two cores as the system it measures."""

    def __init__(self, session: aiohttp.ClientSession) -> None:
        self.session = session

    async def call(self, method: str, path: str, headers: dict[str, str], body: Any = None) -> Any:
        async with self.session.request(method, path, headers=headers, json=body) as response:
            if response.status >= 400:
                await response.read()
                raise Refused(response.status, path)
            return await response.json()


@dataclass
class Client:
    """The citizen's desk (a funeral caseworker registering deaths) and, for the baseline, the orchestrator."""

    api: Api
    data_dir: Path
    orchestrated: bool
    headers: dict[str, dict[str, str]] = field(default_factory=dict)  # caseworker token per domain
    reacts: dict[str, list[str]] = field(default_factory=dict)  # event type -> domains whose handlers take it

    async def prepare(self) -> None:
        settings = Settings(data_dir=self.data_dir)
        for domain in DOMAINS:
            token = issue_dev_token(settings, role=Role.CASEWORKER, subject=f"bench-{domain}", domain=domain)
            self.headers[domain] = {"authorization": f"Bearer {token}"}
        if self.orchestrated:
            for domain in DOMAINS:
                for event_type in await self.api.call("GET", f"/api/{domain}/steps", self.headers[domain]):
                    self.reacts.setdefault(event_type, []).append(domain)

    async def journey(self, i: int) -> str:
        """Register a death; for the baseline, then carry it through every service in turn. The journey id."""
        person = resident_id(born(i))
        registered = await self.api.call("POST", "/api/funeral/deaths", self.headers["funeral"], {
            "resident_id": person, "date_of_death": "2026-11-01", "reported_by": {"name": "测试", "relation": "子女"}})  # fmt: skip
        if self.orchestrated:
            await self._orchestrate(person, registered)
        return str(registered["journey_id"])

    async def _orchestrate(self, person: str, registered: dict[str, Any]) -> None:
        death = DeathRegistered(
            resident_id=person, registration_id=registered["id"],
            date_of_death=date.fromisoformat(registered["date_of_death"]),
            registered_at=datetime.fromisoformat(registered["registered_at"]).astimezone(UTC),
            reported_by=Reporter(**registered["reported_by"]), source=registered["source"],
            region_code=registered["region_code"],
        )  # fmt: skip
        token = current_correlation_id.set(registered["journey_id"])
        try:
            pending = [message_of_row(Outbox(Settings(service_name="funeral")).record(death)).model_dump()]
        finally:
            current_correlation_id.reset(token)
        while pending:  # breadth first: each service that reacts to a message, in turn
            message = pending.pop(0)
            event_type = dict(message["headers"])["ce_type"]
            for domain in self.reacts.get(event_type, []):
                step = await self.api.call("POST", f"/api/{domain}/steps", self.headers[domain], message)
                pending.extend(step["published"])


@dataclass
class Run:
    started: dict[str, float] = field(default_factory=dict)  # journey id -> when its request went out
    failed: list[str] = field(default_factory=list)  # why each failed journey failed, as the client saw it


async def _one(client: Client, i: int, run: Run) -> None:
    started = time.monotonic()
    try:
        journey_id = await client.journey(i)
    except Refused as exc:
        run.failed.append(str(exc))
        return
    except (aiohttp.ClientError, TimeoutError) as exc:
        run.failed.append(type(exc).__name__)
        return
    run.started[journey_id] = started


async def _wait_complete(observer: Observer, journeys: list[str], timeout: float) -> list[str]:
    """The journeys still incomplete after ``timeout`` seconds (none, normally)."""
    deadline = time.monotonic() + timeout
    while any(j not in observer.completed_at for j in journeys) and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    return [j for j in journeys if j not in observer.completed_at]


def _latencies(observer: Observer, run: Run) -> str:
    done = sorted((observer.completed_at[j] - s) * 1000 for j, s in run.started.items() if j in observer.completed_at)
    if not done:
        return "none completed"
    p50, p99 = done[len(done) // 2], done[min(len(done) - 1, int(0.99 * len(done)))]
    return f"completion p50 {p50:,.0f} ms, p99 {p99:,.0f} ms, max {done[-1]:,.0f} ms"


async def paced(client: Client, count: int, rate: float, run: Run,
                during: Callable[[float], Awaitable[None]] | None = None) -> None:  # fmt: skip
    t0 = time.monotonic()
    tasks = []
    for i in range(count):
        delay = t0 + i / rate - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        if during is not None:
            await during(time.monotonic() - t0)
        tasks.append(asyncio.create_task(_one(client, 10**5 + i, run)))
    await asyncio.gather(*tasks)


class Outage:
    """SIGSTOP the stopped service a few seconds into the load, SIGCONT it ``OUTAGE_S`` later."""

    def __init__(self, pid: int) -> None:
        self.pid, self.state = pid, "before"

    async def __call__(self, elapsed: float) -> None:
        if self.state == "before" and elapsed >= 5:
            os.kill(self.pid, signal.SIGSTOP)
            self.state = "stopped"
        elif self.state == "stopped" and elapsed >= 5 + OUTAGE_S:
            self.resume()

    def resume(self) -> None:
        if self.state == "stopped":
            os.kill(self.pid, signal.SIGCONT)
            self.state = "resumed"


async def scenario(design: str, gateway: str, bootstrap: str, data_dir: Path, stopped_pid: int) -> None:
    observer = Observer(bootstrap)
    stop = asyncio.Event()
    watching = asyncio.create_task(observer.run(stop))
    connector = aiohttp.TCPConnector(limit=CONCURRENCY * 2)
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(base_url=gateway, connector=connector, timeout=timeout) as session:
        client = Client(Api(session), data_dir, orchestrated=design == "baseline")
        await client.prepare()

        flat = Run()
        gate = asyncio.Semaphore(CONCURRENCY)

        async def gated(i: int) -> None:
            async with gate:
                await _one(client, i, flat)

        t0 = time.monotonic()
        await asyncio.gather(*(gated(i) for i in range(FLAT_OUT)))
        accepted_s = time.monotonic() - t0
        missing = await _wait_complete(observer, list(flat.started), 300)
        done = [observer.completed_at[j] for j in flat.started if j in observer.completed_at]
        flat_s = (max(done) - t0) if done else float("nan")
        print(f"  flat out ({CONCURRENCY} in flight): {FLAT_OUT} journeys requested, {len(flat.started)} accepted "
              f"in {accepted_s:.1f} s; all complete after {flat_s:.1f} s → {len(done) / flat_s:,.1f} journeys/s"
              f"{_failures(flat, missing)}")  # fmt: skip

        steady = Run()
        await paced(client, PACED, RATE, steady)
        missing = await _wait_complete(observer, list(steady.started), 300)
        print(f"  paced {RATE:g}/s: {PACED} journeys, {_latencies(observer, steady)}{_failures(steady, missing)}")

        outage, during = Outage(stopped_pid), Run()
        try:
            await paced(client, int(OUTAGE_RATE * (OUTAGE_S + 10)), OUTAGE_RATE, during, outage)
        finally:
            outage.resume()
        missing = await _wait_complete(observer, list(during.started), 120)
        print(f"  paced {OUTAGE_RATE:g}/s with {STOPPED} stopped for {OUTAGE_S:g} s: "
              f"{len(during.started) + len(during.failed)} requested, {len(during.started)} accepted, "
              f"{_latencies(observer, during)}{_failures(during, missing)}")  # fmt: skip
    stop.set()
    await watching


def _failures(run: Run, missing: list[str]) -> str:
    parts = []
    if run.failed:
        reasons: dict[str, int] = {}
        for reason in run.failed:
            reasons[reason] = reasons.get(reason, 0) + 1
        parts.append(f"{len(run.failed)} refused or broken off ({', '.join(f'{n}× {r}' for r, n in reasons.items())})")
    if missing:
        parts.append(f"{len(missing)} accepted but never complete")
    return "; " + "; ".join(parts) if parts else ""


def _pid_of(data_dir: str, name: str) -> int:
    title = f"civic {name} --data-dir {data_dir} ".encode()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "cmdline").read_bytes().startswith(title):
                    return int(entry.name)
            except (FileNotFoundError, ProcessLookupError, PermissionError):
                continue
    raise RuntimeError(f"no {name} process for {data_dir}")


def run_design(design: str) -> None:
    extra = {"CIVIC_SYNCHRONOUS_STEPS": "true", "CIVIC_CONSUMERS_ENABLED": "false"} if design == "baseline" else {}
    # The bench measures the system, not the gateway's per-client limit (one bench client makes all requests).
    env = {**os.environ, "CIVIC_RATE_LIMIT_PER_S": "1000000", "CIVIC_RATE_LIMIT_BURST": "1000000", **extra}
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        while any(port_in_use(port + i) for i in range(6)):
            port = free_port()
        broker_port = free_port()
        proc = subprocess.Popen(
            [sys.executable, "-m", "civic.local", "--data-dir", tmp, "--port", str(port),
             "--broker-port", str(broker_port)],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
        )  # fmt: skip
        assert proc.stdout is not None
        try:
            for line in proc.stdout:
                if re.search(r"ready in ([0-9.]+) s", line):
                    break
            else:
                raise RuntimeError("civic up did not become ready")
            stopped = _pid_of(tmp, STOPPED)
            asyncio.run(scenario(design, f"http://127.0.0.1:{port}", f"127.0.0.1:{broker_port}", Path(tmp), stopped))
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(60)


def main() -> None:
    print(f"# 身后一件事 on civic up (SQLite, 2 cores here): steps {[s.name for s in AFTER_DEATH.steps]}")
    for design, label in (("choreography", "choreography (the design)"),
                          ("baseline", "synchronous baseline (through the gateway, each service in turn)")):  # fmt: skip
        print(label)
        run_design(design)


if __name__ == "__main__":
    main()
