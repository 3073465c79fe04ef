"""Lifecycle: retiring workers and communities, busy status, arrivals and proof of delivery."""

from __future__ import annotations

import dataclasses

import pytest

from dispatch import Engine, ManualClock
from dispatch.errors import Conflict, HoldsOpenWork, InvalidInput, Retired
from dispatch.model import JobState, OrderState, WorkerKind, WorkerStatus
from dispatch.requests import (
    CommunitySpec,
    JobRequest,
    LocationUpdate,
    OrderRequest,
    WorkerSpec,
)
from dispatch.store.base import PositionState
from tests.dispatch.conftest import AddWorker, offset


def _order() -> OrderRequest:
    return OrderRequest("c1", offset(100, 0), offset(900, 300))


def _assigned(engine: Engine, add_worker: AddWorker) -> str:
    """Courier w1 carries one assigned order; its id."""
    add_worker("w1", at=(50, 0))
    o = engine.create_order(_order())
    assert engine.tick("c1").assigned == 1
    return o.id


def _types(engine: Engine, entity_id: str) -> list[str]:
    return [e.type for e in engine.events(community_id="c1") if e.entity_id == entity_id]


def test_a_worker_shows_busy_while_it_carries_work(engine: Engine, add_worker: AddWorker) -> None:
    """available → busy once assigned, available again after the delivery."""
    add_worker("w2", at=(2000, 0))
    assert engine.get_worker("w2").status == WorkerStatus.AVAILABLE
    oid = _assigned(engine, add_worker)
    assert engine.get_worker("w1").status == WorkerStatus.BUSY
    shown = {w.id: w.status for w in engine.list_workers("c1")}
    assert shown == {"w1": WorkerStatus.BUSY, "w2": WorkerStatus.AVAILABLE}
    engine.order_event(oid, "picked_up", "w1")
    assert engine.get_worker("w1").status == WorkerStatus.BUSY
    engine.order_event(oid, "delivered", "w1")
    assert engine.get_worker("w1").status == WorkerStatus.AVAILABLE


def test_a_worker_with_open_work_cannot_retire_until_it_is_done(
    engine: Engine, add_worker: AddWorker
) -> None:
    """409 while it carries an order; afterwards retired, once, with one event."""
    oid = _assigned(engine, add_worker)
    with pytest.raises(HoldsOpenWork, match="1 open"):
        engine.retire_worker("w1")
    assert engine.get_worker("w1").status == WorkerStatus.BUSY
    engine.order_event(oid, "picked_up", "w1")
    engine.order_event(oid, "delivered", "w1")
    retired = engine.retire_worker("w1")
    assert retired.status == WorkerStatus.RETIRED
    assert engine.retire_worker("w1") == retired
    assert engine.get_worker("w1").status == WorkerStatus.RETIRED
    assert _types(engine, "w1").count("worker.retired") == 1


def test_a_retired_worker_gets_no_work_and_no_positions(
    engine: Engine, add_worker: AddWorker
) -> None:
    """No dispatch, no supply, positions refused, no update, no reported 'retired'."""
    add_worker("w1", at=(50, 0))
    engine.retire_worker("w1")
    o = engine.create_order(_order())
    assert engine.tick("c1").assigned == 0
    assert engine.get_order(o.id).state == OrderState.PENDING
    here = offset(60, 0)
    with pytest.raises(Retired, match="w1 is retired"):
        engine.update_location(LocationUpdate("w1", here.lat, here.lng))
    batch = engine.update_locations([LocationUpdate("w1", here.lat, here.lng)])
    assert batch.accepted == 0 and "retired" in batch.errors[0][2]
    with pytest.raises(Retired):
        engine.upsert_worker(WorkerSpec("w1", WorkerKind.COURIER, "c1"))
    with pytest.raises(InvalidInput, match="retired"):
        engine.upsert_worker(
            WorkerSpec("w9", WorkerKind.COURIER, "c1", status=WorkerStatus.RETIRED)
        )
    add_worker("w2", at=(70, 0))
    with pytest.raises(InvalidInput, match="retired"):
        engine.update_location(
            LocationUpdate("w2", here.lat, here.lng, status=WorkerStatus.RETIRED)
        )
    supply = engine.demand_supply("c1")[1]
    assert sum(supply.values()) == pytest.approx(1.0)  # w2 only


def test_a_position_written_in_a_race_does_not_bring_a_retired_worker_back(
    engine: Engine, add_worker: AddWorker
) -> None:
    """A position read before the retirement and written after it keeps the worker retired."""
    add_worker("w1", at=(50, 0))
    before = engine.store.get_positions(["w1"])[0]
    assert before is not None
    engine.retire_worker("w1")
    engine.store.put_positions([PositionState(**{**before.__dict__, "status": "available"})])
    assert engine.get_worker("w1").status == WorkerStatus.RETIRED
    assert [w.status for w in engine.list_workers("c1")] == [WorkerStatus.RETIRED]


def test_a_community_retires_only_without_open_work_or_active_workers(
    engine: Engine, add_worker: AddWorker, clock: ManualClock
) -> None:
    """409 for an open order, then for an active worker; then retired and closed to new work."""
    oid = _assigned(engine, add_worker)
    with pytest.raises(HoldsOpenWork, match="1 open order"):
        engine.retire_community("c1")
    engine.order_event(oid, "picked_up", "w1")
    engine.order_event(oid, "delivered", "w1")
    with pytest.raises(HoldsOpenWork, match=r"active worker.*w1"):
        engine.retire_community("c1")
    engine.retire_worker("w1")
    clock.advance(5)
    c = engine.retire_community("c1")
    assert c.retired_at == clock.now() and engine.get_community("c1").retired_at == c.retired_at
    assert engine.retire_community("c1") == c
    assert _types(engine, "c1").count("community.retired") == 1
    job = JobRequest("c1", offset(300, 0), frozenset({"plumbing"}), 45.0)
    for call in (
        lambda: engine.quote(_order()),
        lambda: engine.create_order(_order()),
        lambda: engine.create_job(job),
        lambda: engine.upsert_worker(WorkerSpec("w5", WorkerKind.COURIER, "c1")),
        lambda: engine.upsert_community(CommunitySpec("c1", "Riverside", offset(0, 0))),
    ):
        with pytest.raises(Retired, match="c1 is retired"):
            call()
    assert engine.get_order(oid).state == OrderState.DELIVERED  # history stays readable


def test_open_jobs_also_keep_a_community_and_a_technician_from_retiring(
    engine: Engine, add_worker: AddWorker
) -> None:
    """A booked job is open work for the technician and the community."""
    add_worker("t1", kind=WorkerKind.TECHNICIAN, skills=frozenset({"plumbing"}), capacity=0)
    job = engine.create_job(JobRequest("c1", offset(300, 0), frozenset({"plumbing"}), 45.0))
    engine.tick("c1")
    assert engine.get_job(job.id).state == JobState.ASSIGNED
    assert engine.get_worker("t1").status == WorkerStatus.BUSY
    with pytest.raises(HoldsOpenWork):
        engine.retire_worker("t1")
    with pytest.raises(HoldsOpenWork, match="1 open job"):
        engine.retire_community("c1")


def test_arrivals_stamp_the_order_once_and_announce_it(
    engine: Engine, add_worker: AddWorker, clock: ManualClock
) -> None:
    """arrived_at_pickup while assigned, arrived_at_dropoff while picked up; repeats are no-ops."""
    oid = _assigned(engine, add_worker)
    with pytest.raises(Conflict, match="reported while it is picked_up"):
        engine.order_event(oid, "arrived_at_dropoff", "w1")
    clock.advance(60)
    at_shop = engine.order_event(oid, "arrived_at_pickup", "w1")
    assert at_shop.arrived_pickup_at == clock.now() and at_shop.state == OrderState.ASSIGNED
    clock.advance(5)
    assert engine.order_event(oid, "arrived_at_pickup", "w1") == at_shop
    engine.order_event(oid, "picked_up", "w1")
    with pytest.raises(Conflict):
        engine.order_event(oid, "arrived_at_pickup", "w1")
    clock.advance(300)
    at_door = engine.order_event(oid, "arrived_at_dropoff", "w1")
    assert at_door.arrived_dropoff_at == clock.now()
    assert _types(engine, oid) == [
        "order.created",
        "order.assigned",
        "order.arrived_at_pickup",
        "order.picked_up",
        "order.arrived_at_dropoff",
    ]


def test_a_delivery_carries_its_proof_reference(engine: Engine, add_worker: AddWorker) -> None:
    """proof_ref is kept on the order and in order.delivered; only with a delivery."""
    oid = _assigned(engine, add_worker)
    with pytest.raises(InvalidInput, match="delivered report only"):
        engine.order_event(oid, "picked_up", "w1", proof_ref="photo-1")
    engine.order_event(oid, "picked_up", "w1")
    with pytest.raises(InvalidInput, match="1-256"):
        engine.order_event(oid, "delivered", "w1", proof_ref="x" * 257)
    with pytest.raises(InvalidInput, match="printable"):
        engine.order_event(oid, "delivered", "w1", proof_ref="a\nb")
    done = engine.order_event(oid, "delivered", "w1", proof_ref="s3://pod/o1.jpg")
    assert done.proof_ref == "s3://pod/o1.jpg" == engine.get_order(oid).proof_ref
    delivered = [e for e in engine.events(community_id="c1") if e.type == "order.delivered"]
    assert delivered[-1].data["proof_ref"] == "s3://pod/o1.jpg"


def test_work_assigned_in_a_race_with_retiring_moves_on_at_the_next_tick(
    engine: Engine, add_worker: AddWorker
) -> None:
    """A tick that read the worker before it retired may assign it work; the next tick
    moves that work to a worker still serving."""
    oid = _assigned(engine, add_worker)
    w1 = engine.store.get_worker("w1")
    assert w1 is not None
    engine.store.put_worker(dataclasses.replace(w1, status=WorkerStatus.RETIRED))  # the race
    add_worker("w2", at=(80, 0))
    engine.tick("c1")
    moved = engine.get_order(oid)
    assert moved.state == OrderState.ASSIGNED and moved.worker_id == "w2"
    assert engine.route("w1") == ()
