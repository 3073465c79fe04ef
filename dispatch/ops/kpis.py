"""Deliveries of the last hour per community, read incrementally from the event feed.

The store keeps open work only; what was delivered lately is in the event feed
(``order.delivered``). A ``DeliveryWindow`` follows one community's feed from a
cursor, looks each new delivery's order up once (its promise and creation
time) and keeps those inside the window, so the on-time share and the
click-to-door p90 cost one feed page per refresh, not a scan of the day. Its
first refresh finds where the window starts by bisecting the feed on event
times (a few one-event reads), not by reading the days the feed retains.

The same pass notes which ops alerts the feed shows raised (``alert.raised``
not yet followed by ``alert.cleared``): the feed, not one process's memory, is
what says whether an alert is up, so several dispatchers agree on it.
"""

from __future__ import annotations

import math
import threading
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

from dispatch.store.base import Store

__all__ = ["Delivery", "DeliveryWindow", "percentile"]

_PAGE = 1000
#: Events this much older than the window may still hold a delivery inside it
#: (processes' clocks and writes interleave, so feed times are only nearly sorted).
_SLACK_S = 300.0


@dataclass(frozen=True)
class Delivery:
    """One delivered order: when, whether it kept its promise, order to door."""

    ts: float
    on_time: bool
    click_to_door_s: float


def percentile(values: Sequence[float], q: float) -> float | None:
    """The nearest-rank ``q`` percentile (0 < q ≤ 100) of ``values``; None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100.0 * len(ordered)))
    return ordered[rank - 1]


class DeliveryWindow:
    """The deliveries of one community within ``window_s`` of now, and the alerts its
    feed shows raised (thread-safe)."""

    def __init__(self, store: Store, community_id: str, window_s: float = 3600.0) -> None:
        if not window_s > 0:
            raise ValueError("window_s must be positive")
        self.store = store
        self.community_id = community_id
        self.window_s = window_s
        self._cursor: int | None = None  # None: not placed yet
        self._recent: deque[Delivery] = deque()
        self._raised: set[str] = set()
        self._lock = threading.Lock()

    def refresh(self, now: float) -> tuple[Delivery, ...]:
        """Read the feed past the cursor; the deliveries inside the window, oldest first."""
        with self._lock:
            start = now - self.window_s
            if self._cursor is None:
                self._cursor = self._first_after(start - _SLACK_S)
            while True:
                page = self.store.events_after(self._cursor, _PAGE, self.community_id)
                for event in page:
                    self._cursor = max(self._cursor, event.seq)
                    if event.type == "alert.raised":
                        self._raised.add(event.entity_id)
                    elif event.type == "alert.cleared":
                        self._raised.discard(event.entity_id)
                    if event.type != "order.delivered" or event.ts < start:
                        continue
                    order = self.store.get_order(event.entity_id)
                    if order is None or order.delivered_at is None:
                        continue
                    self._recent.append(
                        Delivery(
                            order.delivered_at,
                            order.delivered_at <= order.promised_by,
                            max(0.0, order.delivered_at - order.created_at),
                        )
                    )
                if len(page) < _PAGE:
                    break
            while self._recent and self._recent[0].ts < start:
                self._recent.popleft()
            return tuple(self._recent)

    def raised_alerts(self) -> frozenset[str]:
        """Alert kinds raised and not cleared in the feed as of the last refresh (the feed
        is read from the window's start: an alert raised before it is not known)."""
        with self._lock:
            return frozenset(self._raised)

    def _first_after(self, t: float) -> int:
        """A seq to read the feed after that skips (nearly) only events older than ``t``:
        bisect on the time of the community's first event after a seq."""
        lo, hi = 0, self.store.last_seq()
        while lo < hi:
            mid = (lo + hi) // 2
            found = self.store.events_after(mid, 1, self.community_id)
            if not found or found[0].ts >= t:
                hi = mid
            else:  # everything up to that event is older than t
                lo = found[0].seq
        return lo
