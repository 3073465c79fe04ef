"""The guarantees of dispatch.store.base, checked on every back-end (memory and Redis)."""

from __future__ import annotations

import dataclasses

import pytest

from dispatch.errors import Conflict, LeaseLost
from dispatch.model import (
    Community,
    Job,
    JobState,
    LatLng,
    Order,
    OrderState,
    Plan,
    PlannedStop,
    Price,
    StopKind,
    Worker,
    WorkerKind,
)
from dispatch.store.base import Fence, IdempotencyRecord, NewEvent, Store

P = LatLng(31.23, 121.47)
PRICE = Price(10.0, 1.2, 12.0, 1)


def _order(oid: str = "o1", cid: str = "c1", **kw: object) -> Order:
    return Order(oid, cid, P, P, 100.0, 100.0, 1900.0, PRICE, **kw)  # type: ignore[arg-type]


def _event(kind: str = "order.created", entity: str = "o1", cid: str = "c1") -> NewEvent:
    return NewEvent(100.0, cid, kind, entity, {"state": "pending", "worker_id": None})


def test_records_round_trip(store: Store) -> None:
    """Communities, workers, orders and jobs come back equal to what was stored."""
    c = Community("c1", "Riverside", P, cell_count=300)
    w = Worker("w1", WorkerKind.TECHNICIAN, "c1", skills=frozenset({"plumbing"}), position=P)
    store.put_community(c)
    store.put_worker(w)
    o = _order()
    j = Job("j1", "c1", P, frozenset({"repair"}), 3600.0, 100.0, PRICE, window_start=1.5)
    store.write("c1", orders=[o], jobs=[j], expect={"o1": 0, "j1": 0})
    assert store.get_community("c1") == c
    assert store.get_worker("w1") == w
    assert store.get_workers(["w1", "nobody"]) == [w, None]
    assert store.get_order("o1") == o and store.get_job("j1") == j
    assert store.list_communities() == [c] and store.list_workers("c1") == [w]


def test_version_guard_rejects_stale_writes_and_writes_nothing(store: Store) -> None:
    """A write expecting an old version fails as a whole: no record, no event."""
    store.write("c1", orders=[_order()], events=[_event()], expect={"o1": 0})
    with pytest.raises(Conflict):
        store.write("c1", orders=[_order()], expect={"o1": 0})
    before = store.last_seq()
    assigned = _order(state=OrderState.ASSIGNED, worker_id="w1", version=2)
    other = _order("o2")
    with pytest.raises(Conflict):
        store.write("c1", orders=[assigned, other], events=[_event()], expect={"o1": 5, "o2": 0})
    assert store.get_order("o1").state == OrderState.PENDING  # type: ignore[union-attr]
    assert store.get_order("o2") is None and store.last_seq() == before
    store.write("c1", orders=[assigned], expect={"o1": 1})
    assert store.get_order("o1").worker_id == "w1"  # type: ignore[union-attr]


def test_open_sets_follow_states(store: Store) -> None:
    """Terminal orders and jobs leave the open lists; others stay."""
    store.write("c1", orders=[_order("o1"), _order("o2")], expect={"o1": 0, "o2": 0})
    done = _order("o1", state=OrderState.DELIVERED, version=2)
    store.write("c1", orders=[done], expect={"o1": 1})
    assert [o.id for o in store.list_open_orders("c1")] == ["o2"]
    j = Job("j1", "c1", P, frozenset({"x"}), 60.0, 1.0, PRICE, state=JobState.CANCELLED)
    store.write("c1", jobs=[j], expect={"j1": 0})
    assert store.list_open_jobs("c1") == [] and store.get_job("j1") == j


def test_plan_version_guard(store: Store) -> None:
    """Only the writer that read the current plan version may commit the next one."""
    stop = PlannedStop(StopKind.PICKUP, "o1", P, 10.0, 20.0)
    plan1 = Plan("c1", 1, 5.0, {"w1": (stop,)})
    store.write("c1", plan=plan1, expect_plan=0)
    assert store.get_plan("c1") == plan1
    with pytest.raises(Conflict):
        store.write("c1", plan=dataclasses.replace(plan1, version=2), expect_plan=0)
    store.write("c1", plan=dataclasses.replace(plan1, version=2), expect_plan=1)
    assert store.get_plan("c1").version == 2  # type: ignore[union-attr]


def test_events_are_numbered_and_filtered(store: Store) -> None:
    """Sequence numbers are consecutive; reads after a seq and per community work."""
    a = store.append_events([_event(cid="c1"), _event(cid="c2")])
    b = store.write("c1", orders=[_order()], events=[_event()], expect={"o1": 0})
    seqs = [e.seq for e in a + b]
    assert seqs == list(range(seqs[0], seqs[0] + 3))
    assert [e.seq for e in store.events_after(seqs[0])] == seqs[1:]
    assert [e.community_id for e in store.events_after(0, community_id="c2")] == ["c2"]
    assert len(store.events_after(0, limit=2)) == 2
    assert store.last_seq() == seqs[-1]
    assert store.events_after(0)[0].data == {"state": "pending", "worker_id": None}


def test_idempotency_record_is_atomic_with_the_write(store: Store) -> None:
    """A key is taken with its entity in one step, refused a second time, and expires."""
    rec = IdempotencyRecord("order", "k1", "hash", "o1", expires_at=1000.0)
    store.write("c1", orders=[_order()], expect={"o1": 0}, idempotency=rec)
    got = store.get_idempotency("order", "k1", now=500.0)
    assert got is not None and got.entity_id == "o1" and got.body_hash == "hash"
    with pytest.raises(Conflict):
        store.write("c1", orders=[_order("o2")], expect={"o2": 0}, idempotency=rec)
    assert store.get_order("o2") is None
    assert store.get_idempotency("order", "k1", now=1001.0) is None


def test_leases(store: Store) -> None:
    """One owner at a time; renewal by the owner; takeover after expiry; release."""
    assert store.acquire_lease("c1", "a", 30.0, now=0.0)
    assert store.acquire_lease("c1", "a", 30.0, now=10.0)
    assert not store.acquire_lease("c1", "b", 30.0, now=20.0)
    assert store.acquire_lease("c1", "b", 30.0, now=41.0)
    store.release_lease("c1", "a")
    assert not store.acquire_lease("c1", "a", 30.0, now=42.0)
    store.release_lease("c1", "b")
    assert store.acquire_lease("c1", "a", 30.0, now=43.0)


def test_rules_are_versioned_and_surge_state_kept(store: Store) -> None:
    """Each stored rule set gets the next version; surge state round-trips per community."""
    assert store.rules_version() == 0
    v1 = store.put_rules({"name": "a"})
    assert store.rules_version() == v1
    v2 = store.put_rules({"name": "b"})
    assert v2 == v1 + 1 and store.get_rules() == {"name": "b", "version": v2}
    assert store.rules_version() == v2
    store.put_surge_state("c1", {"ts": 1.0, "ratio": {"abc": 1.5}})
    assert store.get_surge_state("c1") == {"ts": 1.0, "ratio": {"abc": 1.5}}
    assert store.get_surge_state("c2") is None


def test_community_rules_override_and_every_version_is_kept(store: Store) -> None:
    """A community's own set is versioned from the one counter, read apart from the global
    set and cleared back to it; each scope keeps its history, newest first, with meta."""
    g1 = store.put_rules({"name": "g1"}, meta={"by": "ana", "at": 1.0})
    assert store.rules_version("c1") == 0 and store.get_rules("c1") is None
    c1 = store.put_rules({"name": "own", "version": 99}, "c1", meta={"by": "bo", "at": 2.0})
    assert c1 > g1 and store.rules_version("c1") == c1 and store.rules_version() == g1
    assert store.get_rules("c1") == {"name": "own", "version": c1}
    assert store.get_rules() == {"name": "g1", "version": g1}
    g2 = store.put_rules({"name": "g2"})
    assert g2 > c1 and store.rules_version() == g2 and store.rules_version("c1") == c1
    history = store.rules_history()
    assert [h["version"] for h in history] == [g2, g1]
    assert history[1]["by"] == "ana" and history[1]["data"] == {"name": "g1", "version": g1}
    own = store.rules_history("c1")
    assert [(h["version"], h["by"], h["at"]) for h in own] == [(c1, "bo", 2.0)]
    assert store.rules_history("c2") == []
    assert store.clear_rules("c1") and not store.clear_rules("c1")
    assert store.get_rules("c1") is None and store.rules_version("c1") == 0
    assert [h["version"] for h in store.rules_history("c1")] == [c1]  # history stays


def test_worker_moving_community(store: Store) -> None:
    """A worker moved to another community is listed there only."""
    store.put_worker(Worker("w1", WorkerKind.COURIER, "c1"))
    store.put_worker(Worker("w1", WorkerKind.COURIER, "c2"))
    assert store.list_workers("c1") == [] and [w.id for w in store.list_workers("c2")] == ["w1"]
    assert store.ping()


def test_positions_are_the_hot_path_and_always_read_back(store: Store) -> None:
    """put_positions changes only position, time, cell and status; reads see the newest."""
    from dispatch.store.base import PositionState

    store.put_worker(Worker("w1", WorkerKind.COURIER, "c1", position=P, position_ts=5.0, cell=7))
    store.put_positions([PositionState("w1", "c1", 31.3, 121.5, 5.0, 7, "busy")])
    w = store.get_worker("w1")
    assert w is not None and w.position == LatLng(31.3, 121.5) and w.status.value == "busy"
    assert w.kind == WorkerKind.COURIER and w.position_ts == 5.0
    got = store.get_positions(["w1", "nobody"])
    assert got[1] is None and got[0] is not None and got[0].lat == 31.3
    store.put_positions([PositionState("w1", "other", 1.0, 1.0, 9.0, 1, "available")])
    assert store.get_worker("w1").position == LatLng(31.3, 121.5)  # type: ignore[union-attr]


def test_lease_tokens_fence_off_a_writer_that_lost_its_lease(store: Store) -> None:
    """Tokens grow with each new holder and stay on renewal; a stale holder's write fails."""
    store.put_community(Community("c1", "Riverside", P))
    a1 = store.acquire_lease("c1", "a", 30.0, now=0.0)
    assert a1 is not None and store.acquire_lease("c1", "a", 30.0, now=10.0) == a1
    store.write("c1", orders=[_order("o1")], expect={"o1": 0}, fence=Fence("a", a1))
    b = store.acquire_lease("c1", "b", 30.0, now=41.0)  # a was paused past its lease
    assert b is not None and b > a1
    plan = Plan("c1", 1, 41.0)
    with pytest.raises(LeaseLost):
        store.write("c1", plan=plan, expect_plan=0, fence=Fence("a", a1))
    assert store.get_plan("c1") is None  # nothing of the fenced write landed
    with pytest.raises(LeaseLost):
        store.write("c1", plan=plan, expect_plan=0, fence=Fence("b", a1))  # wrong token
    store.write("c1", plan=plan, expect_plan=0, fence=Fence("b", b))
    assert store.get_plan("c1") == plan
    store.release_lease("c1", "b")
    with pytest.raises(LeaseLost):  # a released lease fences its old holder too
        store.write("c1", plan=Plan("c1", 2, 42.0), expect_plan=1, fence=Fence("b", b))
    again = store.acquire_lease("c1", "b", 30.0, now=43.0)
    assert again is not None and again > b
