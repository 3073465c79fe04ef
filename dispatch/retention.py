"""Retention: how long events and idempotency records are kept, and the sweep that trims.

The feed would otherwise grow forever in both stores. A sweep drops the events
beyond the newest ``max_count`` and those older than ``max_age_s`` (by the
caller's clock), and forgets expired idempotency records; servers run it in the
background every few seconds (never on a request). A reader whose cursor
(``after``) lies before ``store.trimmed_seq()`` has lost events: the API answers
410 Gone.
"""

from __future__ import annotations

from dataclasses import dataclass

from dispatch.errors import InvalidInput
from dispatch.store.base import Store

__all__ = ["Retention", "SweepResult", "sweep"]


@dataclass(frozen=True)
class Retention:
    """Events are kept for ``max_age_s`` seconds, at most ``max_count`` of them."""

    max_age_s: float = 7 * 86400.0
    max_count: int = 1_000_000

    def __post_init__(self) -> None:
        if not self.max_age_s > 0:
            raise InvalidInput("max_age_s must be positive")
        if self.max_count < 1:
            raise InvalidInput("max_count must be at least 1")


@dataclass(frozen=True)
class SweepResult:
    events: int  # events trimmed
    idempotency: int  # idempotency records forgotten


def sweep(store: Store, retention: Retention, now: float) -> SweepResult:
    """Apply the retention once; safe to run from several processes at once."""
    events = store.trim_events(retention.max_count, now - retention.max_age_s)
    return SweepResult(events, store.expire_idempotency(now))
