"""Processes forked after the shared libraries are imported, so that six services do not each pay for
importing FastAPI, SQLAlchemy, aiokafka, pydantic and OpenTelemetry (about 1.2 s of CPU apiece here).

Each child is still its own process (own event loop, database engine, Kafka clients, port), started the way
``python -m uvicorn <app>`` would start it, and titled so that ``ps`` shows which service it is.
"""

from __future__ import annotations

import importlib
import os
import signal
import subprocess
import sys
import time
import traceback
from pathlib import Path

from civic.broker import parent_death_preexec

# Imported once in the supervisor; a forked child finds them in memory. Nothing here starts a thread.
SHARED = (
    "fastapi", "sqlalchemy.ext.asyncio", "sqlmodel", "aiokafka", "pydantic", "httpx", "uvicorn", "jwt",
    "pythonjsonlogger.json", "opentelemetry.sdk.trace", "fastapi.telemetry", "aiohttp",
    "civic.app", "civic.bus", "contracts",
)  # fmt: skip


def preload() -> None:
    for module in SHARED:
        importlib.import_module(module)


class ForkedProcess:
    """The part of ``subprocess.Popen`` the supervisor uses, for a child made with ``os.fork``."""

    def __init__(self, pid: int, args: str) -> None:
        self.pid = pid
        self.args = args
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None:
            try:
                pid, status = os.waitpid(self.pid, os.WNOHANG)
            except ChildProcessError:
                self.returncode = -1
                return self.returncode
            if pid:
                self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            if deadline is not None and time.monotonic() > deadline:
                raise subprocess.TimeoutExpired(self.args, timeout or 0)
            time.sleep(0.01)
        assert self.returncode is not None
        return self.returncode

    def send_signal(self, sig: int) -> None:
        if self.poll() is None:
            try:
                os.kill(self.pid, sig)
            except ProcessLookupError:
                pass

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)


def fork_app(target: str, port: int, env: dict[str, str], log: Path, title: str) -> ForkedProcess:
    """Run ``uvicorn <target>`` on 127.0.0.1:<port> in a forked child with ``env`` as its environment."""
    die_with_parent = parent_death_preexec()
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid:
        return ForkedProcess(pid, title)
    code = 1
    try:
        os.setsid()  # a terminal's Ctrl-C reaches the supervisor, which stops the children in order
        if die_with_parent is not None:
            die_with_parent()
        out = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        os.dup2(out, 1)
        os.dup2(out, 2)
        os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, signal.SIG_DFL)
        # Before touching the environment: setproctitle takes over the memory of argv and environ as they are.
        from setproctitle import setproctitle

        setproctitle(title)
        os.environ.clear()
        os.environ.update(env)
        import uvicorn

        uvicorn.run(target, host="127.0.0.1", port=port, log_level="warning", access_log=False,
                    timeout_graceful_shutdown=5)  # fmt: skip
        code = 0
    except BaseException:
        traceback.print_exc()
    finally:
        os._exit(code)
