"""Resident IDs never appear whole in logs: not in messages, arguments, extra fields or tracebacks."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from datetime import date

import pytest

from civic.logs import setup_logging
from tests.factories import resident_id

RID = resident_id(date(1962, 4, 9))
MASKED = RID[:6] + "*" * 8 + RID[14:]


@pytest.fixture
def log_lines(monkeypatch: pytest.MonkeyPatch) -> Iterator[io.StringIO]:
    stream = io.StringIO()
    monkeypatch.setattr("sys.stderr", stream)
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    setup_logging("pii-test", "DEBUG", json=True)
    try:
        yield stream
    finally:
        root.handlers, root.level = saved[0], saved[1]


def test_ids_are_masked_everywhere_in_a_json_log_line(log_lines: io.StringIO) -> None:
    log = logging.getLogger("civic.test")
    log.info("GET /deaths?resident_id=%s failed", RID, extra={"payload": {"resident_id": RID, "ids": [RID]}})
    try:
        raise ValueError(f"no case for {RID}")
    except ValueError:
        log.exception("handler failed for %s", RID)
    output = log_lines.getvalue()
    assert RID not in output
    # Only this test's logger: a thread or a collected task left by an earlier test may log to the root too.
    ours = [record for record in map(json.loads, output.strip().splitlines()) if record["name"] == "civic.test"]
    first, second = ours
    assert first["message"] == f"GET /deaths?resident_id={MASKED} failed"
    assert first["payload"] == {"resident_id": MASKED, "ids": [MASKED]}
    assert first["service"] == "pii-test"
    assert MASKED in second["exc_info"]


def test_other_numbers_are_left_alone(log_lines: io.StringIO) -> None:
    logging.getLogger("civic.test").warning("card 6222021234567890 and order 12345678901234567890 at %s", 1)
    assert "6222021234567890" in log_lines.getvalue()
    assert "12345678901234567890" in log_lines.getvalue()
