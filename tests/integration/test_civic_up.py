"""``civic up`` as a user runs it: everything becomes ready, the printed URLs answer, the gateway routes, and
stopping it — politely or with SIGKILL — leaves no process behind."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx

from civic.auth import Role
from civic.local import MAX_RESTARTS
from tests.conftest import database_env
from tests.e2e.conftest import (
    ROOT,
    CivicSystem,
    accepting,
    free_ports,
    live_processes,
    ready_seconds,
    start_civic_up,
    stop_system,
    wait_until,
)

CHILDREN = 7  # gateway, five services, broker


def assert_all_gone(system: CivicSystem, pids: set[int], timeout: float) -> None:
    wait_until(lambda: not live_processes(system.data_dir, system.broker_port), timeout, f"children {pids} to exit")
    assert not [p for p in system.ports if accepting(p)], "a port still accepts connections"


def test_up_serves_then_sigterm_stops_everything(tmp_path: Path) -> None:
    system = start_civic_up(tmp_path / "data")
    try:
        banner = "\n".join(system.output)
        printed = set(re.findall(r"http://127\.0\.0\.1:\d+", banner))
        assert printed == {system.gateway_url, *system.service_urls.values()}, banner
        assert system.broker in banner and str(system.data_dir) in banner
        assert ready_seconds(system) < 60
        with httpx.Client(timeout=5) as client:
            for url in sorted(printed):
                assert client.get(f"{url}/readyz").status_code == 200, url
            operator = system.auth(Role.OPERATOR, "op-1")  # the banner's own advice: a token from `civic token`
            assert client.get(f"{system.gateway_url}/api/funeral/healthz", headers=operator).status_code == 200
        pids = system.children()
        assert len(pids) == CHILDREN, pids

        assert system.stop(signal.SIGTERM) == 0, "\n".join(system.output)
        # The supervisor waits for its children, so by now they must all be gone: no polling.
        assert not live_processes(system.data_dir, system.broker_port)
        assert not [p for p in system.ports if accepting(p)]
        for name in ("gateway", "funeral", "broker"):
            assert (system.data_dir / "logs" / f"{name}.log").exists()
        on_postgresql = "CIVIC_DATABASE_URL" in database_env()  # then the databases are on the test's server
        assert (system.data_dir / "funeral.db").exists() != on_postgresql
    finally:
        stop_system(system)


def test_children_die_with_a_sigkilled_supervisor(tmp_path: Path) -> None:
    system = start_civic_up(tmp_path / "data")
    try:
        pids = system.children()
        assert len(pids) == CHILDREN, pids
        system.stop(signal.SIGKILL)
        # The parent-death signal is a SIGTERM, so the services shut down gracefully: that takes a moment.
        assert_all_gone(system, pids, timeout=20)
    finally:
        stop_system(system)


def test_a_busy_port_is_named_and_nothing_starts(tmp_path: Path) -> None:
    base = free_ports(6)
    broker_port = free_ports(1)
    while base <= broker_port < base + 6:
        broker_port = free_ports(1)
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", base + 3))
        squatter.listen()
        done = subprocess.run(
            [sys.executable, "-m", "civic.local", "--data-dir", str(tmp_path / "data"), "--base-port", str(base),
             "--broker-port", str(broker_port)],
            cwd=ROOT, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
    assert done.returncode == 1
    assert f"port {base + 3} already in use" in done.stderr
    assert not live_processes((tmp_path / "data").resolve(), broker_port)


FUNERAL = b"services.funeral.main:app"


def _funeral_pids(system: CivicSystem) -> set[int]:
    pids = set()
    for pid in system.children():
        try:
            if FUNERAL in Path(f"/proc/{pid}/cmdline").read_bytes():
                pids.add(pid)
        except OSError:
            pass  # gone meanwhile
    return pids


def _ready(client: httpx.Client, url: str) -> bool:
    try:
        return client.get(f"{url}/readyz").status_code == 200
    except httpx.TransportError:
        return False


def test_a_crashed_service_is_restarted_and_one_that_keeps_crashing_stops_everything(tmp_path: Path) -> None:
    system = start_civic_up(tmp_path / "data")
    try:
        url = system.service_urls["funeral"]
        killed: set[int] = set()
        with httpx.Client(timeout=5) as client:
            (first,) = _funeral_pids(system)
            os.kill(first, signal.SIGKILL)
            killed.add(first)
            wait_until(lambda: bool(_funeral_pids(system) - killed) and _ready(client, url), 60, "funeral restarted")
            assert system.proc.poll() is None, "one crash does not take the system down"

        def kill_each_new_funeral() -> bool:
            for pid in _funeral_pids(system) - killed:
                os.kill(pid, signal.SIGKILL)
                killed.add(pid)
            return system.proc.poll() is not None

        wait_until(kill_each_new_funeral, 90, "the supervisor to give up on a service that keeps crashing")
        assert system.proc.wait(30) == 1
        assert len(killed) == MAX_RESTARTS + 1, "restarted MAX_RESTARTS times, then everything stopped"
        stop_system(system)
        assert any("funeral exited" in line and "restarting" in line for line in system.output), system.output
        assert any("times within" in line for line in system.output), system.output
        assert not live_processes(system.data_dir, system.broker_port)
    finally:
        stop_system(system)
