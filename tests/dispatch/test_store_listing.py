"""Listing and history guarantees of dispatch.store.base, on every back-end."""

from __future__ import annotations

import dataclasses

import pytest

from dispatch.errors import Conflict
from dispatch.listing import ListQuery, list_work
from dispatch.model import LatLng, Order, OrderState, Price
from dispatch.store.base import IdempotencyRecord, NewEvent, Store, time_key

P = LatLng(31.23, 121.47)
PRICE = Price(10.0, 1.2, 12.0, 1)


def _order(oid: str, created: float, cid: str = "c1", **kw: object) -> Order:
    return Order(oid, cid, P, P, created, created, created + 1800, PRICE, **kw)  # type: ignore[arg-type]


def test_time_keys_sort_by_creation_then_id() -> None:
    keys = [time_key(5.0, "b"), time_key(5.0, "a"), time_key(40.5, "a"), time_key(0.0, "z")]
    assert sorted(keys) == [keys[3], keys[1], keys[0], keys[2]]
    assert time_key(-3.0, "x") < time_key(0.000001, "x")  # clamped, never malformed


def test_scans_walk_a_community_and_all_of_them_in_key_order(store: Store) -> None:
    """Per community and across communities, keys strictly after ``after``."""
    for oid, t, cid in [("o3", 30.0, "c1"), ("o1", 10.0, "c1"), ("o2", 20.0, "c2")]:
        store.write(cid, orders=[_order(oid, t, cid)], expect={oid: 0})
    everywhere = [k for k, _ in store.scan_orders(None, "", 10)]
    assert everywhere == [time_key(10.0, "o1"), time_key(20.0, "o2"), time_key(30.0, "o3")]
    here = store.scan_orders("c1", time_key(10.0, "o1"), 10)
    assert [(k, o.id if o else None) for k, o in here] == [(time_key(30.0, "o3"), "o3")]
    assert store.scan_orders("c1", "", 1)[0][1] == _order("o1", 10.0)
    assert store.scan_jobs("c1", "", 10) == []


def test_an_update_keeps_one_listing_entry(store: Store) -> None:
    o = _order("o1", 10.0)
    store.write("c1", orders=[o], expect={"o1": 0})
    moved = dataclasses.replace(o, state=OrderState.CANCELLED, version=2)
    store.write("c1", orders=[moved], expect={"o1": 1})
    assert [rec for _, rec in store.scan_orders("c1", "", 10)] == [moved]


def test_a_failed_write_leaves_no_listed_record(store: Store) -> None:
    """A create that loses its idempotency race lists nothing readable, and the listing
    still reaches the orders after it."""
    idem = IdempotencyRecord("order", "k", "h", "o1", 1e12)
    store.write("c1", orders=[_order("o1", 10.0)], expect={"o1": 0}, idempotency=idem)
    twin = IdempotencyRecord("order", "k", "h", "o2", 1e12)
    with pytest.raises(Conflict):
        store.write("c1", orders=[_order("o2", 20.0)], expect={"o2": 0}, idempotency=twin)
    store.write("c1", orders=[_order("o3", 30.0)], expect={"o3": 0})
    page = list_work(store, ListQuery("order", "c1", limit=10))
    assert [o.id for o in page.items] == ["o1", "o3"] and page.next_cursor is None


def test_history_keeps_an_orders_own_events_with_their_seqs(store: Store) -> None:
    o = _order("o1", 10.0)
    other = _order("o2", 10.0)
    ev = lambda kind, oid: NewEvent(10.0, "c1", kind, oid, {"n": kind})  # noqa: E731
    store.write(
        "c1",
        orders=[o, other],
        events=[ev("order.created", "o1"), ev("order.created", "o2")],
        expect={"o1": 0, "o2": 0},
    )
    store.append_events([NewEvent(11.0, "c1", "community.upserted", "c1", {})])
    moved = dataclasses.replace(o, state=OrderState.ASSIGNED, worker_id="w1", version=2)
    written = store.write(
        "c1", orders=[moved], events=[ev("order.assigned", "o1")], expect={"o1": 1}
    )
    history = store.entity_history("o1")
    assert [e.type for e in history] == ["order.created", "order.assigned"]
    assert history[-1].seq == written[0].seq and history[-1].data == {"n": "order.assigned"}
    feed = {e.seq: e for e in store.events_after(0)}
    assert all(feed[e.seq] == e for e in history)
    assert store.entity_history("nobody") == []
