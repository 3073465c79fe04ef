"""The TickQueue contract, on the in-process queue, a real Redis and a real Redis Cluster."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from dispatch.store.redis import RedisStore
from dispatch.ticking import MemoryTickQueue, TickClaim, TickQueue
from dispatch.ticking.redis_queue import RedisTickQueue
from tests.conftest import redis_store

RECLAIM_S = 0.3


@pytest.fixture(params=["memory", "redis", "redis-cluster"])
def queue(request: pytest.FixtureRequest) -> Iterator[TickQueue]:
    if request.param == "memory":
        yield MemoryTickQueue(reclaim_idle_s=RECLAIM_S)
        return
    store = redis_store(request, request.param, request.getfixturevalue("redis_prefix"))
    try:
        yield RedisTickQueue(store, reclaim_idle_s=RECLAIM_S)
    finally:
        store.close()


def test_one_pending_tick_per_community(queue: TickQueue) -> None:
    """A community with a tick pending is not offered again, however often it is due."""
    assert queue.offer([("c1", 10.0), ("c2", 10.0)], now=0.0) == ["c1", "c2"]
    assert queue.offer([("c1", 10.0), ("c2", 10.0)], now=100.0) == []
    assert queue.pending() == 2
    (first,) = queue.claim("w1", 1, now=100.0)
    queue.done(first)
    assert queue.pending() == 1
    assert queue.offer([("c1", 10.0), ("c2", 10.0)], now=100.0) == [first.community_id]


def test_next_tick_is_due_one_interval_after_the_offer(queue: TickQueue) -> None:
    """After a tick is done its community waits for its interval before the next offer."""
    queue.offer([("c1", 10.0)], now=0.0)
    (claim,) = queue.claim("w1", 5, now=1.0)
    assert claim == TickClaim("c1", claim.entry_id, offered_at=0.0) and not claim.reclaimed
    queue.done(claim)
    assert queue.offer([("c1", 10.0)], now=9.0) == []
    assert queue.offer([("c1", 10.0)], now=10.0) == ["c1"]


def test_claims_hand_each_tick_to_one_consumer(queue: TickQueue) -> None:
    """Two consumers never receive the same new tick; count bounds a claim."""
    queue.offer([(f"c{i}", 10.0) for i in range(5)], now=0.0)
    a = queue.claim("w1", 3, now=0.0)
    b = queue.claim("w2", 3, now=0.0)
    assert len(a) == 3 and len(b) == 2
    assert {c.community_id for c in a}.isdisjoint({c.community_id for c in b})
    assert queue.claim("w3", 3, now=0.0) == []


def test_done_twice_is_harmless(queue: TickQueue) -> None:
    """Acknowledging again, after the community was offered anew, keeps the new tick."""
    queue.offer([("c1", 1.0)], now=0.0)
    (claim,) = queue.claim("w1", 1, now=0.0)
    queue.done(claim)
    queue.offer([("c1", 1.0)], now=5.0)
    queue.done(claim)
    assert queue.pending() == 1
    (again,) = queue.claim("w1", 1, now=5.0)
    assert again.entry_id != claim.entry_id


def test_a_silent_consumers_tick_is_reclaimed(queue: TickQueue) -> None:
    """A tick held past the reclaim time by a consumer that stopped goes to another one."""
    queue.offer([("c1", 10.0)], now=0.0)
    (held,) = queue.claim("dead", 1, now=0.0)
    assert queue.claim("alive", 1, now=0.0) == []  # still fresh: nobody steals it
    deadline = time.monotonic() + 10.0
    got: list[TickClaim] = []
    now = 0.0
    while not got and time.monotonic() < deadline:
        now += RECLAIM_S  # the memory queue goes by the caller's clock, Redis by its own
        got = queue.claim("alive", 1, now=now, block_s=0.05)
    assert [c.community_id for c in got] == ["c1"] and got[0].reclaimed
    assert got[0].entry_id == held.entry_id
    queue.done(got[0])
    assert queue.pending() == 0


def test_beats_keep_each_consumers_latest(queue: TickQueue) -> None:
    """beats returns the newest time each consumer reported."""
    queue.beat("w1", 5.0)
    queue.beat("w2", 7.0)
    queue.beat("w1", 9.0)
    assert queue.beats() == {"w1": 9.0, "w2": 7.0}


def test_redis_queue_keeps_its_keys_in_the_global_slot(redis_url: str, redis_prefix: str) -> None:
    """Every key the queue uses carries the global hash tag (Cluster safety)."""
    store = RedisStore(redis_url, prefix=redis_prefix)
    try:
        q = RedisTickQueue(store)
        q.offer([("c1", 1.0)], now=0.0)
        q.beat("w1", 1.0)
        keys = store.r.keys(f"{redis_prefix}:*")
        assert keys and all(k.startswith(f"{redis_prefix}:{{~}}:") for k in keys)
    finally:
        store.close()


def test_reset_forgets_ticks_due_times_and_beats(queue: TickQueue) -> None:
    """After reset every community is offered afresh and no beat remains."""
    queue.offer([("c1", 60.0)], now=0.0)
    queue.beat("w1", 1.0)
    queue.reset()
    assert queue.pending() == 0 and queue.beats() == {}
    assert queue.offer([("c1", 60.0)], now=1.0) == ["c1"]
    (claim,) = queue.claim("w1", 1, now=1.0)
    assert claim.offered_at == 1.0
