"""Gateway overhead: the same service called directly and through the gateway, side by side in one run.

Two upstreams, each in its own uvicorn process on 127.0.0.1, with the gateway in a third:

- **place names** — the real service (``services.placenames.main``, SQLite, its seed loaded), asked for one
  administrative division as a citizen (``GET /divisions/371002``): a typical small read with the stack every
  civic service has (tracing, request ids, the forwarded identity checked, a database read). Direct calls carry
  the signed identity the gateway would forward. This is the comparison issue #9's goals are about.
- **ping** — a bare FastAPI app answering a constant: the gateway's own ceiling, what it costs per request when
  the service costs nothing.

Load comes from ``wrk`` (Debian package; ``make bench`` installs it when it can) in its own process: 16
connections for throughput, then 1 connection for the latency a single request gains (p50 at 16 connections is
mostly queueing, and is printed too). The latency at 1 connection is taken in short rounds, direct and through the
gateway in turn, and the added p50 is the median of the rounds' differences: the place-names read itself varies
by a millisecond or more from one few-second stretch to the next on this machine, more than the gateway adds, and
two long measurements one after the other compared that drift rather than the gateway. Without wrk, an httpx client in its own process is used instead and says
so. Run with ``.venv/bin/python -m bench.gateway_overhead``. Goals (issue #9): throughput through the gateway
≥ 70% of direct, p50 added ≤ 2 ms.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
from fastapi import FastAPI

from civic.auth import Principal, Role, identity_headers
from civic.broker import free_port
from civic.config import Settings
from civic.identity import check_character
from gateway.tokens import issue_dev_token

ROOT = Path(__file__).resolve().parents[1]
SECONDS = float(os.environ.get("BENCH_SECONDS", "6"))
IN_FLIGHT = int(os.environ.get("BENCH_IN_FLIGHT", "16"))
ROUNDS = int(os.environ.get("BENCH_LATENCY_ROUNDS", "7"))  # of SECONDS / 2 each way, at 1 connection
DIVISION = "371002"  # 环翠区, in the place-names seed

service_app = FastAPI()


@service_app.get("/ping")
async def ping() -> dict[str, str]:
    return {"pong": "yes"}


@dataclass
class Measured:
    rps: float
    p50_ms: float
    p99_ms: float


def _serve(target: str, port: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "uvicorn", target, "--host", "127.0.0.1", "--port", str(port), "--log-level",
         "warning", "--no-access-log"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip


def _wait_for(url: str, headers: dict[str, str], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, headers=headers, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer 200")


_WRK_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def _wrk_ms(text: str, label: str) -> float:
    found = re.search(rf"^\s*{label}\s+([\d.]+)(us|ms|s)\s*$", text, re.MULTILINE)
    if found is None:
        raise RuntimeError(f"wrk printed no {label} latency:\n{text}")
    return float(found[1]) * _WRK_UNITS[found[2]]


def _wrk(url: str, headers: dict[str, str], connections: int, seconds: float) -> Measured:
    header_args = [arg for name, value in headers.items() for arg in ("-H", f"{name}: {value}")]
    warm_up = ["wrk", "-t1", f"-c{connections}", "-d1s", *header_args, url]
    subprocess.run(warm_up, capture_output=True, check=True)  # connections open, caches filled
    run = ["wrk", "-t1", f"-c{connections}", f"-d{seconds:g}s", "--latency", *header_args, url]
    out = subprocess.run(run, capture_output=True, text=True, check=True).stdout
    if "Non-2xx" in out or "Socket errors" in out:
        raise RuntimeError(f"failed requests while measuring {url}:\n{out}")
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    assert rps is not None, out
    return Measured(float(rps[1]), _wrk_ms(out, "50%"), _wrk_ms(out, "99%"))


async def _httpx_load(url: str, headers: dict[str, str], connections: int, seconds: float) -> Measured:
    latencies: list[float] = []
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    async with httpx.AsyncClient(headers=headers, limits=limits, timeout=10) as client:
        for _ in range(100):  # warm-up: connections open, caches filled
            (await client.get(url)).raise_for_status()
        until = time.perf_counter() + seconds

        async def worker() -> None:
            while time.perf_counter() < until:
                started = time.perf_counter()
                response = await client.get(url)
                latencies.append(time.perf_counter() - started)
                response.raise_for_status()

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(connections)))
        elapsed = time.perf_counter() - started
    latencies.sort()
    return Measured(len(latencies) / elapsed, statistics.median(latencies) * 1000,
                    latencies[int(len(latencies) * 0.99)] * 1000)  # fmt: skip


def _httpx_process(
    url: str,
    headers: dict[str, str],
    connections: int,
    seconds: float,
    out: multiprocessing.Queue,  # type: ignore[type-arg]
) -> None:
    out.put(asyncio.run(_httpx_load(url, headers, connections, seconds)))


def measure(url: str, headers: dict[str, str], connections: int, seconds: float = SECONDS) -> Measured:
    """Throughput and latency from a load generator in its own process."""
    if shutil.which("wrk"):
        return _wrk(url, headers, connections, seconds)
    out: multiprocessing.Queue = multiprocessing.Queue()  # type: ignore[type-arg]
    proc = multiprocessing.Process(target=_httpx_process, args=(url, headers, connections, seconds, out))
    proc.start()
    measured: Measured = out.get(timeout=300)
    proc.join()
    return measured


@dataclass
class Target:
    url: str
    headers: Callable[[], dict[str, str]]

    def measure(self, connections: int, seconds: float) -> Measured:
        return measure(self.url, self.headers(), connections, seconds)


@dataclass
class Compared:
    many: tuple[Measured, Measured]  # direct, via gateway; IN_FLIGHT connections
    rounds: list[tuple[Measured, Measured]]  # direct, via gateway; 1 connection, in turn

    @property
    def throughput_ratio(self) -> float:
        return self.many[1].rps / self.many[0].rps

    @property
    def p50_added_by_round(self) -> list[float]:
        return [g.p50_ms - d.p50_ms for d, g in self.rounds]

    @property
    def p50_added_ms(self) -> float:
        return statistics.median(self.p50_added_by_round)


def compare(direct: Target, gateway: Target) -> Compared:
    many = (direct.measure(IN_FLIGHT, SECONDS), gateway.measure(IN_FLIGHT, SECONDS))
    rounds = [(direct.measure(1, SECONDS / 2), gateway.measure(1, SECONDS / 2)) for _ in range(ROUNDS)]
    return Compared(many, rounds)


def main() -> None:
    loader = "wrk" if shutil.which("wrk") else "an httpx client (wrk not installed: `apt-get install wrk`)"
    with tempfile.TemporaryDirectory(prefix="civic-bench-gw-") as data_dir:
        ping_port, names_port, gateway_port = free_port(), free_port(), free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("CIVIC_")}
        # No broker: the bench measures the HTTP path; the consumers keep retrying quietly in the background.
        civic_env = {**env, "CIVIC_DATA_DIR": data_dir, "CIVIC_LOG_LEVEL": "WARNING",
                     "CIVIC_KAFKA_BOOTSTRAP": f"127.0.0.1:{free_port()}"}  # fmt: skip
        ping = _serve("bench.gateway_overhead:service_app", ping_port, env)
        names = _serve("services.placenames.main:app", names_port, {**civic_env, "CIVIC_SERVICE_NAME": "placenames"})
        gateway = _serve("gateway.main:app", gateway_port, {
            **civic_env, "CIVIC_DEV_ISSUER": "true",
            "CIVIC_SERVICE_URLS": json.dumps({"ping": f"http://127.0.0.1:{ping_port}",
                                              "placenames": f"http://127.0.0.1:{names_port}"}),
            "CIVIC_RATE_LIMIT_PER_S": "1000000", "CIVIC_RATE_LIMIT_BURST": "1000000",
        })  # fmt: skip
        try:
            settings = Settings(data_dir=Path(data_dir))
            citizen = "37100219450312003" + check_character("37100219450312003")
            token = issue_dev_token(settings, role=Role.CITIZEN, subject=citizen)
            via_gateway = {"authorization": f"Bearer {token}"}

            def direct() -> dict[str, str]:
                """Signed anew for each measurement: a forwarded identity lives two minutes, the bench longer."""
                return identity_headers(Principal(subject=citizen, role=Role.CITIZEN), settings)

            pairs: dict[str, tuple[Target, Target]] = {
                "place names": (Target(f"http://127.0.0.1:{names_port}/divisions/{DIVISION}", direct),
                                Target(f"http://127.0.0.1:{gateway_port}/api/placenames/divisions/{DIVISION}",
                                       lambda: via_gateway)),
                "ping": (Target(f"http://127.0.0.1:{ping_port}/ping", dict),
                         Target(f"http://127.0.0.1:{gateway_port}/api/ping/ping", lambda: via_gateway)),
            }  # fmt: skip
            for pair in pairs.values():
                for target in pair:
                    _wait_for(target.url, target.headers())
            results = {name: compare(*pair) for name, pair in pairs.items()}
        finally:
            for proc in (gateway, names, ping):
                proc.terminate()
                proc.wait(10)
    print(f"gateway overhead: load from {loader}, each server in its own process; {IN_FLIGHT} connections for "
          f"{SECONDS:g} s each way, then 1 connection in {ROUNDS} rounds of {SECONDS / 2:g} s each way, in turn")  # fmt: skip
    for name, result in results.items():
        print(f"  {name}")
        d, g = result.many
        print(f"    {IN_FLIGHT} connections direct {d.rps:7.0f} req/s p50 {d.p50_ms:6.2f} ms p99 {d.p99_ms:6.2f} ms"
              f" | via gateway {g.rps:7.0f} req/s p50 {g.p50_ms:6.2f} ms p99 {g.p99_ms:6.2f} ms")  # fmt: skip
        rounds = "  ".join(f"{d.p50_ms:.2f}→{g.p50_ms:.2f}" for d, g in result.rounds)
        print(f"    1 connection, p50 direct→via gateway by round (ms): {rounds}")
        ratio, added = result.throughput_ratio, result.p50_added_ms
        spread = f"rounds {min(result.p50_added_by_round):.2f}…{max(result.p50_added_by_round):.2f}"
        verdict = "met" if ratio >= 0.7 and added <= 2 else "not met"
        goal = f"   → goal {verdict}" if name == "place names" else "   (the gateway's ceiling; no goal)"
        print(
            f"    throughput ratio {ratio:.0%} (goal ≥ 70%)   p50 added at 1 connection {added:.2f} ms, the median of "
            f"the rounds ({spread}; goal ≤ 2 ms); {g.p50_ms - d.p50_ms:.2f} ms at {IN_FLIGHT}, queueing{goal}"
        )


if __name__ == "__main__":
    main()
