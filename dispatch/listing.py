"""Listing orders and jobs: filters and cursor pages that stay stable while work arrives.

Work is listed in creation order (``store.base.time_key``: creation time, then
id). A cursor names the last key a page looked at and the filters it was
made for, so the next page starts exactly after it: items created meanwhile
join the end of the listing and never shift or repeat a page. A page scans a
bounded number of records; when filters are narrow it may come back short,
with a cursor to go on from.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from dispatch.errors import InvalidInput
from dispatch.model import Job, JobState, Order, OrderState
from dispatch.store.base import Store, time_key

__all__ = ["MAX_LIMIT", "SCAN_BUDGET", "ListQuery", "Page", "list_work"]

MAX_LIMIT = 500
#: Most records one page reads before it answers (short, with a cursor) under narrow filters.
SCAN_BUDGET = 5000

Kind = Literal["order", "job"]


@dataclass(frozen=True)
class ListQuery:
    """Filters of one listing; ``None`` or empty means any."""

    kind: Kind
    community_id: str | None = None
    states: frozenset[str] = frozenset()
    worker_id: str | None = None
    created_after: float | None = None  # inclusive
    created_before: float | None = None  # exclusive
    external_ref: str | None = None
    limit: int = 100
    cursor: str | None = None

    def fingerprint(self) -> str:
        """What a cursor is bound to: the filters, not the page size or position."""
        filters = [
            self.kind,
            self.community_id,
            sorted(self.states),
            self.worker_id,
            self.created_after,
            self.created_before,
            self.external_ref,
        ]
        return hashlib.sha256(json.dumps(filters).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Page:
    items: Sequence[Order | Job]
    next_cursor: str | None


def _encode(key: str, fingerprint: str) -> str:
    raw = json.dumps({"k": key, "f": fingerprint}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode(cursor: str, fingerprint: str) -> str:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode()))
        key, made_for = data["k"], data["f"]
    except (binascii.Error, ValueError, KeyError, TypeError, UnicodeDecodeError) as exc:
        raise InvalidInput("cursor is not one this API handed out") from exc
    if not isinstance(key, str) or made_for != fingerprint:
        raise InvalidInput("cursor belongs to a listing with other filters")
    return key


def _check(q: ListQuery) -> None:
    if not 1 <= q.limit <= MAX_LIMIT:
        raise InvalidInput(f"limit must lie in [1, {MAX_LIMIT}]")
    known = {s.value for s in (OrderState if q.kind == "order" else JobState)}
    unknown = sorted(q.states - known)
    if unknown:
        raise InvalidInput(f"unknown {q.kind} states {unknown}; known: {sorted(known)}")
    after, before = q.created_after, q.created_before
    if after is not None and before is not None and before <= after:
        raise InvalidInput("created_before must come after created_after")


def _matches(q: ListQuery, item: Order | Job) -> bool:
    if q.states and item.state.value not in q.states:
        return False
    if q.worker_id is not None and item.worker_id != q.worker_id:
        return False
    return q.external_ref is None or item.external_ref == q.external_ref


def list_work(store: Store, q: ListQuery) -> Page:
    """One page of orders or jobs matching ``q``; raises ``InvalidInput`` on bad filters."""
    _check(q)
    fingerprint = q.fingerprint()
    start = "" if q.created_after is None else time_key(q.created_after, "")
    if q.cursor is not None:
        start = max(start, _decode(q.cursor, fingerprint))
    stop = None if q.created_before is None else time_key(q.created_before, "")
    scan: Callable[[str | None, str, int], Sequence[tuple[str, Order | Job | None]]] = (
        store.scan_orders if q.kind == "order" else store.scan_jobs
    )
    items: list[Order | Job] = []
    key, scanned = start, 0
    batch = min(MAX_LIMIT, max(q.limit * 2, 50))
    while scanned < SCAN_BUDGET:
        got = scan(q.community_id, key, batch)
        for item_key, item in got:
            if stop is not None and item_key >= stop:
                return Page(items, None)
            key, scanned = item_key, scanned + 1
            if item is not None and _matches(q, item):
                items.append(item)
                if len(items) == q.limit:
                    return Page(items, _encode(key, fingerprint))
        if len(got) < batch:
            return Page(items, None)
    return Page(items, _encode(key, fingerprint))
