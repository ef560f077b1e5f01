"""The whole system started the way a user starts it (``civic up``), for end-to-end tests.

``civic_system`` is one running system per test session: broker, five services and gateway, each a separate
process on free ports with a temporary data directory. Tests share it, so they must use their own resident
IDs (``tests.factories.resident_id``) and not assume an empty database.
"""

from __future__ import annotations

import os
import queue
import random
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import pytest

from civic.auth import Role
from civic.clock import clock_for, move_forward
from civic.config import Settings, local_service_urls
from gateway.tokens import issue_dev_token
from tests.conftest import database_env

ROOT = Path(__file__).resolve().parents[2]
READY_LINE = "Ctrl-C to stop"


@dataclass
class CivicSystem:
    proc: subprocess.Popen[str]
    data_dir: Path
    gateway_url: str
    service_urls: dict[str, str]
    broker: str  # the Kafka bootstrap address
    output: list[str] = field(default_factory=list)  # the supervisor's stdout and stderr, line by line
    reader: threading.Thread | None = None
    clock_file: Path | None = None  # CIVIC_CLOCK_OFFSET_FILE, when the system's calendar can be moved

    @property
    def base_port(self) -> int:
        return int(self.gateway_url.rsplit(":", 1)[1])

    @property
    def broker_port(self) -> int:
        return int(self.broker.rsplit(":", 1)[1])

    @property
    def ports(self) -> list[int]:
        return [self.base_port + i for i in range(len(self.service_urls) + 1)] + [self.broker_port]

    def children(self) -> set[int]:
        """Live processes started for this system (services, gateway, broker), found by scanning /proc."""
        return live_processes(self.data_dir, self.broker_port) - {self.proc.pid}

    def token(self, role: Role, subject: str, domain: str | None = None) -> str:
        """A bearer token from this system's development issuer, as `civic token` prints it."""
        return issue_dev_token(Settings(data_dir=self.data_dir), role=role, subject=subject, domain=domain)

    def auth(self, role: Role, subject: str, domain: str | None = None) -> dict[str, str]:
        return {"authorization": f"Bearer {self.token(role, subject, domain)}"}

    def move_clock(self, days: int) -> date:
        """Run every service's calendar ``days`` further ahead (a system started with a clock file only)."""
        assert self.clock_file is not None, "this system runs on the real date"
        move_forward(self.clock_file, days)
        return clock_for(Settings(clock_offset_file=self.clock_file))()

    def stop(self, sig: signal.Signals = signal.SIGTERM, timeout: float = 30) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        return self.proc.wait(timeout)


def _bindable(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_ports(count: int) -> int:
    """The first of ``count`` consecutive free ports (civic up needs gateway + five services in a row)."""
    for _ in range(200):
        # Below Linux's ephemeral range (32768 and up): an outgoing connection (a database client, say) may take
        # a port there between our check and civic up binding it.
        base = random.randrange(20000, 32700)
        if all(_bindable(base + i) for i in range(count)):
            return base
    raise RuntimeError(f"no {count} consecutive free ports found")


def accepting(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return False
    # An orphan may stay a zombie when the container's init does not reap; it is dead all the same.
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


def live_processes(data_dir: Path, broker_port: int) -> set[int]:
    """Processes started for the system in ``data_dir``: the services (titled ``civic <name> --data-dir <dir> (…)``
    by the supervisor, or with ``data_dir`` in their environment) and the broker (its port in its command line)."""
    marker_env = f"CIVIC_DATA_DIR={data_dir}".encode()
    marker_cmd = f"tcp://127.0.0.1:{broker_port}".encode()
    marker_title = f"--data-dir {data_dir} (uvicorn ".encode()
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes().split(b"\0")
            cmdline = (entry / "cmdline").read_bytes().split(b"\0")
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
        titled = any(marker_title in arg for arg in cmdline)
        if (marker_env in environ or marker_cmd in cmdline or titled) and _alive(int(entry.name)):
            found.add(int(entry.name))
    return found


def wait_until(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)


def start_civic_up(data_dir: Path, timeout: float = 90, extra_env: dict[str, str] | None = None) -> CivicSystem:
    """Run ``python -m civic.local`` on free ports and return once it has printed its ready banner."""
    data_dir = data_dir.resolve()
    base_port = free_ports(6)
    broker_port = free_ports(1)
    while base_port <= broker_port < base_port + 6:
        broker_port = free_ports(1)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CIVIC_")} | database_env() | (extra_env or {})
    proc = subprocess.Popen(
        [sys.executable, "-m", "civic.local", "--data-dir", str(data_dir), "--base-port", str(base_port),
         "--broker-port", str(broker_port), "--ready-timeout", str(timeout)],
        cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    system = CivicSystem(
        proc=proc,
        data_dir=data_dir,
        gateway_url=f"http://127.0.0.1:{base_port}",
        service_urls=local_service_urls(base_port),
        broker=f"127.0.0.1:{broker_port}",
    )
    # A reader thread keeps the pipe drained for the whole run and lets the wait below have a deadline.
    lines: queue.Queue[str | None] = queue.Queue()

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            system.output.append(line.rstrip("\n"))
            lines.put(line)
        lines.put(None)

    system.reader = threading.Thread(target=read, name="civic-up-stdout", daemon=True)
    system.reader.start()
    deadline = time.monotonic() + timeout + 10
    while True:
        try:
            line = lines.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            line = None
        if line is not None and READY_LINE in line:
            return system
        if line is None:
            stop_system(system)
            output = "\n".join(system.output)
            raise AssertionError(f"civic up did not become ready (exit code {proc.poll()}):\n{output}")


def stop_system(system: CivicSystem) -> None:
    """Stop the supervisor and make sure nothing it started survives, whatever state it is in."""
    try:
        system.stop(signal.SIGTERM, timeout=30)
    except subprocess.TimeoutExpired:
        system.proc.kill()
        system.proc.wait()
    if system.reader is not None:
        system.reader.join(5)  # EOF comes once the supervisor is gone: its children never held the pipe
    if system.proc.stdout is not None:
        system.proc.stdout.close()
    for pid in live_processes(system.data_dir, system.broker_port):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def ready_seconds(system: CivicSystem) -> float:
    match = re.search(r"ready in ([0-9.]+) s", "\n".join(system.output))
    assert match, "no 'ready in' line printed"
    return float(match[1])


@pytest.fixture(scope="session")
def civic_system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CivicSystem]:
    system = start_civic_up(tmp_path_factory.mktemp("civic-up") / "data")
    try:
        yield system
    finally:
        stop_system(system)


@pytest.fixture(scope="module")
def civic_system_in_time(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CivicSystem]:
    """A system of its own whose calendar the test moves forward (``move_clock``), through periods of weeks that
    the workflows wait for; the shared system stays on the real date."""
    data_dir = tmp_path_factory.mktemp("civic-up-in-time") / "data"
    clock_file = data_dir.parent / "clock-offset-days"
    system = start_civic_up(data_dir, extra_env={"CIVIC_CLOCK_OFFSET_FILE": str(clock_file)})
    system.clock_file = clock_file
    try:
        yield system
    finally:
        stop_system(system)
