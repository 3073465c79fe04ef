"""Redis-only guarantees: hash tags, atomic scripts under concurrent clients, TTLs, errors."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import pytest
import redis
from redis.backoff import NoBackoff
from redis.crc import key_slot
from redis.retry import Retry

from dispatch import Engine, EngineSettings, ManualClock
from dispatch.errors import Conflict, StoreUnavailable
from dispatch.model import LatLng, Order, Plan, Price, Worker, WorkerKind
from dispatch.policies import OptimizerPolicy
from dispatch.requests import CommunitySpec, LocationUpdate, OrderRequest, WorkerSpec
from dispatch.store.base import IdempotencyRecord, NewEvent
from dispatch.store.redis import RedisStore
from solver import RoutingParams
from tests.conftest import redis_store
from tests.dispatch.conftest import CENTER, offset
from tests.redis_server import free_port

T = TypeVar("T")
P = LatLng(31.23, 121.47)


def _order(oid: str = "o1", cid: str = "c1", version: int = 1) -> Order:
    return Order(oid, cid, P, P, 100.0, 100.0, 1900.0, Price(10.0, 1.0, 10.0, 1), version=version)


def _event(cid: str = "c1", entity: str = "o1") -> NewEvent:
    return NewEvent(100.0, cid, "order.assigned", entity, {"state": "assigned"})


@pytest.fixture(params=["redis", "redis-cluster"])
def stores(request: pytest.FixtureRequest, redis_prefix: str) -> Iterator[list[RedisStore]]:
    """Two stores with separate connections on the same keys: two processes in miniature.

    On one server and on a three-node Cluster, which refuses anything spanning two slots.
    """
    pair = [redis_store(request, request.param, redis_prefix) for _ in range(2)]
    try:
        yield pair
    finally:
        for s in pair:
            s.close()


def _race(stores: list[RedisStore], body: Callable[[RedisStore], T]) -> list[T]:
    """Run ``body`` once per store in parallel threads released together."""
    gate = threading.Barrier(len(stores))

    def run(store: RedisStore) -> T:
        gate.wait(timeout=10)
        return body(store)

    with ThreadPoolExecutor(len(stores)) as pool:
        return list(pool.map(run, stores))


@pytest.mark.parametrize("target", ["redis", "redis-cluster"])
def test_keys_carry_the_community_hash_tag(
    target: str, request: pytest.FixtureRequest, redis_prefix: str
) -> None:
    """Each key is in its community's slot or in the one global slot: Cluster-ready."""
    store = redis_store(request, target, redis_prefix)
    engine = Engine(EngineSettings(), store, ManualClock())
    engine.upsert_community(CommunitySpec("c7", "x", CENTER))
    engine.upsert_worker(WorkerSpec("w1", WorkerKind.COURIER, "c7"))
    engine.create_order(OrderRequest("c7", offset(10, 0), offset(50, 0)), idempotency_key="k")
    assert store.acquire_lease("c7", "me", 30.0, now=0.0)
    engine.tick("c7")
    keys = set(store.r.scan_iter(f"{redis_prefix}:*"))
    community_keys = {k for k in keys if k.split(":")[1] == "{c7}"}
    global_keys = {k for k in keys if k.split(":")[1] == "{~}"}
    kinds = {k.split(":")[2] for k in community_keys}
    assert {"community", "workers", "pos", "order", "open-orders", "plan", "lease"} <= kinds
    assert {"idem", "event-counter"} <= kinds
    assert {k.split(":")[2] for k in global_keys} >= {"seq", "events", "index", "idem-claim"}
    assert community_keys | global_keys == keys
    assert len({key_slot(k.encode()) for k in community_keys}) == 1
    assert len({key_slot(k.encode()) for k in global_keys}) == 1
    assert not store.r.lrange(f"{redis_prefix}:{{c7}}:outbox", 0, -1)  # all published
    store.close()


def test_stale_writer_loses_and_writes_nothing(stores: list[RedisStore]) -> None:
    """Two clients read the same version; the second commit is refused as a whole."""
    a, b = stores
    a.write("c1", orders=[_order()], expect={"o1": 0})
    seen_a, seen_b = a.get_order("o1"), b.get_order("o1")
    assert seen_a is not None and seen_b is not None
    a.write("c1", orders=[dataclasses.replace(seen_a, version=2)], expect={"o1": 1})
    before = b.last_seq()
    with pytest.raises(Conflict, match="version 2, expected 1"):
        b.write(
            "c1",
            orders=[dataclasses.replace(seen_b, version=2, worker_id="w9"), _order("o2")],
            events=[_event()],
            expect={"o1": 1, "o2": 0},
        )
    assert b.get_order("o2") is None and b.last_seq() == before
    assert b.get_order("o1").worker_id is None  # type: ignore[union-attr]


def test_concurrent_read_modify_write_loses_no_update(stores: list[RedisStore]) -> None:
    """Racing version-guarded writes from two clients: each success bumps the version once."""
    stores[0].write("c1", orders=[_order()], expect={"o1": 0})

    def bump(store: RedisStore) -> tuple[int, list[int]]:
        wins, seqs = 0, []
        for _ in range(40):
            cur = store.get_order("o1")
            assert cur is not None
            nxt = dataclasses.replace(cur, version=cur.version + 1)
            try:
                done = store.write(
                    "c1", orders=[nxt], events=[_event()] * 2, expect={"o1": cur.version}
                )
            except Conflict:
                continue
            wins += 1
            seqs += [e.seq for e in done]
        return wins, seqs

    results = _race(stores, bump)
    wins = sum(w for w, _ in results)
    seqs = sorted(s for _, got in results for s in got)
    assert stores[1].get_order("o1").version == 1 + wins  # type: ignore[union-attr]
    assert seqs == list(range(seqs[0], seqs[0] + 2 * wins))
    assert [e.seq for e in stores[1].events_after(seqs[0] - 1, limit=10_000)] == seqs


def test_concurrent_plan_commits_chain_versions(stores: list[RedisStore]) -> None:
    """Plans committed by racing clients form one chain 1, 2, 3 ... without a fork."""

    def commit(store: RedisStore) -> list[int]:
        won = []
        for _ in range(40):
            cur = store.get_plan("c1")
            version = cur.version if cur else 0
            try:
                store.write("c1", plan=Plan("c1", version + 1, 0.0), expect_plan=version)
            except Conflict:
                continue
            won.append(version + 1)
        return won

    won = sorted(v for got in _race(stores, commit) for v in got)
    assert won == list(range(1, len(won) + 1))
    assert stores[0].get_plan("c1").version == len(won)  # type: ignore[union-attr]


def test_concurrent_appends_get_unique_consecutive_blocks(stores: list[RedisStore]) -> None:
    """Each append's events are consecutive; two clients never share a sequence number."""

    def append(store: RedisStore) -> list[list[int]]:
        return [[e.seq for e in store.append_events([_event()] * 3)] for _ in range(30)]

    blocks = [b for got in _race(stores, append) for b in got]
    assert all(b == list(range(b[0], b[0] + 3)) for b in blocks)
    flat = sorted(s for b in blocks for s in b)
    assert flat == list(range(flat[0], flat[0] + 180))


def test_community_feed_reads_only_that_community(stores: list[RedisStore]) -> None:
    """A community's events come from its own feed, in order, after the given seq."""
    a, _ = stores
    a.append_events([_event("c1", f"o{i}") for i in range(50)])
    c2 = a.append_events([_event("c2", "x1"), _event("c2", "x2")])
    a.append_events([_event("c1")])
    got = a.events_after(0, limit=1, community_id="c2")
    assert [e.entity_id for e in got] == ["x1"]
    assert [e.seq for e in a.events_after(c2[0].seq, community_id="c2")] == [c2[1].seq]
    assert a.events_after(c2[1].seq, community_id="c2") == []


def _commit_then_crash(store: RedisStore, cid: str, oid: str) -> None:
    """A commit that dies between staging its event and publishing it: on Cluster a
    write (commit and publish are two round trips); on one server, where a write
    publishes inside its own script, an append of events (stage, then publish)."""
    if store.cluster:
        store.write(cid, orders=[_order(oid, cid)], events=[_event(cid, oid)], expect={oid: 0})
    else:
        store.append_events([_event(cid, oid)])


def test_events_a_crashed_writer_staged_go_out_with_the_next_write(
    stores: list[RedisStore], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A writer that dies between its commit and publishing loses no event and reorders none."""
    a, b = stores

    def crash(*_: object) -> list[int]:
        raise ConnectionError("process died")

    monkeypatch.setattr(a, "_publish_entries", crash)
    with pytest.raises(ConnectionError):
        _commit_then_crash(a, "c1", "o1")
    assert b.events_after(0) == []
    b.write("c1", orders=[_order("o2")], events=[_event("c1", "o2")], expect={"o2": 0})
    assert [e.entity_id for e in b.events_after(0)] == ["o1", "o2"]
    assert [e.entity_id for e in b.events_after(0, community_id="c1")] == ["o1", "o2"]
    # On Cluster b's next commit drops what it saw published and a lease renewal trims
    # the rest; on one server a commit leaves nothing published in the outbox.
    b.write("c1", orders=[_order("o3")], events=[_event("c1", "o3")], expect={"o3": 0})
    outbox = b.r.lrange(b._k("c1", "outbox"), 0, -1)
    assert len(outbox) == (1 if b.cluster else 0)
    assert [e.entity_id for e in b.events_after(0)] == ["o1", "o2", "o3"]
    assert b.acquire_lease("c1", "b", 30.0, 0.0) is not None
    assert b.r.llen(b._k("c1", "outbox")) == 0
    with pytest.raises(ConnectionError):  # a second crash, in a community nobody writes to
        _commit_then_crash(a, "c2", "x1")
    assert [e.entity_id for e in b.events_after(0)] == ["o1", "o2", "o3"]
    assert b.acquire_lease("c2", "dispatcher", 30.0, now=0.0)  # its dispatcher's next renewal
    assert [e.entity_id for e in b.events_after(0)] == ["o1", "o2", "o3", "x1"]


def test_a_commit_on_one_server_is_one_round_trip_and_survives_a_script_flush(
    request: pytest.FixtureRequest, redis_prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On a single server an order's commit (claim, index, write, publish) is one
    pipeline; a server that lost its scripts gets them again within the same call.
    (On Cluster they stay apart: they touch two slots.)"""
    a, b = (redis_store(request, "redis", redis_prefix) for _ in range(2))
    request.addfinalizer(a.close)
    request.addfinalizer(b.close)
    trips: list[str] = []
    real = a.r.connection_pool.get_connection

    def counted(*args: object, **kwargs: object) -> object:
        trips.append("trip")
        return real(*args, **kwargs)

    monkeypatch.setattr(a.r.connection_pool, "get_connection", counted)
    idem = IdempotencyRecord("order", "k1", "h1", "o1", 1e12)
    done = a.write(
        "c1", orders=[_order("o1")], events=[_event("c1", "o1")], expect={"o1": 0}, idempotency=idem
    )
    assert len(trips) == 1 and [e.entity_id for e in done] == ["o1"]
    assert b.get_idempotency("order", "k1", 0.0) == idem
    assert [e.seq for e in b.events_after(0)] == [done[0].seq]
    b.r.script_flush()
    trips.clear()
    again = a.write("c1", orders=[_order("o2")], events=[_event("c1", "o2")], expect={"o2": 0})
    assert len(trips) == 3  # refused for want of the script, loaded, run again
    assert [e.seq for e in b.events_after(0)] == [done[0].seq, again[0].seq]
    assert b.get_order("o2") is not None and b.r.llen(b._k("c1", "outbox")) == 0


def test_publishing_again_publishes_nothing_twice(stores: list[RedisStore]) -> None:
    """A stale or repeated publish (a slow or retrying writer) adds no event to the feeds."""
    a, b = stores
    stale = ["1|" + a._event_json(_event("c1", "o1"))]
    done = a.append_events([_event("c1", "o1"), _event("c1", "o2")])
    again = b._publish(keys=b._publish_keys("c1"), args=["c1", 1, 2, *stale])
    assert [int(x) for x in again] == [2, *(e.seq for e in done)]
    assert b._publish_outbox("c1", 0, 0) == []
    assert [e.seq for e in b.events_after(0)] == [e.seq for e in done]


def test_concurrent_writers_of_two_communities_share_one_gapless_sequence(
    stores: list[RedisStore],
) -> None:
    """Racing commits in two communities: one global numbering, no gap, no repeat, in order."""

    def commit(store: RedisStore) -> list[tuple[str, int]]:
        got = []
        for i in range(30):
            cid = "c1" if i % 2 else "c2"
            oid = f"{id(store)}-{i}"
            events = [_event(cid, oid), _event(cid, oid)]
            done = store.write(cid, orders=[_order(oid, cid)], events=events, expect={oid: 0})
            got += [(cid, e.seq) for e in done]
        return got

    got = [x for part in _race(stores, commit) for x in part]
    seqs = sorted(seq for _, seq in got)
    assert seqs == list(range(1, 121))
    feed = stores[0].events_after(0, limit=1000)
    assert [e.seq for e in feed] == seqs
    for cid in ("c1", "c2"):
        mine = sorted(seq for c, seq in got if c == cid)
        assert [e.seq for e in stores[1].events_after(0, 1000, cid)] == mine


def test_an_idempotency_key_belongs_to_one_community(stores: list[RedisStore]) -> None:
    """The same key sent for another community is refused and writes nothing there."""
    a, b = stores
    a.write(
        "c1",
        orders=[_order()],
        expect={"o1": 0},
        idempotency=IdempotencyRecord("order", "k1", "h", "o1", expires_at=1e12),
    )
    other = IdempotencyRecord("order", "k1", "h", "x1", expires_at=1e12)
    with pytest.raises(Conflict, match="idempotency"):
        b.write("c2", orders=[_order("x1", "c2")], expect={"x1": 0}, idempotency=other)
    assert b.get_order("x1") is None
    assert b.get_idempotency("order", "k1", now=0.0).entity_id == "o1"  # type: ignore[union-attr]


def test_lease_and_idempotency_keys_expire_in_redis_too(stores: list[RedisStore]) -> None:
    """Abandoned leases and idempotency records carry a Redis TTL as a safety net."""
    a, _ = stores
    assert a.acquire_lease("c1", "me", 30.0, now=5.0)
    lease_ttl = a.r.pttl(a._k("c1", "lease"))
    assert 0 < lease_ttl <= 30_000
    rec = IdempotencyRecord("order", "k1", "h", "o1", expires_at=1e12)
    a.write("c1", orders=[_order()], expect={"o1": 0}, idempotency=rec)
    assert a.r.pttl(a._k("c1", "idem", "order", "k1")) > 6 * 24 * 3600 * 1000
    assert a.r.pttl(a._g("idem-claim", "order", "k1")) > 6 * 24 * 3600 * 1000


def test_clearing_an_expired_key_spares_a_newer_record(stores: list[RedisStore]) -> None:
    """A reader that saw an expired record cannot delete the record that replaced it."""
    a, b = stores
    old = IdempotencyRecord("order", "k1", "h1", "o1", expires_at=1000.0)
    a.write("c1", orders=[_order()], expect={"o1": 0}, idempotency=old)
    name = a._k("c1", "idem", "order", "k1")
    seen = a.r.get(name)  # what a slow reader read before the record was replaced
    assert isinstance(seen, str)
    assert b.get_idempotency("order", "k1", now=1001.0) is None  # expired: cleared
    new = IdempotencyRecord("order", "k1", "h2", "o2", expires_at=9000.0)
    b.write("c1", orders=[_order("o2")], expect={"o2": 0}, idempotency=new)
    assert a._delete_if(keys=[name], args=[seen]) == 0
    assert a.get_idempotency("order", "k1", now=1001.0) == new


def test_release_by_another_owner_keeps_the_lease(stores: list[RedisStore]) -> None:
    """Only the holder can release; another client's release is a no-op."""
    a, b = stores
    assert a.acquire_lease("c1", "a", 30.0, now=0.0)
    b.release_lease("c1", "b")
    assert not b.acquire_lease("c1", "b", 30.0, now=1.0)
    a.release_lease("c1", "a")
    assert b.acquire_lease("c1", "b", 30.0, now=1.0)


def test_late_position_for_a_worker_who_moved_is_invisible(stores: list[RedisStore]) -> None:
    """A position written under the old community after a move never shows up anywhere."""
    a, b = stores
    a.put_worker(Worker("w1", WorkerKind.COURIER, "c1", position=P))
    seen = b.get_positions(["w1"])[0]
    assert seen is not None and seen.community_id == "c1"
    a.put_worker(Worker("w1", WorkerKind.COURIER, "c2", position=P))
    b.put_positions([dataclasses.replace(seen, lat=1.0, lng=2.0)])
    moved = a.get_worker("w1")
    assert moved is not None and moved.community_id == "c2" and moved.position == P
    now = a.get_positions(["w1"])[0]
    assert a.list_workers("c1") == [] and now is not None and now.community_id == "c2"


def test_write_refuses_records_of_another_community(stores: list[RedisStore]) -> None:
    """All keys of one commit share the community's hash tag: a stray record is an error."""
    a, _ = stores
    with pytest.raises(ValueError, match="another"):
        a.write("c1", orders=[_order(cid="c2")], expect={"o1": 0})
    assert a.get_order("o1") is None


def test_unreachable_server_is_store_unavailable() -> None:
    """No server at the address: StoreUnavailable (the API's 503) and ping() is False."""
    client = redis.Redis(
        port=free_port(), decode_responses=True, retry=Retry(NoBackoff(), 0), socket_timeout=1
    )
    store = RedisStore(client, prefix="nowhere")
    assert not store.ping()
    with pytest.raises(StoreUnavailable):
        store.get_order("o1")
    client.close()


def test_client_must_decode_and_prefix_must_be_plain(redis_url: str) -> None:
    """A bytes-returning client or a prefix with braces is refused up front."""
    raw = redis.Redis.from_url(redis_url)
    with pytest.raises(ValueError, match="decode_responses"):
        RedisStore(raw)
    raw.close()
    with pytest.raises(ValueError, match="braces"):
        RedisStore(redis_url, prefix="a{b}")


def test_two_engines_never_assign_one_order_twice(redis_url: str, redis_prefix: str) -> None:
    """Two dispatchers on one Redis: the plan version guard lets one commit win per round."""
    clock = ManualClock()
    params = RoutingParams(use_vroom=False, isolate=False)
    pair = [RedisStore(redis_url, prefix=redis_prefix) for _ in range(2)]
    a, b = (Engine(EngineSettings(), s, clock, policy=OptimizerPolicy(params)) for s in pair)
    a.upsert_community(CommunitySpec("c1", "x", CENTER, solver_budget_s=0.1))
    for i, at in enumerate(((0, 0), (50, 0))):
        a.upsert_worker(WorkerSpec(f"w{i}", WorkerKind.COURIER, "c1"))
        p = offset(*at)
        a.update_location(LocationUpdate(f"w{i}", p.lat, p.lng))
    o = a.create_order(OrderRequest("c1", offset(20, 0), offset(300, 0)))
    a.tick("c1")
    b.tick("c1")
    holders = [w for w in ("w0", "w1") if any(s.entity_id == o.id for s in b.route(w))]
    assert len(holders) == 1 and b.get_order(o.id).worker_id == holders[0]
    for s in pair:
        s.close()
