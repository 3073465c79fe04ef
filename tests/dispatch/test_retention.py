"""Retention on every store: the feed is trimmed by count and age, idempotency records expire."""

from __future__ import annotations

import pytest

from dispatch.errors import InvalidInput
from dispatch.model import Community, LatLng, Order, Price
from dispatch.retention import Retention, sweep
from dispatch.store.base import IdempotencyRecord, NewEvent, Store

P = LatLng(31.23, 121.47)


def _events(store: Store, stamps: list[float], cid: str = "c1") -> None:
    store.put_community(Community(cid, cid, P, cell_count=300))
    store.append_events([NewEvent(ts, cid, "worker.upserted", "w1", {}) for ts in stamps])


def test_trimming_by_count_keeps_the_newest_and_numbers_on(store: Store) -> None:
    """Past ``keep`` the oldest go; seqs keep counting; readers get what is left."""
    _events(store, [100.0 + i for i in range(10)])
    assert store.trimmed_seq() == 0
    assert store.trim_events(4, before_ts=0.0) == 6
    assert store.trimmed_seq() == 6
    assert [e.seq for e in store.events_after(0)] == [7, 8, 9, 10]
    assert [e.seq for e in store.events_after(8)] == [9, 10]
    assert [e.seq for e in store.events_after(0, community_id="c1")] == [7, 8, 9, 10]
    _events(store, [200.0])
    assert store.last_seq() == 11
    assert store.events_after(10)[0].seq == 11
    assert store.trim_events(100, before_ts=0.0) == 0  # nothing more to do
    assert store.trimmed_seq() == 6


def test_trimming_by_age_drops_events_stamped_before_the_cut(store: Store) -> None:
    """Events older than the cut go from the global and the community feeds alike."""
    _events(store, [100.0, 101.0, 102.0], cid="c1")
    _events(store, [103.0, 150.0], cid="c2")
    _events(store, [151.0], cid="c1")
    assert store.trim_events(1000, before_ts=140.0) == 4
    assert [e.ts for e in store.events_after(0)] == [150.0, 151.0]
    assert [e.seq for e in store.events_after(0, community_id="c1")] == [6]
    assert [e.seq for e in store.events_after(0, community_id="c2")] == [5]
    assert store.trimmed_seq() == 4


def test_a_sweep_applies_the_retention_by_the_callers_clock(store: Store) -> None:
    """``sweep`` trims by age and count from ``now`` and reports what it removed."""
    _events(store, [0.0, 50.0, 90.0, 95.0, 99.0])
    result = sweep(store, Retention(max_age_s=20.0, max_count=2), now=100.0)
    assert result.events == 3
    assert [e.ts for e in store.events_after(0)] == [95.0, 99.0]
    with pytest.raises(InvalidInput):
        Retention(max_age_s=0.0)


def test_idempotency_records_expire_without_being_looked_up(store: Store) -> None:
    """Memory sweeps expired records; Redis lets its TTL do it (nothing to sweep)."""
    order = Order("o1", "c1", P, P, 0.0, 0.0, 1800.0, Price(10.0, 1.0, 10.0, 1))
    store.write("c1", orders=[order], idempotency=IdempotencyRecord("s", "k", "h", "o1", 50.0))
    assert store.get_idempotency("s", "k", now=10.0) is not None
    forgotten = store.expire_idempotency(now=60.0)
    redis = getattr(store, "url", None) is not None
    assert forgotten == (0 if redis else 1)
    assert store.get_idempotency("s", "k", now=60.0) is None


def test_a_large_backlog_is_trimmed_in_bounded_steps(store: Store) -> None:
    """Redis removes at most ``trim_step`` events per script call, and loops to the end."""
    if hasattr(store, "trim_step"):
        store.trim_step = 3  # type: ignore[attr-defined]
    _events(store, [100.0 + i for i in range(10)])
    assert store.trim_events(2, before_ts=0.0) == 8
    assert [e.seq for e in store.events_after(0)] == [9, 10]
    assert store.trimmed_seq() == 8
