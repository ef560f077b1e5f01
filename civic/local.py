"""``civic up``: the whole system on one machine — embedded broker, five services, gateway — supervised.

Each service is its own process (as in production), on its own SQLite file under the data directory. The
supervisor waits until every one is ready, prints where to go, and on Ctrl-C or SIGTERM stops them all. The
children also get a parent-death signal, so even a supervisor killed with SIGKILL leaves nothing behind.
"""

from __future__ import annotations

import asyncio
import ctypes
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from civic.broker import EmbeddedBroker, ensure_topics, port_in_use, system_topics
from civic.config import DOMAINS, Settings, local_service_urls

_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    # Runs in the child between fork and exec: ask the kernel to SIGTERM us when the supervisor dies.
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


@dataclass
class Child:
    name: str
    port: int
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return ""


def _apps(base_port: int) -> list[tuple[str, str, int]]:
    urls = local_service_urls(base_port)
    apps = [("gateway", "gateway.main:app", base_port)]
    apps += [(d, f"services.{d}.main:app", int(urls[d].rsplit(":", 1)[1])) for d in DOMAINS]
    return apps


def _spawn(name: str, target: str, port: int, env: dict[str, str], logs: Path) -> Child:
    log = logs / f"{name}.log"
    with open(log, "ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", target, "--host", "127.0.0.1", "--port", str(port),
             "--log-level", "warning", "--timeout-graceful-shutdown", "5"],
            stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True, preexec_fn=_die_with_parent,
        )  # fmt: skip
    return Child(name, port, process, log)


async def _wait_ready(children: list[Child], deadline: float) -> Child | None:
    """None when all are ready; otherwise the child that died or was not ready in time."""
    pending = list(children)
    async with httpx.AsyncClient(timeout=2) as client:
        while pending:
            for child in list(pending):
                if child.process.poll() is not None:
                    return child
                try:
                    if (await client.get(child.url + "/readyz")).status_code == 200:
                        pending.remove(child)
                except httpx.TransportError:
                    pass
            if pending and time.monotonic() > deadline:
                return pending[0]
            await asyncio.sleep(0.05)
    return None


def _stop(children: list[Child], broker: EmbeddedBroker) -> None:
    for child in children:
        if child.process.poll() is None:
            child.process.terminate()
    deadline = time.monotonic() + 10
    for child in children:
        try:
            child.process.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.process.kill()
            child.process.wait()
    broker.stop()


def run_up(data_dir: Path, base_port: int = 8000, broker_port: int = 19092, ready_timeout_s: float = 60) -> int:
    started = time.monotonic()
    apps = _apps(base_port)
    busy = [p for p in [broker_port, *(port for _, _, port in apps)] if port_in_use(p)]
    if busy:
        print(f"civic up: port(s) {', '.join(map(str, busy))} already in use — is civic already running?",
              file=sys.stderr)  # fmt: skip
        return 1
    data_dir = data_dir.resolve()
    logs = data_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)

    broker = EmbeddedBroker(broker_port, log_path=logs / "broker.log")
    broker.start(preexec_fn=_die_with_parent)
    children: list[Child] = []
    stop_requested = False

    def request_stop(_signum: int, _frame: object) -> None:
        nonlocal stop_requested
        stop_requested = True

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    try:
        asyncio.run(ensure_topics(broker.bootstrap, system_topics(), Settings().kafka_partitions))
        env = {
            **os.environ,
            "CIVIC_KAFKA_BOOTSTRAP": broker.bootstrap,
            "CIVIC_DATA_DIR": str(data_dir),
            "CIVIC_SERVICE_URLS": json.dumps(local_service_urls(base_port)),
            "CIVIC_ENVIRONMENT": "local",
        }
        env.pop("CIVIC_DATABASE_URL", None)  # each service must get its own database file
        children = [_spawn(name, target, port, env, logs) for name, target, port in apps]
        failed = asyncio.run(_wait_ready(children, time.monotonic() + ready_timeout_s))
        if failed is not None:
            state = "exited" if failed.process.poll() is not None else "was not ready in time"
            print(f"civic up: {failed.name} {state}. Last lines of {failed.log}:\n{failed.tail()}", file=sys.stderr)
            return 1
        _print_ready(children, broker, data_dir, time.monotonic() - started)
        while not stop_requested:
            dead = next((c for c in children if c.process.poll() is not None), None)
            if dead is not None:
                print(f"civic up: {dead.name} exited ({dead.process.returncode}); stopping everything.\n"
                      f"Last lines of {dead.log}:\n{dead.tail()}", file=sys.stderr)  # fmt: skip
                return 1
            time.sleep(0.2)
        print("civic up: stopping…", flush=True)
        return 0
    finally:
        _stop(children, broker)


def _print_ready(children: list[Child], broker: EmbeddedBroker, data_dir: Path, seconds: float) -> None:
    gateway = children[0]
    lines = [
        f"civic is up — ready in {seconds:.1f} s",
        "",
        f"  gateway      {gateway.url}    (routes /api/<service>/…; docs {gateway.url}/docs)",
    ]
    lines += [f"  {c.name:<12} {c.url}/docs" for c in children[1:]]
    lines += [
        f"  broker       {broker.bootstrap}  (watch it: civic events tail --bootstrap {broker.bootstrap})",
        f"  data, logs   {data_dir}  ({data_dir / 'logs'})",
        "",
        "Ctrl-C to stop.",
    ]
    print("\n".join(lines), flush=True)


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data-dir", type=Path, default=Path(".data"))
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--broker-port", type=int, default=19092)
    args = parser.parse_args()
    sys.exit(run_up(args.data_dir, args.port, args.broker_port))
