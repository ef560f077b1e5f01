"""A consumer process for the crash test: runs the test handler on the real broker and database.

With ``--die-after-commit`` it SIGKILLs itself right after its first database commit, before the offset
commit: the worst moment to die, which is the point.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
from collections.abc import Sequence
from pathlib import Path

from civic.events import Received
from tests.kit import ConsumerSide, Noter, settings_for


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--group", required=True)
    parser.add_argument("--run", required=True)
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--die-after-commit", action="store_true")
    args = parser.parse_args()

    consumer = ConsumerSide(settings_for(args.group, args.data_dir, args.bootstrap), Noter(args.run).handlers())
    if args.die_after_commit:

        async def die(done: Sequence[Received]) -> None:
            # Only once the batch holding this run's event is committed (the topic has other tests' events).
            if any(args.run.encode() in received.value for received in done):
                os.kill(os.getpid(), signal.SIGKILL)

        consumer.runner.after_commit.append(die)
    await consumer.start()
    assert consumer.task is not None
    await consumer.task


if __name__ == "__main__":
    asyncio.run(main())
