"""``civic up``: the whole system on one machine — embedded broker, five services, gateway — supervised.

Each service is its own process (as in production), on its own SQLite file under the data directory. The
supervisor waits until every one is ready, prints where to go, and on Ctrl-C or SIGTERM stops them all. The
children run in their own sessions (so a terminal's Ctrl-C reaches only the supervisor, which stops them in
order) and get a parent-death signal, so even a supervisor killed with SIGKILL leaves nothing behind.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

import httpx

from civic.broker import EmbeddedBroker, ensure_topics, port_in_use, system_topics
from civic.config import DOMAINS, Settings, local_service_urls
from civic.forked import ForkedProcess, fork_app, preload

_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


@dataclass
class Child:
    name: str
    port: int
    process: ForkedProcess
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def tail(self, lines: int = 20) -> str:
        """The log's last lines, then the error that stopped the service if the log names one."""
        try:
            text = self.log.read_text(errors="replace")
        except FileNotFoundError:
            return ""
        last = "\n".join(text.splitlines()[-lines:])
        cause = failure_of(text)
        return f"{last}\n\ncause: {cause}" if cause and cause not in last else last


def failure_of(log: str) -> str | None:
    """The exception line of the last error the service logged with a traceback (JSON log lines). A service that
    fails at start-up ends its log with uvicorn's own traceback, ending in ``SystemExit: 3``; the reason — a
    schema from an older checkout, a missing setting — is in the error logged just before."""
    for line in reversed(log.splitlines()):
        if not line.startswith("{"):
            continue
        try:
            record = json.loads(line)
        except ValueError:
            continue
        message = str(record.get("message", ""))  # a line opening with "{" that parses is an object
        if record.get("level") in ("ERROR", "CRITICAL") and "Traceback" in message:
            return message.rstrip().splitlines()[-1]
    return None


MAX_RESTARTS = 3
RESTART_WINDOW_S = 60.0


def apps(base_port: int) -> list[tuple[str, str, int]]:
    """(name, ASGI app, port) of every process ``civic up`` runs: the gateway first, then the services."""
    urls = local_service_urls(base_port)
    return [("gateway", "gateway.main:app", base_port)] + [
        (d, f"services.{d}.main:app", int(urls[d].rsplit(":", 1)[1])) for d in DOMAINS
    ]


def child_env(data_dir: Path, bootstrap: str, base_port: int) -> dict[str, str]:
    env = {
        **os.environ,
        "CIVIC_KAFKA_BOOTSTRAP": bootstrap,
        "CIVIC_DATA_DIR": str(data_dir),
        "CIVIC_SERVICE_URLS": json.dumps(local_service_urls(base_port)),
        "CIVIC_ENVIRONMENT": "local",
        # Local only: the gateway accepts tokens from `civic token`, signed with <data_dir>/dev-issuer.pem.
        "CIVIC_DEV_ISSUER": "true",
        # Local only: department webhooks may point at this machine (tests' receivers listen on 127.0.0.1).
        "CIVIC_WEBHOOK_ALLOW_PRIVATE_NETWORKS": "true",
        # A fresh key per run for the identity the gateway forwards: the well-known development default would
        # let anyone who reaches a service port directly claim to be anyone.
        "CIVIC_INTERNAL_KEY": os.environ.get("CIVIC_INTERNAL_KEY") or secrets.token_urlsafe(32),
        "PYTHONUNBUFFERED": "1",  # so a crashed child's last words are in its log
    }
    # One database URL for all would put six services in one database: each gets <data_dir>/<name>.db, or, with
    # a URL that names {service}, a database of its own on that server.
    if "{service}" not in env.get("CIVIC_DATABASE_URL", "{service}"):
        env.pop("CIVIC_DATABASE_URL")
    env.pop("CIVIC_SERVICE_NAME", None)
    return env


def _spawn(name: str, target: str, port: int, env: dict[str, str], logs: Path) -> Child:
    # The title is what `ps` shows: which service, on which port, for which data directory.
    title = f"civic {name} --data-dir {env['CIVIC_DATA_DIR']} (uvicorn {target} --port {port})"
    return Child(name, port, fork_app(target, port, env, logs / f"{name}.log", title), logs / f"{name}.log")


def _wait_ready(children: list[Child], deadline: float, stopping: list[int]) -> Child | None:
    """None when every child answers /readyz with 200; otherwise the first that died or was not ready in time."""
    pending = list(children)
    with httpx.Client(timeout=1.0) as client:
        while pending and not stopping:
            for child in list(pending):
                if child.process.poll() is not None:
                    return child
                try:
                    if client.get(child.url + "/readyz").status_code == 200:
                        pending.remove(child)
                except httpx.TransportError:
                    pass  # not listening yet: still importing, or still in its lifespan startup
            if pending and time.monotonic() > deadline:
                return pending[0]
            time.sleep(0.05)
    return None


def _stop(children: list[Child], broker: EmbeddedBroker | None) -> None:
    # The services go first, so that they can still flush to the broker while they shut down.
    for child in children:
        if child.process.poll() is None:
            child.process.terminate()
    deadline = time.monotonic() + 10
    for child in children:
        try:
            child.process.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            print(f"civic up: {child.name} did not stop within 10 s; killing it", file=sys.stderr)
            child.process.kill()
            child.process.wait()
    if broker is not None:
        broker.stop()


def _fail(message: str) -> int:
    print(f"civic up: {message}", file=sys.stderr, flush=True)
    return 1


def run_up(data_dir: Path, base_port: int = 8000, broker_port: int = 19092, ready_timeout_s: float = 60) -> int:
    """Run everything until SIGINT/SIGTERM (exit code 0), or until something fails (1)."""
    started = time.monotonic()
    processes = apps(base_port)
    ports = [broker_port, *(port for _, _, port in processes)]
    if len(set(ports)) != len(ports):
        return _fail(f"the broker port {broker_port} collides with the HTTP ports {base_port}–{base_port + 5}")
    busy = [p for p in ports if port_in_use(p)]
    if busy:
        return _fail(f"port {', '.join(map(str, busy))} already in use — is civic (or something else) running?")
    data_dir = data_dir.resolve()
    logs = data_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)

    # A list rather than a flag, so the handler can record which signal without `nonlocal`.
    stopping: list[int] = []

    def request_stop(signum: int, _frame: FrameType | None) -> None:
        stopping.append(signum)

    previous = {s: signal.signal(s, request_stop) for s in _STOP_SIGNALS}
    broker: EmbeddedBroker | None = None
    children: list[Child] = []
    try:
        broker = EmbeddedBroker(broker_port, log_path=logs / "broker.log", supervised=True)
        try:
            broker.start()
            asyncio.run(ensure_topics(broker.bootstrap, system_topics(), Settings().kafka_partitions))
        except Exception as exc:
            return _fail(f"the broker did not start: {exc}")
        env = child_env(data_dir, broker.bootstrap, base_port)
        preload()  # once here, instead of once in each of the six processes
        children = [_spawn(name, target, port, env, logs) for name, target, port in processes]
        failed = _wait_ready(children, time.monotonic() + ready_timeout_s, stopping)
        if stopping:
            return 0
        if failed is not None:
            state = (
                f"exited with {failed.process.returncode}"
                if failed.process.poll() is not None
                else f"was not ready within {ready_timeout_s:g} s"
            )
            return _fail(f"{failed.name} {state}; stopping everything. Last lines of {failed.log}:\n{failed.tail()}")
        print(banner(children, broker, data_dir, time.monotonic() - started), flush=True)
        targets = {name: target for name, target, _ in processes}
        restarts: dict[str, list[float]] = {}
        while not stopping:
            for i, dead in enumerate(children):
                if dead.process.poll() is None:
                    continue
                # Like an orchestrator, restart a crashed service (its events wait on the bus meanwhile);
                # one that keeps crashing takes everything down rather than flapping for ever.
                recent = [t for t in restarts.get(dead.name, []) if time.monotonic() - t < RESTART_WINDOW_S]
                if len(recent) >= MAX_RESTARTS:
                    return _fail(
                        f"{dead.name} exited with {dead.process.returncode} {len(recent) + 1} times within "
                        f"{RESTART_WINDOW_S:g} s; stopping everything. Last lines of {dead.log}:\n{dead.tail()}"
                    )
                restarts[dead.name] = [*recent, time.monotonic()]
                print(f"civic up: {dead.name} exited with {dead.process.returncode}; restarting it", flush=True)
                children[i] = _spawn(dead.name, targets[dead.name], dead.port, env, logs)
            time.sleep(0.2)
        print("civic up: stopping…", flush=True)
        return 0
    finally:
        _stop(children, broker)
        for s, handler in previous.items():
            signal.signal(s, handler)


def _civic() -> str:
    """The `civic` command as a newcomer can type it: the venv's, relative to here when it is below here."""
    command = Path(sys.executable).parent / "civic"
    try:
        return str(command.relative_to(Path.cwd()))
    except ValueError:
        return str(command)


def banner(children: list[Child], broker: EmbeddedBroker, data_dir: Path, seconds: float) -> str:
    gateway = children[0]
    sample = (
        '{"resident_id": "110101194802290018", "date_of_death": "2024-05-01", '
        '"reported_by": {"name": "张三", "relation": "子女"}}'
    )
    lines = [
        f"civic is up — ready in {seconds:.1f} s",
        "",
        f"  gateway      {gateway.url}  (/api/<service>/… ; the whole API: {gateway.url}/api/docs)",
        *(f"  {c.name:<12} {c.url}/docs" for c in children[1:]),
        f"  broker       {broker.bootstrap}  (watch: {_civic()} events tail --bootstrap {broker.bootstrap})",
        f"  data         {data_dir}",
        f"  logs         {data_dir / 'logs'}",
        "",
        "  try it (a funeral caseworker's token from the local development issuer, then a death registration):",
        f"    TOKEN=$({_civic()} token --role caseworker --subject cw-1 --domain funeral --data-dir {data_dir})",
        f'    curl -sX POST {gateway.url}/api/funeral/deaths -H "authorization: Bearer $TOKEN" '
        f"-H 'content-type: application/json' -d '{sample}'",
        "",
        "Ctrl-C to stop.",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m civic.local", description=__doc__)
    parser.add_argument("--data-dir", type=Path, default=Path(".data"))
    parser.add_argument("--base-port", "--port", type=int, default=8000, help="gateway port; services take +1..+5")
    parser.add_argument("--broker-port", type=int, default=19092)
    parser.add_argument("--ready-timeout", type=float, default=60.0)
    args = parser.parse_args(argv)
    return run_up(args.data_dir, args.base_port, args.broker_port, args.ready_timeout)


if __name__ == "__main__":
    sys.exit(main())
