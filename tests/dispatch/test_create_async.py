"""Orders and jobs accepted on the event loop: the commit awaited on Redis, no thread.

``Engine.create_order_async`` must accept exactly what ``create_order`` accepts, and
answer ``None`` (having written nothing) whenever the request needs the blocking
path: a cache to fill, a held quote, a retry or a race, a store without an async
commit. The caller then runs ``create_order``, so each case is checked end to end:
the fast answer, or None followed by the blocking path's answer.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis

from dispatch import CommunitySpec, Engine, EngineSettings, ManualClock, MemoryStore
from dispatch.errors import Conflict, InvalidInput, OutsideGeofence, StoreUnavailable
from dispatch.model import LatLng, Order
from dispatch.requests import JobRequest, OrderRequest
from dispatch.store.blocking import WouldBlock, check_blocking_allowed, no_blocking_io
from dispatch.store.redis import RedisStore
from dispatch.store.redis_async import AsyncRedisPipe
from dispatch.store.resp import pack_commands
from tests.conftest import redis_store

CENTRE = LatLng(31.2304, 121.4737)


def _order(**kw: Any) -> OrderRequest:
    return OrderRequest("c1", LatLng(31.2314, 121.4737), LatLng(31.2384, 121.4767), **kw)


def _engine(store: Any) -> Engine:
    engine = Engine(EngineSettings(), store, ManualClock(), read_cache_s=3600.0)
    engine.upsert_community(CommunitySpec("c1", "c", CENTRE))
    return engine


class _Counted:
    """Counts the store's blocking calls (``_call``) while the fast path runs."""

    def __init__(self, store: RedisStore) -> None:
        self.n = 0
        original = store._call

        def counted(fn: Any, *args: Any, **kwargs: Any) -> Any:
            self.n += 1
            return original(fn, *args, **kwargs)

        store._call = counted  # type: ignore[method-assign]


@pytest.fixture
def store(request: pytest.FixtureRequest, redis_prefix: str) -> Iterator[RedisStore]:
    s = redis_store(request, "redis", redis_prefix)
    try:
        yield s
    finally:
        s.close()


def _warm(engine: Engine) -> Order:
    """One order the blocking way: fills the community, rules and surge caches."""
    return engine.create_order(_order(external_ref="warm-up"))


def test_a_warm_engine_accepts_an_order_with_one_async_trip_and_no_blocking_call(
    store: RedisStore,
) -> None:
    engine = _engine(store)
    _warm(engine)
    counted = _Counted(store)
    pipe = store.async_pipe()
    assert pipe is not None

    async def go() -> Order | None:
        return await engine.create_order_async(_order(external_ref="fast"), "key-1")

    before = pipe.calls
    order = asyncio.run(go())
    assert order is not None and order.external_ref == "fast"
    assert counted.n == 0 and pipe.calls == before + 1
    # what the blocking path reads back is what the fast path answered
    assert engine.get_order(order.id) == order
    assert [e.type for e in engine.history(order.id)] == ["order.created"]
    # a retry with the same key and body is the same order (the blocking path replays)
    assert engine.create_order(_order(external_ref="fast"), "key-1") == order


def test_a_cold_engine_answers_none_and_writes_nothing(store: RedisStore) -> None:
    engine = _engine(store)
    engine.intake._communities.clear()  # a community this process has not read yet

    async def go() -> Order | None:
        return await engine.create_order_async(_order(), "key-cold")

    assert asyncio.run(go()) is None
    assert store.get_idempotency("order", "key-cold", engine.clock.now()) is None
    # the blocking path then accepts it once
    order = engine.create_order(_order(), "key-cold")
    assert store.get_idempotency("order", "key-cold", engine.clock.now()) is not None
    assert engine.get_order(order.id) == order


def test_a_retry_or_a_reused_key_answers_none_and_the_blocking_path_decides(
    store: RedisStore,
) -> None:
    engine = _engine(store)
    first = engine.create_order(_order(external_ref="a"), "key-2")

    async def go(request: OrderRequest) -> Order | None:
        return await engine.create_order_async(request, "key-2")

    assert asyncio.run(go(_order(external_ref="a"))) is None
    assert engine.create_order(_order(external_ref="a"), "key-2") == first
    assert asyncio.run(go(_order(external_ref="b"))) is None
    with pytest.raises(Conflict):
        engine.create_order(_order(external_ref="b"), "key-2")
    orders = [o for o in engine.open_orders("c1")]
    assert [o.id for o in orders] == [first.id]


def test_invalid_requests_are_refused_the_same_way(store: RedisStore) -> None:
    engine = _engine(store)
    _warm(engine)
    far = OrderRequest("c1", LatLng(31.2314, 121.4737), LatLng(31.40, 121.60))

    async def go(key: str | None) -> Order | None:
        return await engine.create_order_async(far, key)

    with pytest.raises(OutsideGeofence):  # no key: nothing to replay, refused at once
        asyncio.run(go(None))
    assert asyncio.run(go("key-3")) is None  # a key: a retry could be replayed: blocking path
    with pytest.raises(OutsideGeofence):
        engine.create_order(far, "key-3")
    with pytest.raises(InvalidInput):
        asyncio.run(engine.create_order_async(_order(size=11)))


def test_a_job_is_accepted_on_the_loop_too(store: RedisStore) -> None:
    engine = _engine(store)
    _warm(engine)
    request = JobRequest("c1", LatLng(31.2314, 121.4737), frozenset({"cleaning"}), 60.0)
    engine.create_job(request)  # warms what jobs read
    counted = _Counted(store)

    async def go() -> Any:
        return await engine.create_job_async(request, "job-key")

    job = asyncio.run(go())
    assert job is not None and counted.n == 0
    assert engine.get_job(job.id) == job


def test_many_concurrent_orders_on_one_connection_each_get_their_own_answer(
    store: RedisStore,
) -> None:
    engine = _engine(store)
    _warm(engine)

    async def go() -> list[Order | None]:
        calls = [
            engine.create_order_async(_order(external_ref=f"r{i}"), f"k{i}") for i in range(60)
        ]
        return await asyncio.gather(*calls)

    orders = asyncio.run(go())
    assert all(o is not None for o in orders)
    refs = [o.external_ref for o in orders if o is not None]
    assert refs == [f"r{i}" for i in range(60)]
    stored = {o.id: o.external_ref for o in engine.open_orders("c1")}
    assert all(stored[o.id] == o.external_ref for o in orders if o is not None)
    assert len({o.id for o in orders if o is not None}) == 60


def test_a_server_that_lost_its_scripts_gets_them_again(store: RedisStore) -> None:
    engine = _engine(store)
    _warm(engine)
    store.r.script_flush()
    order = asyncio.run(engine.create_order_async(_order(), "key-4"))
    assert order is not None and engine.get_order(order.id) == order


def test_stores_without_an_async_commit_take_the_blocking_path(
    request: pytest.FixtureRequest, redis_prefix: str
) -> None:
    memory = _engine(MemoryStore())
    assert asyncio.run(memory.create_order_async(_order(), "k")) is None
    assert memory.open_orders("c1") == []
    cluster = redis_store(request, "redis-cluster", redis_prefix)
    try:
        engine = _engine(cluster)
        _warm(engine)
        assert asyncio.run(engine.create_order_async(_order(), "k")) is None
        assert len(engine.open_orders("c1")) == 1
    finally:
        cluster.close()


def test_blocking_calls_are_refused_only_inside_the_guard(store: RedisStore) -> None:
    with no_blocking_io():
        with pytest.raises(WouldBlock):
            store.get_community("c1")
        with pytest.raises(WouldBlock):
            check_blocking_allowed()
    check_blocking_allowed()
    assert store.get_community("nope") is None


# ---- the pipe itself ----------------------------------------------------------------


def test_commands_are_packed_as_resp_arrays() -> None:
    assert pack_commands([["SET", "k", "v"], ["INCRBY", "n", 5]]) == (
        b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n*3\r\n$6\r\nINCRBY\r\n$1\r\nn\r\n$1\r\n5\r\n"
    )
    assert pack_commands([["SET", "k", "é".encode()]]).endswith(b"$2\r\n\xc3\xa9\r\n")
    with pytest.raises(TypeError):
        pack_commands([["SET", "k", 1.5]])  # type: ignore[list-item]
    with pytest.raises(ValueError):
        pack_commands([[]])


def test_the_pipe_selects_its_database_and_reports_error_replies(
    redis_url: str, redis_prefix: str
) -> None:
    base = redis_url.rsplit("/", 1)[0]
    key = f"{redis_prefix}:k"
    pipe = AsyncRedisPipe(f"{base}/3")

    async def go() -> list[Any]:
        try:
            return await pipe.execute([["SET", key, "v"], ["INCR", key], ["GET", key]])
        finally:
            await pipe.close()

    ok, failed, value = asyncio.run(go())
    assert ok == "OK" and value == "v" and "not an integer" in str(failed)
    on_3 = redis.Redis.from_url(f"{base}/3", decode_responses=True)
    on_0 = redis.Redis.from_url(f"{base}/0", decode_responses=True)
    try:
        assert on_3.get(key) == "v" and on_0.get(key) is None
    finally:
        on_3.delete(key)
        on_3.close()
        on_0.close()


def test_an_unreachable_server_is_unavailable_and_the_pipe_recovers(
    redis_url: str, redis_prefix: str
) -> None:
    from tests.redis_server import free_port

    dead = AsyncRedisPipe(f"redis://127.0.0.1:{free_port()}/0", timeout_s=2.0)
    with pytest.raises(StoreUnavailable):
        asyncio.run(dead.execute([["PING"]]))
    pipe = AsyncRedisPipe(redis_url)

    async def go(before: Callable[[], Any]) -> Any:
        before()
        return (await pipe.execute([["PING"]]))[0]

    async def both() -> tuple[Any, Any]:
        first = await go(lambda: None)
        assert pipe._writer is not None
        pipe._writer.close()  # the connection drops under it: the next call connects again
        second = await go(lambda: None)
        await pipe.close()
        return first, second

    assert asyncio.run(both()) == ("PONG", "PONG")


def test_a_quote_is_held_on_the_loop_and_an_order_can_use_it(store: RedisStore) -> None:
    engine = _engine(store)
    engine.quote(_order())  # warms what quotes read
    counted = _Counted(store)
    quote = asyncio.run(engine.quote_async(_order(external_ref="q")))
    assert quote is not None and quote.id is not None and counted.n == 0
    held = store.get_quote("c1", quote.id)
    assert held is not None and held.price.total == quote.total
    order = engine.create_order(_order(external_ref="q", quote_id=quote.id), "kq")
    assert order.price.total == quote.total and order.quote_id == quote.id
    # a request naming a quote, a cold cache, a memory store: the blocking path
    assert asyncio.run(engine.quote_async(_order(quote_id=quote.id))) is None
    engine.intake._communities.clear()
    assert asyncio.run(engine.quote_async(_order())) is None
    assert asyncio.run(_engine(MemoryStore()).quote_async(_order())) is None


def test_a_store_that_cannot_await_writes_costs_no_work_on_the_loop(
    request: pytest.FixtureRequest, redis_prefix: str
) -> None:
    """On Cluster the loop path gives up before pricing (the thread path would do it all
    again): no id is drawn, no surge state is read."""
    cluster = redis_store(request, "redis-cluster", redis_prefix)
    try:
        engine = _engine(cluster)
        _warm(engine)
        drawn: list[str] = []
        ids = engine.intake.ids
        engine.intake.ids = lambda p: drawn.append(p) or ids(p)  # type: ignore[method-assign]
        assert asyncio.run(engine.create_order_async(_order(), "k")) is None
        assert asyncio.run(engine.quote_async(_order())) is None
        assert drawn == [] and not cluster.awaits_writes
    finally:
        cluster.close()


def test_closing_the_pipe_closes_its_connection_and_a_later_call_opens_another(
    store: RedisStore,
) -> None:
    engine = _engine(store)
    _warm(engine)

    async def go() -> tuple[Order | None, Order | None]:
        first = await engine.create_order_async(_order(external_ref="a"))
        pipe = store.async_pipe()
        assert pipe is not None and pipe._writer is not None
        await store.close_async_pipe()
        assert pipe._writer is None and store.async_pipe() is not pipe
        return first, await engine.create_order_async(_order(external_ref="b"))

    first, second = asyncio.run(go())
    assert first is not None and second is not None
    assert {o.external_ref for o in engine.open_orders("c1")} >= {"a", "b"}
