"""The JSON log line: every field as before, whatever the formatter keeps between lines."""

from __future__ import annotations

import json
import logging
import random
from datetime import UTC, datetime

from api.logging import JsonFormatter, RedactKeys, request_id


def _record(msg: str, args: tuple[object, ...] = (), **extra: object) -> logging.LogRecord:
    rec = logging.LogRecord("api.access", logging.INFO, __file__, 1, msg, args, None)
    rec.__dict__.update(extra)
    return rec


def test_timestamps_match_datetime_to_the_millisecond_carries_included() -> None:
    fmt, rng = JsonFormatter(), random.Random(7)
    base = 1_765_000_000.0
    tails = [0.0, 0.0000004, 0.0005, 0.1234565, 0.9994999, 0.9995, 0.9999995]
    for i in range(20_000):
        created = base + rng.randrange(5) + (tails[i % 7] if i % 3 else rng.random())
        want = datetime.fromtimestamp(created, tz=UTC).isoformat(timespec="milliseconds")
        rec = _record("m")
        rec.created = created
        assert json.loads(fmt.format(rec))["ts"] == want, created


def test_a_line_holds_the_message_the_request_id_and_the_extras() -> None:
    token = request_id.set("rid-1")
    try:
        line = JsonFormatter().format(
            _record("%s %s %s", ("POST", "/v1/orders", 201), route="/v1/orders", ms=1.5)
        )
    finally:
        request_id.reset(token)
    entry = json.loads(line)
    assert entry["msg"] == "POST /v1/orders 201" and entry["request_id"] == "rid-1"
    assert entry["route"] == "/v1/orders" and entry["ms"] == 1.5 and entry["level"] == "INFO"


def test_keys_in_a_query_are_redacted_and_plain_lines_pass_unchanged() -> None:
    keyed = _record('"WebSocket /v1/workers/w1/stream?token=%s" 101', ("secret",))
    plain = _record("%s %s", ("GET", "/v1/orders"))
    assert RedactKeys().filter(keyed) and RedactKeys().filter(plain)
    assert "secret" not in keyed.getMessage() and "[redacted]" in keyed.getMessage()
    assert plain.getMessage() == "GET /v1/orders"
