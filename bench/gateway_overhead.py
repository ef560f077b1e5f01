"""Gateway overhead: the same small service called directly and through the gateway, side by side in one run.

The service and the gateway run as separate uvicorn processes on 127.0.0.1; the load comes from a third process
(an httpx client with a fixed number of requests in flight: a bounded load, not a flood). Run with
``.venv/bin/python -m bench.gateway_overhead``. Goals (issue 9): throughput through the gateway ≥ 70% of direct,
p50 added ≤ 2 ms.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from fastapi import FastAPI

from civic.auth import Role
from civic.broker import free_port
from civic.config import Settings
from civic.identity import check_character
from gateway.tokens import issue_dev_token

ROOT = Path(__file__).resolve().parents[1]
REQUESTS = int(os.environ.get("BENCH_REQUESTS", "4000"))
IN_FLIGHT = int(os.environ.get("BENCH_IN_FLIGHT", "16"))

service_app = FastAPI()


@service_app.get("/ping")
async def ping() -> dict[str, str]:
    return {"pong": "yes"}


def _serve(target: str, port: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "uvicorn", target, "--host", "127.0.0.1", "--port", str(port), "--log-level",
         "warning", "--no-access-log"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip


def _wait_for(url: str, headers: dict[str, str], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, headers=headers, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer")


async def _load(url: str, headers: dict[str, str]) -> tuple[float, list[float]]:
    latencies: list[float] = []
    remaining = REQUESTS
    limits = httpx.Limits(max_connections=IN_FLIGHT, max_keepalive_connections=IN_FLIGHT)
    async with httpx.AsyncClient(headers=headers, limits=limits, timeout=10) as client:
        for _ in range(200):  # warm-up: connections open, caches filled
            await client.get(url)

        async def worker() -> None:
            nonlocal remaining
            while remaining > 0:
                remaining -= 1
                started = time.perf_counter()
                response = await client.get(url)
                latencies.append(time.perf_counter() - started)
                response.raise_for_status()

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(IN_FLIGHT)))
        return time.perf_counter() - started, latencies


def _load_process(url: str, headers: dict[str, str], out: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    out.put(asyncio.run(_load(url, headers)))


def measure(url: str, headers: dict[str, str]) -> tuple[float, float]:
    """Requests per second and p50 latency (ms), from a load generator in its own process."""
    out: multiprocessing.Queue = multiprocessing.Queue()  # type: ignore[type-arg]
    proc = multiprocessing.Process(target=_load_process, args=(url, headers, out))
    proc.start()
    elapsed, latencies = out.get(timeout=300)
    proc.join()
    return REQUESTS / elapsed, statistics.median(latencies) * 1000


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="civic-bench-gw-") as data_dir:
        service_port, gateway_port = free_port(), free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("CIVIC_")}
        service = _serve("bench.gateway_overhead:service_app", service_port, env)
        gateway = _serve("gateway.main:app", gateway_port, {
            **env, "CIVIC_DATA_DIR": data_dir, "CIVIC_DEV_ISSUER": "true", "CIVIC_LOG_LEVEL": "WARNING",
            "CIVIC_SERVICE_URLS": json.dumps({"funeral": f"http://127.0.0.1:{service_port}"}),
            "CIVIC_RATE_LIMIT_PER_S": "1000000", "CIVIC_RATE_LIMIT_BURST": "1000000",
            # No broker: the bench measures the HTTP path; the gateway's consumers keep retrying in the background.
            "CIVIC_KAFKA_BOOTSTRAP": f"127.0.0.1:{free_port()}",
        })  # fmt: skip
        try:
            # A citizen: the routing path alone. A caseworker's read adds one audit-log insert (a SQLite commit).
            citizen = "37100219450312003" + check_character("37100219450312003")
            token = issue_dev_token(Settings(data_dir=Path(data_dir)), role=Role.CITIZEN, subject=citizen)
            auth = {"authorization": f"Bearer {token}"}
            direct_url = f"http://127.0.0.1:{service_port}/ping"
            gateway_url = f"http://127.0.0.1:{gateway_port}/api/funeral/ping"
            _wait_for(direct_url, {})
            _wait_for(gateway_url, auth)
            direct_rps, direct_p50 = measure(direct_url, {})
            gateway_rps, gateway_p50 = measure(gateway_url, auth)
        finally:
            for proc in (gateway, service):
                proc.terminate()
                proc.wait(10)
    print(f"gateway overhead ({REQUESTS} GETs, {IN_FLIGHT} in flight, one process each)")
    print(f"  direct        {direct_rps:8.0f} req/s   p50 {direct_p50:6.2f} ms")
    print(f"  via gateway   {gateway_rps:8.0f} req/s   p50 {gateway_p50:6.2f} ms")
    ratio, added = gateway_rps / direct_rps, gateway_p50 - direct_p50
    print(f"  throughput ratio {ratio:.0%} (goal ≥ 70%)   p50 added {added:.2f} ms (goal ≤ 2 ms)")


if __name__ == "__main__":
    main()
