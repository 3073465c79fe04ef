"""Structured JSON logs carrying the request id of the HTTP request being served.

The request id lives in a context variable set by the request middleware; it
follows the request into the thread pool (anyio copies the context), so engine
log lines written while serving a request carry it too.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import sys
from datetime import UTC, datetime
from typing import Any

#: The id of the request being served ("-" outside requests).
request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")

# Attributes every LogRecord has; anything else was passed with ``extra=`` and is logged.
_STANDARD = frozenset(
    logging.LogRecord("", 0, "", 0, "", None, None).__dict__.keys()
    | {"message", "asctime", "taskName", "color_message"}
)


#: Query parameters that carry keys (``?token=`` on WebSockets): never written to a log.
_SECRET_QUERY = re.compile(r"([?&](?:token|access_token|api_key|key)=)[^&\s\"']*", re.IGNORECASE)


def redact(text: str) -> str:
    """``text`` with the values of key-carrying query parameters replaced."""
    return _SECRET_QUERY.sub(r"\1[redacted]", text)


class RedactKeys(logging.Filter):
    """Rewrites every record's message without keys (uvicorn logs WebSocket paths
    with their query string: ``"WebSocket /v1/workers/w1/stream?token=..."``)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "=" not in message:  # nothing to redact (the access log's lines): skip the regex
            return True
        clean = redact(message)
        if clean != message:
            record.msg, record.args = clean, None
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, msg, request_id and any extras.

    Every request writes a line, so the usual costs are paid once: the timestamp's
    text up to the second is kept for the second, and one encoder serves every line.
    """

    _encoder = json.JSONEncoder(default=str)

    def __init__(self) -> None:
        super().__init__()
        self._second = -1
        self._prefix = ""

    def _ts(self, created: float) -> str:
        """``datetime.fromtimestamp(created, UTC).isoformat(timespec="milliseconds")``."""
        second = int(created)
        micros = round((created - second) * 1_000_000)  # as datetime rounds it
        if micros >= 1_000_000 or created < 0:  # a carry into the next second: the long way
            return datetime.fromtimestamp(created, tz=UTC).isoformat(timespec="milliseconds")
        if second != self._second:
            stamp = datetime.fromtimestamp(second, tz=UTC).isoformat()  # ...T10:00:00+00:00
            self._prefix, self._second = stamp[:-6], second
        return f"{self._prefix}.{micros // 1000:03d}+00:00"

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": self._ts(record.created),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
            "request_id": request_id.get(),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return self._encoder.encode(entry)


def configure(level: str = "INFO") -> None:
    """Send every log record to stderr as JSON (called by ``dispatch serve``)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RedactKeys())
    # Nothing of the caller's frame, thread or process goes into a line: skip finding them
    # for every record (the logging HOWTO's optimisations).
    logging._srcfile = None  # type: ignore[attr-defined]
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
