"""JSON logs with request and journey ids, and resident IDs masked wherever they appear."""

from __future__ import annotations

import logging
import sys
from contextvars import ContextVar
from typing import Any

from pythonjsonlogger.json import JsonFormatter

from civic.events import current_correlation_id
from civic.identity import mask_in_text

current_request_id: ContextVar[str | None] = ContextVar("civic_request_id", default=None)

_RESERVED = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


def _mask(value: Any) -> Any:
    if isinstance(value, str):
        return mask_in_text(value)
    if isinstance(value, dict):
        return {k: _mask(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_mask(v) for v in value)
    return value


class MaskResidentIds(logging.Filter):
    """Masks resident IDs in the message, its arguments and extra fields, before any handler sees them.

    Applied at the handler so that third-party loggers (uvicorn's access log prints request paths) are covered.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = mask_in_text(record.getMessage())
        record.args = None
        for key, value in list(vars(record).items()):
            if key not in _RESERVED:
                setattr(record, key, _mask(value))
        if record.exc_info and not record.exc_text:
            record.exc_text = mask_in_text(logging.Formatter().formatException(record.exc_info))
        elif record.exc_text:
            record.exc_text = mask_in_text(record.exc_text)
        record.request_id = current_request_id.get()
        record.correlation_id = current_correlation_id.get()
        return True


class _Formatter(JsonFormatter):
    def formatException(self, ei: Any) -> str:
        return mask_in_text(str(super().formatException(ei)))


def setup_logging(service: str, level: str = "INFO", json: bool = True) -> None:
    handler = logging.StreamHandler(sys.stderr)
    fmt = "%(asctime)s %(levelname)s %(name)s %(message)s"
    if json:
        handler.setFormatter(
            _Formatter(fmt, rename_fields={"levelname": "level", "asctime": "time"}, static_fields={"service": service})
        )
    else:
        handler.setFormatter(logging.Formatter(f"%(asctime)s {service} %(levelname)s %(name)s %(message)s"))
    handler.addFilter(MaskResidentIds())
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        lg = logging.getLogger(name)
        lg.handlers = []
        lg.propagate = True
    logging.getLogger("aiokafka").setLevel(logging.WARNING)
    # Access lines repeat request paths (which may hold resident IDs, masked here anyway) for every call;
    # the request id in each problem document and the traces serve instead.
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)
