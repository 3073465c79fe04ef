"""Held quotes in memory: a shelf that forgets each quote once its keep time passed.

Quotes are written on the request path (one per ``POST /v1/quotes``), so the
shelf must not grow with traffic: every put first drops what is past its keep
time, oldest first, from a heap ordered by that time.
"""

from __future__ import annotations

import heapq
import threading

from dispatch.store.base import HeldQuote

__all__ = ["QuoteShelf"]

_Key = tuple[str, str]  # (community id, quote id)


class QuoteShelf:
    """Quotes and their claims by (community, id); every method is atomic."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._quotes: dict[_Key, HeldQuote] = {}
        self._holders: dict[_Key, str] = {}
        self._keep: dict[_Key, float] = {}
        self._heap: list[tuple[float, str, str]] = []

    def __len__(self) -> int:
        with self._lock:
            return len(self._keep)

    def _purge(self, now: float) -> None:
        while self._heap and self._heap[0][0] <= now:
            keep, cid, qid = heapq.heappop(self._heap)
            key = (cid, qid)
            if self._keep.get(key) == keep:  # not renewed since
                self._keep.pop(key)
                self._quotes.pop(key, None)
                self._holders.pop(key, None)

    def _hold(self, key: _Key, keep_until: float) -> None:
        if keep_until > self._keep.get(key, float("-inf")):
            self._keep[key] = keep_until
            heapq.heappush(self._heap, (keep_until, *key))

    def put(self, quote: HeldQuote, keep_until: float, now: float) -> None:
        with self._lock:
            self._purge(now)
            if keep_until <= now:
                return
            key = (quote.community_id, quote.id)
            self._quotes[key] = quote
            self._hold(key, keep_until)

    def get(self, community_id: str, quote_id: str) -> HeldQuote | None:
        with self._lock:
            return self._quotes.get((community_id, quote_id))

    def claim(
        self, community_id: str, quote_id: str, holder: str, keep_until: float, now: float
    ) -> str:
        with self._lock:
            self._purge(now)
            key = (community_id, quote_id)
            current = self._holders.get(key)
            if current is not None:
                return current
            self._holders[key] = holder
            self._hold(key, keep_until)
            return holder
