"""Engine behaviour: validation, locations, idempotency, lifecycle through the API of Engine."""

from __future__ import annotations

import math

import pytest

from dispatch import Conflict, Engine, InvalidInput, ManualClock, NotFound, OutsideGeofence
from dispatch.model import LatLng, OrderState, WorkerKind
from dispatch.requests import CommunitySpec, JobRequest, LocationUpdate, OrderRequest, WorkerSpec
from tests.dispatch.conftest import CENTER, AddWorker, offset


def order(
    pickup: tuple[float, float] = (100, 0), dropoff: tuple[float, float] = (900, 300), **kw: object
) -> OrderRequest:
    return OrderRequest("c1", offset(*pickup), offset(*dropoff), **kw)  # type: ignore[arg-type]


def test_community_cell_count_and_validation(engine: Engine) -> None:
    """A 3 km community covers a few hundred res-9 cells; bad specs are refused clearly."""
    c = engine.get_community("c1")
    assert 250 < c.cell_count < 500
    with pytest.raises(InvalidInput, match="latitude"):
        engine.upsert_community(CommunitySpec("c2", "x", LatLng(95.0, 0.0)))
    with pytest.raises(InvalidInput):
        engine.upsert_community(CommunitySpec("c2", "x", CENTER, radius_m=-1))
    with pytest.raises(NotFound):
        engine.get_community("nope")


def test_location_batch_keeps_good_items(engine: Engine, add_worker: AddWorker) -> None:
    """Unknown workers, bad coordinates, points outside the fence and skewed times are reported;
    the rest is stored."""
    add_worker("w1")
    add_worker("w2")
    now = engine.clock.now()
    inside = offset(500, 500)
    result = engine.update_locations(
        [
            LocationUpdate("w1", inside.lat, inside.lng),
            LocationUpdate("w2", 31.5, 121.9),
            LocationUpdate("ghost", inside.lat, inside.lng),
            LocationUpdate("w2", math.nan, 0.0),
            LocationUpdate("w2", inside.lat, inside.lng, ts=now + 3600),
        ]
    )
    assert result.accepted == 1
    assert [e[0] for e in result.errors] == [1, 2, 3, 4]
    assert "outside" in result.errors[0][2]
    assert engine.get_worker("w1").position == inside
    with pytest.raises(OutsideGeofence):
        engine.update_location(LocationUpdate("w1", 31.5, 121.9))
    with pytest.raises(NotFound):
        engine.update_location(LocationUpdate("ghost", inside.lat, inside.lng))


def test_older_fix_does_not_overwrite_newer(engine: Engine, add_worker: AddWorker) -> None:
    """A late-arriving older position is accepted but does not replace the newer one."""
    add_worker("w1", at=(0, 0))
    newer = engine.get_worker("w1").position
    p = offset(800, 0)
    engine.update_location(LocationUpdate("w1", p.lat, p.lng, ts=engine.clock.now() - 30))
    assert engine.get_worker("w1").position == newer


def test_order_outside_fence_and_bad_values(engine: Engine) -> None:
    """Pickups outside the community and silly sizes are refused before anything is stored."""
    with pytest.raises(OutsideGeofence):
        engine.create_order(order(pickup=(5000, 0)))
    with pytest.raises(InvalidInput):
        engine.create_order(order(size=0))
    assert engine.open_orders("c1") == []


def test_idempotency_replay_and_clash(engine: Engine) -> None:
    """Same key and body returns the first order; same key with another body is a Conflict."""
    first = engine.create_order(order(), idempotency_key="abc")
    again = engine.create_order(order(), idempotency_key="abc")
    assert again.id == first.id
    with pytest.raises(Conflict, match="different body"):
        engine.create_order(order(dropoff=(0, 900)), idempotency_key="abc")
    assert len(engine.open_orders("c1")) == 1
    other = engine.create_order(order(), idempotency_key="xyz")
    assert other.id != first.id


def test_price_is_locked_and_promise_set(engine: Engine, clock: ManualClock) -> None:
    """An order carries its quoted price and a promise 30 minutes after creation."""
    q = engine.quote(order())
    o = engine.create_order(order())
    assert o.price.total == q.total and o.price.rule_version == q.rule_version
    assert o.promised_by == pytest.approx(clock.now() + 1800)
    assert q.total == pytest.approx(q.base * q.multiplier, abs=0.01)
    assert set(q.explanation) >= {"cell", "demand", "supply", "ratio", "service", "rule_version"}


def test_full_order_lifecycle(engine: Engine, add_worker: AddWorker, clock: ManualClock) -> None:
    """pending → assigned (tick) → picked_up → delivered, each an event in sequence."""
    add_worker("w1", at=(50, 0))
    o = engine.create_order(order())
    result = engine.tick("c1")
    assert result.assigned == 1 and result.unassigned == 0
    o = engine.get_order(o.id)
    assert o.state == OrderState.ASSIGNED and o.worker_id == "w1"
    assert [s.kind.value for s in engine.route("w1")] == ["pickup", "dropoff"]
    with pytest.raises(Conflict):
        engine.order_event(o.id, "delivered", "w1")
    with pytest.raises(Conflict, match="not assigned"):
        add_worker("w2")
        engine.order_event(o.id, "picked_up", "w2")
    engine.order_event(o.id, "picked_up", "w1")
    assert [s.kind.value for s in engine.route("w1")] == ["dropoff"]
    clock.advance(300)
    delivered = engine.order_event(o.id, "delivered", "w1")
    assert delivered.state == OrderState.DELIVERED and engine.route("w1") == ()
    types = [e.type for e in engine.events(community_id="c1") if e.entity_id == o.id]
    assert types == ["order.created", "order.assigned", "order.picked_up", "order.delivered"]
    seqs = [e.seq for e in engine.events()]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)


def test_cancel_rules(engine: Engine, add_worker: AddWorker) -> None:
    """Cancelling is idempotent before pickup and a Conflict after it."""
    add_worker("w1")
    a = engine.create_order(order())
    assert engine.cancel_order(a.id).state == OrderState.CANCELLED
    assert engine.cancel_order(a.id).state == OrderState.CANCELLED
    b = engine.create_order(order())
    engine.tick("c1")
    engine.order_event(b.id, "picked_up", "w1")
    with pytest.raises(Conflict):
        engine.cancel_order(b.id)


def test_job_validation(engine: Engine) -> None:
    """Jobs need skills, a positive duration and a sane window."""
    with pytest.raises(InvalidInput):
        engine.create_job(JobRequest("c1", offset(0, 0), frozenset(), 60))
    with pytest.raises(InvalidInput):
        engine.create_job(JobRequest("c1", offset(0, 0), frozenset({"plumbing"}), -5))
    now = engine.clock.now()
    with pytest.raises(InvalidInput):
        engine.create_job(
            JobRequest("c1", offset(0, 0), frozenset({"plumbing"}), 60, now + 100, now + 50)
        )


def test_worker_validation(engine: Engine) -> None:
    """Unknown communities, impossible ratings and capacities are refused."""
    with pytest.raises(NotFound):
        engine.upsert_worker(WorkerSpec("w9", WorkerKind.COURIER, "nope"))
    with pytest.raises(InvalidInput):
        engine.upsert_worker(WorkerSpec("w9", WorkerKind.COURIER, "c1", rating=6.0))
    with pytest.raises(InvalidInput):
        engine.upsert_worker(WorkerSpec("w9", WorkerKind.COURIER, "c1", capacity=0))
