"""What `civic up` says when a service stops: the reason from the service's log, not only uvicorn's exit."""

from __future__ import annotations

import json
from pathlib import Path

from civic.local import Child, failure_of

TRACEBACK = (
    'Traceback (most recent call last):\n  File "/civic/app.py", line 201, in lifespan\n'
    "    await prepare_schema(settings, engine, service.schema, all_tables)\n"
    "civic.migrations.SchemaBehind: the marriage database has tables but no migration history; delete the file"
)
LOG = "\n".join([
    json.dumps({"level": "INFO", "name": "alembic", "message": "Detected added table 'marriage'"}),
    json.dumps({"level": "ERROR", "name": "uvicorn.error", "message": TRACEBACK}),
    json.dumps({"level": "ERROR", "name": "uvicorn.error", "message": "Application startup failed. Exiting."}),
    "Traceback (most recent call last):",
    '  File "uvicorn/server.py", line 118, in startup',
    "    sys.exit(STARTUP_FAILURE)",
    "SystemExit: 3",
])  # fmt: skip


def test_the_reason_is_the_last_error_logged_with_a_traceback() -> None:
    assert failure_of(LOG) == TRACEBACK.splitlines()[-1]


def test_a_log_without_such_an_error_names_none() -> None:
    calm = json.dumps({"level": "ERROR", "message": "Application startup failed. Exiting."})
    assert failure_of(f"plain text\n{{not json\n{calm}\n") is None


def test_the_supervisors_report_ends_with_the_reason(tmp_path: Path) -> None:
    log = tmp_path / "marriage.log"
    log.write_text(LOG + "\n")
    report = Child("marriage", 0, None, log).tail(lines=4)  # type: ignore[arg-type]  # the process is not read
    assert report.splitlines()[:4] == LOG.splitlines()[-4:]
    assert report.endswith("cause: " + TRACEBACK.splitlines()[-1])
