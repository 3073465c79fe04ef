"""Webhook bodies: an event exactly as ``GET /v1/events`` shows it, as compact JSON bytes."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from dispatch.model import Event

__all__ = ["event_body", "iso_time", "ping_body"]


def iso_time(ts: float) -> str:
    """Epoch seconds as the feed writes them: ISO 8601 in UTC with a ``Z``."""
    return datetime.fromtimestamp(ts, tz=UTC).isoformat().replace("+00:00", "Z")


def _body(seq: int, ts: float, cid: str, type: str, entity: str, data: Any) -> bytes:
    doc = {
        "seq": seq,
        "ts": iso_time(ts),
        "community_id": cid,
        "type": type,
        "entity_id": entity,
        "data": data,
    }
    return json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def event_body(event: Event) -> bytes:
    """The feed's JSON of one event."""
    return _body(
        event.seq, event.ts, event.community_id, event.type, event.entity_id, dict(event.data)
    )


def ping_body(endpoint_id: str, now: float) -> bytes:
    """The body of ``POST /v1/webhooks/{id}/test``: shaped like an event, seq 0, type
    ``webhook.test``."""
    return _body(0, now, "*", "webhook.test", endpoint_id, {"message": "a test delivery"})
