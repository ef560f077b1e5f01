"""What masking resident IDs costs a log line (``civic.identity.mask_in_text``, run by the logging filter on every
record), beside what writing the line costs anyway (its JSON encoding), at three line lengths — so that a change
to the pattern that made it slow, or slower than linear in the line's length, shows as a figure.

Run: ``python -m bench.masking`` (also part of ``make bench``). Not a test: it prints figures.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable

from civic.identity import mask_in_text

# An access-log-like line with no ID (the common case) and one that names an ID every ~100 characters.
PLAIN = "INFO uvicorn.access 127.0.0.1:5000 - GET /v1/cases?page=2 HTTP/1.1 200 trace=0af7651916cd43dd "
WITH_IDS = "INFO assistance case opened for 11010519491231002X in region 110105, amount 690.00 yuan, by cw-1 "


def per_call_us(fn: Callable[[str], object], line: str, seconds: float = 0.3) -> float:
    calls, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        for _ in range(20):
            fn(line)
        calls += 20
    return elapsed / calls * 1e6


def main() -> None:
    print("# masking resident IDs in a log line: mask_in_text against the line's JSON encoding, side by side")
    for label, unit in (("no ID", PLAIN), ("an ID per line of 100 chars", WITH_IDS)):
        for repeat in (1, 10, 100):
            line = unit * repeat
            masked, encoded = per_call_us(mask_in_text, line), per_call_us(json.dumps, line)
            print(f"  {label:28s} {len(line):>6,} chars: mask {masked:8.1f} µs ({masked / len(line) * 1000:5.1f} ns "
                  f"a char), json {encoded:7.1f} µs, ratio {masked / encoded:5.1f}×")  # fmt: skip


if __name__ == "__main__":
    main()
