"""A recorded day's demand: when orders and jobs were placed, read from an event feed.

Accepts what ``GET /v1/events`` returns (one page ``{"events": [...], "last_seq": n}``,
a list of pages, or a list of events), JSON lines of events, or a simulation's
``events.jsonl`` (header line first). Only ``order.created`` and ``job.created``
are used: their times are the day's requests. The feed does not carry places,
tiers or baskets, so those (and each customer's acceptance draw) come from the
scenario's draws for a seed; replayed under new rules, each recorded request is
quoted again and accepted with the scenario's price sensitivity
(``exp(-elasticity × (multiplier - 1))``), so dearer rules lose orders.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dispatch.errors import InvalidInput

CREATED = {"order.created": "order", "job.created": "job"}


@dataclass(frozen=True)
class RecordedDemand:
    """Request times of one community's recorded day, in seconds after ``t0``."""

    t0: float  # epoch seconds of the first request
    orders: tuple[float, ...]
    jobs: tuple[float, ...]
    community_id: str
    source: str

    @property
    def span_s(self) -> float:
        """Seconds from the first request to the last."""
        return max((*self.orders, *self.jobs, 0.0))


def _events_of(item: Any) -> Iterable[Mapping[str, Any]]:
    """Events in a parsed JSON value: a page, a list of pages, a list of events, an event."""
    if isinstance(item, list):
        for x in item:
            yield from _events_of(x)
    elif isinstance(item, Mapping):
        if isinstance(item.get("events"), list):
            yield from _events_of(item["events"])
        elif "type" in item and "ts" in item:
            yield item


def _parse(text: str, source: str) -> list[Mapping[str, Any]]:
    try:
        return list(_events_of(json.loads(text)))
    except json.JSONDecodeError:
        pass
    out: list[Mapping[str, Any]] = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            out.extend(_events_of(json.loads(line)))
        except json.JSONDecodeError as exc:
            raise InvalidInput(f"{source}:{n}: not JSON ({exc.msg})") from None
    return out


def read_recorded_demand(path: str | Path, community_id: str | None = None) -> RecordedDemand:
    """The request times of one community in an event file (``InvalidInput`` if none)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"cannot read events file {p}: {exc}") from None
    created: dict[str, list[tuple[str, float]]] = {}
    for e in _parse(text, str(p)):
        kind = CREATED.get(str(e.get("type")))
        ts = e.get("ts")
        if kind is None or isinstance(ts, bool) or not isinstance(ts, int | float):
            continue
        created.setdefault(str(e.get("community_id")), []).append((kind, float(ts)))
    if not created:
        raise InvalidInput(f"{p}: no order.created or job.created events to replay")
    if community_id is None:
        if len(created) > 1:
            names = ", ".join(sorted(created))
            raise InvalidInput(f"{p} holds several communities ({names}); name one")
        community_id = next(iter(created))
    if community_id not in created:
        raise InvalidInput(f"{p}: no requests of community {community_id}")
    items = created[community_id]
    t0 = min(ts for _k, ts in items)
    orders = tuple(sorted(ts - t0 for k, ts in items if k == "order"))
    jobs = tuple(sorted(ts - t0 for k, ts in items if k == "job"))
    return RecordedDemand(t0, orders, jobs, community_id, str(p))
