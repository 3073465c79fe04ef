"""Ticks: who gets which work, and the rules a plan must keep."""

from __future__ import annotations

import dataclasses

from dispatch import Engine, EngineSettings, ManualClock
from dispatch import tick as tick_module
from dispatch.model import (
    JobState,
    OrderState,
    Priority,
    ServiceType,
    StopKind,
    WorkerKind,
    WorkerStatus,
)
from dispatch.requests import JobRequest, OrderRequest, WorkerSpec
from solver import NONE, check_routes, solve_regret_insertion
from tests.dispatch.conftest import AddWorker, offset

TECH = WorkerKind.TECHNICIAN


def test_plan_passes_the_independent_checker(engine: Engine, add_worker: AddWorker) -> None:
    """The problem a tick builds and the plan it commits agree with solver.checker."""
    for i in range(6):
        add_worker(f"w{i}", at=(i * 300.0 - 900, 200.0))
    for i in range(12):
        engine.create_order(
            OrderRequest("c1", offset(i * 150.0 - 800, -400), offset(600, i * 120.0 - 700))
        )
    community = engine.get_community("c1")
    now = engine.clock.now()
    tp = tick_module.build_problem(
        community,
        engine.store.list_workers("c1"),
        engine.store.list_open_orders("c1"),
        [],
        {},
        now,
        engine.settings,
        engine.matrices,
    )
    result = engine.policy.solve(tp, 0.3)
    report = check_routes(tp.problem, result)
    assert report.feasible, report.violations
    engine.tick("c1")
    for o in engine.open_orders("c1"):
        assert o.state == OrderState.ASSIGNED
        assert o.eta_pickup is not None and o.eta_dropoff is not None
        assert o.eta_pickup < o.eta_dropoff


def test_capacity_and_bundling_limit(engine: Engine, add_worker: AddWorker) -> None:
    """One courier of capacity 2 never holds more than 2 orders at once in its plan."""
    add_worker("w1", capacity=2)
    for _ in range(4):
        engine.create_order(OrderRequest("c1", offset(100, 0), offset(200, 0)))
    engine.tick("c1")
    load = peak = 0
    for stop in engine.route("w1"):
        load += 1 if stop.kind.value == "pickup" else -1
        peak = max(peak, load)
    assert peak <= 2


def test_on_board_orders_never_move(
    engine: Engine, add_worker: AddWorker, clock: ManualClock
) -> None:
    """After pickup an order stays with its courier even when another courier is far closer."""
    add_worker("w1", at=(0, 0))
    o = engine.create_order(OrderRequest("c1", offset(50, 0), offset(2500, 0)))
    engine.tick("c1")
    engine.order_event(o.id, "picked_up", "w1")
    add_worker("w2", at=(2490, 0))
    clock.advance(20)
    engine.tick("c1")
    assert engine.get_order(o.id).worker_id == "w1"
    assert engine.route("w1")[0].entity_id == o.id


def test_reassignment_before_pickup_and_never_two_workers(
    engine: Engine, add_worker: AddWorker, clock: ManualClock
) -> None:
    """When the assigned courier goes offline the order moves to another, held by exactly one."""
    add_worker("w1", at=(0, 0))
    add_worker("w2", at=(2000, 0))
    o = engine.create_order(OrderRequest("c1", offset(20, 0), offset(100, 0)))
    engine.tick("c1")
    assert engine.get_order(o.id).worker_id == "w1"
    engine.upsert_worker(WorkerSpec("w1", WorkerKind.COURIER, "c1", status=WorkerStatus.OFFLINE))
    engine.tick("c1")
    moved = engine.get_order(o.id)
    assert moved.worker_id == "w2" and moved.state == OrderState.ASSIGNED
    holders = [w for w in ("w1", "w2") if any(s.entity_id == o.id for s in engine.route(w))]
    assert holders == ["w2"]
    assert any(e.type == "order.reassigned" for e in engine.events())


def test_stale_workers_are_not_dispatched(
    engine: Engine, add_worker: AddWorker, clock: ManualClock
) -> None:
    """A courier silent for longer than the staleness limit gets no work."""
    add_worker("w1")
    clock.advance(engine.settings.location_staleness_s + 1)
    o = engine.create_order(OrderRequest("c1", offset(20, 0), offset(100, 0)))
    result = engine.tick("c1")
    assert result.unassigned == 1 and engine.get_order(o.id).state == OrderState.PENDING


def test_skills_and_rating_floor(engine: Engine, add_worker: AddWorker) -> None:
    """A plumbing job with a 4.5 floor goes to the qualified plumber, not the closer ones."""
    add_worker("near-cleaner", at=(0, 0), kind=TECH, skills=frozenset({"cleaning"}))
    add_worker("near-low", at=(10, 0), kind=TECH, skills=frozenset({"plumbing"}), rating=4.0)
    add_worker("far-plumber", at=(1500, 0), kind=TECH, skills=frozenset({"plumbing"}), rating=4.9)
    add_worker("courier", at=(0, 10))
    j = engine.create_job(
        JobRequest(
            "c1",
            offset(0, 0),
            frozenset({"plumbing"}),
            45,
            min_rating=4.5,
            service_type=ServiceType.PLUMBING,
        )
    )
    engine.tick("c1")
    assert engine.get_job(j.id).worker_id == "far-plumber"


def test_emergency_preempts_ordinary_job(engine: Engine, add_worker: AddWorker) -> None:
    """With one technician, the emergency is visited first even if the other job is nearer."""
    add_worker("t1", at=(0, 0), kind=TECH, skills=frozenset({"repair", "plumbing"}))
    normal = engine.create_job(JobRequest("c1", offset(100, 0), frozenset({"repair"}), 60))
    urgent = engine.create_job(
        JobRequest("c1", offset(-1500, 0), frozenset({"plumbing"}), 30, emergency=True)
    )
    engine.tick("c1")
    route = [s.entity_id for s in engine.route("t1")]
    assert route[0] == urgent.id and normal.id in route
    assert engine.get_job(urgent.id).state == JobState.ASSIGNED


def test_priority_tiers_weigh_lateness(engine: Engine, add_worker: AddWorker) -> None:
    """Two orders that cannot both be on time: the diamond member's goes first."""
    add_worker("w1", at=(0, 0), capacity=1)
    std = engine.create_order(OrderRequest("c1", offset(0, 1200), offset(0, 2800)))
    vip = engine.create_order(
        OrderRequest("c1", offset(0, -1200), offset(0, -2800), priority=Priority.DIAMOND)
    )
    engine.tick("c1")
    first = engine.route("w1")[0].entity_id
    assert first == vip.id and std.id in {s.entity_id for s in engine.route("w1")}


def test_lease_lets_one_dispatcher_tick(engine: Engine, clock: ManualClock) -> None:
    """A second owner is skipped while the lease lives and takes over once it expires."""
    assert not engine.tick("c1", owner="a").skipped
    assert engine.tick("c1", owner="b").skipped
    clock.advance(engine.settings.lease_ttl_s + 1)
    assert not engine.tick("c1", owner="b").skipped


def _with_settings(engine: Engine, **changes: object) -> Engine:
    """Another engine on the same store, clock and policy, with some settings changed."""
    return Engine(
        dataclasses.replace(engine.settings, **changes),  # type: ignore[arg-type]
        engine.store,
        engine.clock,
        policy=engine.policy,
        matrix_provider=engine.matrices,
    )


def _priced_problem(engine: Engine, settings: EngineSettings) -> tick_module.TickProblem:
    """The problem a tick of c1 would solve now, built with ``settings``."""
    return tick_module.build_problem(
        engine.get_community("c1"),
        engine.store.list_workers("c1"),
        engine.store.list_open_orders("c1"),
        [],
        {},
        engine.clock.now(),
        settings,
        engine.matrices,
    )


def test_dropoffs_keep_a_buffer_before_the_promise(engine: Engine, add_worker: AddWorker) -> None:
    """By default a dropoff pays per second past promise minus buffer (tier-weighted)."""
    add_worker("w1", at=(0, 0))
    std = engine.create_order(OrderRequest("c1", offset(0, 300), offset(0, 1500)))
    gold = engine.create_order(
        OrderRequest("c1", offset(300, 0), offset(1500, 0), priority=Priority.GOLD)
    )
    settings = engine.settings
    assert settings.promise_buffer_s == 600
    tp = _priced_problem(engine, settings)
    p = tp.problem
    assert p.soft_deadline is not None and p.lateness_weight is not None
    now = engine.clock.now()
    for order, tier in ((std, 1), (gold, 3)):
        drop = next(
            i
            for i, s in enumerate(tp.stops)
            if s.entity_id == order.id and s.kind == StopKind.DROPOFF
        )
        edge = int(order.promised_by - now) - settings.promise_buffer_s
        assert abs(int(p.soft_deadline[drop]) - edge) <= 1
        assert p.lateness_weight[drop] == settings.promise_cost_per_s * tier


def test_dropoffs_pay_a_fee_once_past_the_promise_itself(
    engine: Engine, add_worker: AddWorker
) -> None:
    """With ``promise_fee`` a dropoff planned past its promise (not the buffer's edge) pays
    the fee once, tier-weighted; pickups pay none, and neither does a day that prices
    every second to the door (no promise to keep)."""
    add_worker("w1", at=(0, 0))
    std = engine.create_order(OrderRequest("c1", offset(0, 300), offset(0, 1500)))
    gold = engine.create_order(
        OrderRequest("c1", offset(300, 0), offset(1500, 0), priority=Priority.GOLD)
    )
    settings = dataclasses.replace(engine.settings, promise_fee=20_000)
    tp = _priced_problem(engine, settings)
    p = tp.problem
    assert p.fee_deadline is not None and p.late_fee is not None
    now = engine.clock.now()
    for order, tier in ((std, 1), (gold, 3)):
        for i, s in enumerate(tp.stops):
            if s.entity_id != order.id:
                continue
            if s.kind == StopKind.DROPOFF:
                assert abs(int(p.fee_deadline[i]) - int(order.promised_by - now)) <= 1
                assert p.late_fee[i] == 20_000 * tier
            else:
                assert p.fee_deadline[i] == NONE and p.late_fee[i] == 0
    result = engine.policy.solve(tp, 0.3)
    report = check_routes(p, result)
    assert report.feasible and report.objective == result.objective
    for off in (
        dataclasses.replace(settings, promise_fee=0),
        dataclasses.replace(settings, promise_buffer_s=None),
    ):
        assert not _priced_problem(engine, off).problem.has_late_fees()


def test_the_buffer_keeps_a_bundle_from_making_an_order_on_board_late(
    engine: Engine, add_worker: AddWorker, clock: ManualClock
) -> None:
    """A courier carries an order with ten minutes left; a new order 300 m behind would be
    shorter to bundle first (and pricing time alone does), but that eats the buffer of the
    order on board, so with the buffer the courier delivers it first."""
    add_worker("w1", at=(0, 0))
    on_board = engine.create_order(OrderRequest("c1", offset(0, 10), offset(1500, 0)))
    engine.tick("c1")
    engine.order_event(on_board.id, "picked_up", "w1")
    clock.advance(900)
    add_worker("w1", at=(0, 0))  # a fresh position
    new = engine.create_order(OrderRequest("c1", offset(-300, 0), offset(-600, 0)))
    timed = dataclasses.replace(engine.settings, promise_buffer_s=None)
    tp = _priced_problem(engine, timed)
    by_time = solve_regret_insertion(tp.problem, initial_routes=tp.initial_routes)
    first_by_time = tp.stops[by_time.routes[0][0]]
    assert (first_by_time.kind, first_by_time.entity_id) == (StopKind.PICKUP, new.id)
    engine.tick("c1")
    route = [(s.kind, s.entity_id) for s in engine.route("w1")]
    assert route[0] == (StopKind.DROPOFF, on_board.id)
    assert set(route[1:]) == {
        (StopKind.PICKUP, new.id),
        (StopKind.DROPOFF, new.id),
    }


def test_every_second_to_the_door_is_priced(engine: Engine, add_worker: AddWorker) -> None:
    """Without a buffer, dropoffs cost time from now (tier-weighted); pickups carry the
    promise's last moment in both modes."""
    engine = _with_settings(engine, promise_buffer_s=None)
    add_worker("w1", at=(0, 0))
    std = engine.create_order(OrderRequest("c1", offset(0, 300), offset(0, 1500)))
    gold = engine.create_order(
        OrderRequest("c1", offset(300, 0), offset(1500, 0), priority=Priority.GOLD)
    )
    now = engine.clock.now()
    tp = tick_module.build_problem(
        engine.get_community("c1"),
        engine.store.list_workers("c1"),
        engine.store.list_open_orders("c1"),
        [],
        {},
        now,
        engine.settings,
        engine.matrices,
    )
    p = tp.problem
    assert p.soft_deadline is not None and p.lateness_weight is not None
    per_s = engine.settings.delivery_time_cost_per_s
    for order, tier in ((std, 1), (gold, 3)):
        pick, drop = (
            next(i for i, s in enumerate(tp.stops) if s.entity_id == order.id and s.kind == kind)
            for kind in (StopKind.PICKUP, StopKind.DROPOFF)
        )
        assert p.soft_deadline[drop] == 0
        assert p.lateness_weight[drop] == per_s * tier
        ride = int(p.travel_time[:, p.stop_location[pick], p.stop_location[drop]].min())
        latest = int(order.promised_by - now) - ride - engine.settings.pickup_service_s
        assert abs(int(p.soft_deadline[pick]) - latest) <= 1
        assert p.lateness_weight[pick] == engine.settings.promise_cost_per_s * tier


def test_higher_tier_on_board_goes_first_even_when_on_time(
    engine: Engine, add_worker: AddWorker, clock: ManualClock
) -> None:
    """Pricing time, not a buffer: both orders would be on time and the standard one is
    closer, yet the diamond one reaches its door first."""
    engine = _with_settings(engine, promise_buffer_s=None)
    add_worker("w1", at=(0, 0), capacity=2)
    std = engine.create_order(OrderRequest("c1", offset(0, 10), offset(500, 0)))
    vip = engine.create_order(
        OrderRequest("c1", offset(0, -10), offset(-600, 0), priority=Priority.DIAMOND)
    )
    engine.tick("c1")
    for o in (std, vip):
        engine.order_event(o.id, "picked_up", "w1")
    clock.advance(5)
    engine.tick("c1")
    route = [s.entity_id for s in engine.route("w1")]
    assert route == [vip.id, std.id]


def test_one_merchant_per_trip_when_the_community_says_so(
    engine: Engine, add_worker: AddWorker, clock: ManualClock
) -> None:
    """Two merchants side by side: bundling across them would be shortest, but with the
    rule on no courier picks up at one merchant while carrying the other's order."""
    from dispatch.requests import CommunitySpec
    from tests.dispatch.conftest import CENTER

    engine.upsert_community(
        CommunitySpec("c1", "Riverside", CENTER, solver_budget_s=0.3, single_merchant_trips=True)
    )
    add_worker("w1", at=(0, 0), capacity=3)
    add_worker("w2", at=(50, 0), capacity=3)
    a = [
        engine.create_order(OrderRequest("c1", offset(100, 0), offset(1500, 100 * i)))
        for i in range(2)
    ]
    b = [
        engine.create_order(OrderRequest("c1", offset(130, 0), offset(1600, 100 * i)))
        for i in range(2)
    ]
    merchant = {o.id: "A" for o in a} | {o.id: "B" for o in b}
    engine.tick("c1")
    picked = []
    for worker in ("w1", "w2"):
        on_board: set[str] = set()
        for stop in engine.route(worker):
            if stop.kind.value == "pickup":
                here = merchant[stop.entity_id]
                assert {merchant[o] for o in on_board} <= {here}, engine.route(worker)
                on_board.add(stop.entity_id)
                picked.append(stop.entity_id)
            else:
                on_board.discard(stop.entity_id)
    assert sorted(picked) == sorted(o.id for o in a + b)
