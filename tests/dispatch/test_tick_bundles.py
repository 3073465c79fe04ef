"""Bundles in a tick's problem: one hand-over per bundle, courier time on overloaded
ticks, bundles up to the courier's bag on overloaded ticks, and the couriers bound for
a merchant kept as its orders' candidates."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import numpy as np

import geo
from dispatch import EngineSettings
from dispatch.model import Community, LatLng, Order, OrderState, Price, StopKind, Worker, WorkerKind
from dispatch.tick import TickProblem, TickSnapshot, build_tick_problem
from solver import check_routes, evaluate, solve_regret_insertion
from tests.dispatch.conftest import CENTER, offset

NOW = 1_000_000.0
#: Every second to the door priced (the MDRP replay's mode), where courier time is priced.
TIMED = EngineSettings(promise_buffer_s=None, delivery_time_cost_per_s=30)
MATRICES = geo.HaversineMatrixProvider()
PRICE = Price(10.0, 1.0, 10.0, 1)
MERCHANT = offset(100, 0)


def _courier(wid: str, at: tuple[float, float], bag: int = 3) -> Worker:
    return Worker(
        wid, WorkerKind.COURIER, "c1", position=offset(*at), position_ts=NOW, capacity=bag
    )


def _order(oid: str, dropoff: LatLng, pickup: LatLng = MERCHANT, **fields: Any) -> Order:
    fields.setdefault("merchant_id", "m1")
    return Order(oid, "c1", pickup, dropoff, NOW - 60, NOW - 60, NOW + 1740, PRICE, **fields)


def _build(
    workers: Sequence[Worker],
    orders: Sequence[Order],
    settings: EngineSettings = TIMED,
    single_merchant_trips: bool = True,
) -> TickProblem:
    community = Community(
        id="c1", name="Riverside", center=CENTER, single_merchant_trips=single_merchant_trips
    )
    snap = TickSnapshot(community, None, tuple(workers), tuple(orders), (), NOW)
    return build_tick_problem(snap, settings, MATRICES)


def _stop(tp: TickProblem, kind: StopKind, oid: str) -> int:
    return next(i for i, s in enumerate(tp.stops) if s.kind == kind and s.entity_id == oid)


def _bundle_route(tp: TickProblem, *oids: str) -> list[list[int]]:
    """Every order on the first worker: all pickups, then all dropoffs."""
    route = [_stop(tp, StopKind.PICKUP, o) for o in oids]
    route += [_stop(tp, StopKind.DROPOFF, o) for o in oids]
    return [route] + [[] for _ in tp.workers[1:]]


def test_a_bundle_pays_one_handover_at_its_merchant() -> None:
    """Two orders from one counter: with one merchant per trip the second order reaches
    the door one pickup service sooner than when each pickup pays its own, and a single
    order still pays the hand-over."""
    orders = [_order("o1", offset(1500, 0)), _order("o2", offset(1500, 200))]
    bundled = _build([_courier("w1", (0, 0))], orders)
    apart = _build([_courier("w1", (0, 0))], orders, single_merchant_trips=False)
    arrivals = []
    for tp in (bundled, apart):
        result = evaluate(tp.problem, _bundle_route(tp, "o1", "o2"), backend="test")
        assert check_routes(tp.problem, result).feasible
        arrivals.append(result.start_times[0][2])  # o1's door
    assert arrivals[1] - arrivals[0] == TIMED.pickup_service_s
    single = [_order("o1", offset(1500, 0))]
    alone = []
    for rule in (True, False):
        tp = _build([_courier("w1", (0, 0))], single, single_merchant_trips=rule)
        result = evaluate(tp.problem, _bundle_route(tp, "o1"), backend="test")
        assert check_routes(tp.problem, result).feasible
        alone.append(result.start_times[0][1])
    assert alone[0] == alone[1]


def test_courier_time_is_priced_only_on_an_overloaded_tick() -> None:
    """More orders waiting than couriers: each riding second costs on top of the metres;
    with a courier per order, or with promise pricing, the arc cost is the metres alone."""
    doors = [offset(1500, 200 * i) for i in range(4)]
    over = _build([_courier("w1", (0, 0))], [_order(f"o{i}", d) for i, d in enumerate(doors)])
    calm_couriers = [_courier(f"w{i}", (0, 10 * i)) for i in range(4)]
    calm = _build(calm_couriers, [_order("o0", doors[0])])
    promise = _build(
        [_courier("w1", (0, 0))],
        [_order(f"o{i}", d) for i, d in enumerate(doors)],
        settings=EngineSettings(),
    )

    def arc(tp: TickProblem) -> tuple[int, int]:
        """o0's ride from its merchant to its door: cost and fastest time."""
        p = tp.problem
        assert p.travel_cost is not None and p.stop_location is not None
        a = int(p.stop_location[_stop(tp, StopKind.PICKUP, "o0")])
        b = int(p.stop_location[_stop(tp, StopKind.DROPOFF, "o0")])
        return int(p.travel_cost[a, b]), int(p.travel_time[:, a, b].min())

    metres, ride = arc(calm)
    assert metres > 0 and arc(promise)[0] == metres
    # the ride out of a merchant carries the bundle's hand-over; four orders for one
    # courier: a riding second costs the (capped) time price of an order's second
    assert ride > TIMED.pickup_service_s
    assert arc(over)[0] == metres + TIMED.delivery_time_cost_per_s * ride
    p = over.problem
    result = evaluate(p, _bundle_route(over, "o0", "o1", "o2"), backend="test")
    report = check_routes(p, result)
    assert report.feasible and result.dropped == (
        _stop(over, StopKind.PICKUP, "o3"),
        _stop(over, StopKind.DROPOFF, "o3"),
    )


def test_the_courier_bound_for_a_merchant_stays_a_candidate_for_its_orders() -> None:
    """Pruned to the nearest courier, a new order at a merchant may still go to the far
    courier already planned to pick up there, so the two can leave as one bundle."""
    near, far = _courier("near", (0, 0)), _courier("far", (0, 3000))
    planned = _order("o1", offset(1500, 0), state=OrderState.ASSIGNED, worker_id="far")
    new = _order("o2", offset(1500, 200))
    settings = dataclasses.replace(TIMED, candidates_per_order=1)
    tp = _build([near, far], [planned, new], settings=settings)
    allowed = tp.problem.allowed_vehicles
    assert allowed is not None
    far_k = next(k for k, w in enumerate(tp.workers) if w.id == "far")
    assert far_k in allowed[_stop(tp, StopKind.PICKUP, "o2")]
    elsewhere = _order("o3", offset(1500, 400), pickup=offset(-2000, 0), merchant_id="m2")
    tp2 = _build([near, far], [planned, elsewhere], settings=settings)
    assert tp2.problem.allowed_vehicles is not None
    assert far_k not in tp2.problem.allowed_vehicles[_stop(tp2, StopKind.PICKUP, "o3")]
    routes = [[] for _ in tp.workers]
    routes[far_k] = _bundle_route(tp, "o1", "o2")[0]
    result = evaluate(tp.problem, routes, backend="test")
    assert check_routes(tp.problem, result).feasible
    assert np.all(np.asarray(result.start_times[far_k]) >= 0)


def test_bundles_grow_to_the_bag_only_on_an_overloaded_tick() -> None:
    """A courier with a bag of 6 under a rule of 3 orders per trip: with five orders waiting
    for it the tick lets one trip carry all five (the checker accepts it, and regret
    insertion serves all five in one bundle); with promise pricing, or with a courier per
    order, the rule holds and a four-order bundle is over capacity."""
    doors = [offset(1500, 150 * i) for i in range(5)]
    orders = [_order(f"o{i}", d) for i, d in enumerate(doors)]
    over = _build([_courier("w1", (0, 0), bag=6)], orders)
    p = over.problem
    assert p.capacity is not None and int(p.capacity[0, 0]) == 6
    five = evaluate(p, _bundle_route(over, *(f"o{i}" for i in range(5))), backend="test")
    assert check_routes(p, five).feasible and not five.dropped
    solved = solve_regret_insertion(p)
    assert check_routes(p, solved).feasible and not solved.dropped
    kinds = [over.stops[s].kind for s in solved.routes[0]]
    assert kinds[:5] == [StopKind.PICKUP] * 5  # one trip: every pickup before a door
    calm = _build([_courier(f"w{i}", (0, 10 * i), bag=6) for i in range(5)], orders)
    promise = _build([_courier("w1", (0, 0), bag=6)], orders, settings=EngineSettings())
    for tp in (calm, promise):
        assert tp.problem.capacity is not None
        assert int(tp.problem.capacity.max()) == 3
    four = evaluate(
        promise.problem, _bundle_route(promise, *(f"o{i}" for i in range(4))), backend="test"
    )
    assert not check_routes(promise.problem, four).feasible


def test_a_calm_tick_keeps_room_for_a_bundle_already_on_board() -> None:
    """Four orders picked up on an overloaded tick stay deliverable on a calm one: the
    courier's room is what it carries (not the rule of 3), and delivering them all is a
    feasible plan by the checker."""
    carried = [
        _order(f"o{i}", offset(1500, 150 * i), state=OrderState.PICKED_UP, worker_id="w1")
        for i in range(4)
    ]
    couriers = [_courier("w1", (100, 0), bag=6), _courier("w2", (0, 0), bag=6)]
    tp = _build(couriers, carried)
    p = tp.problem
    assert p.capacity is not None and p.vehicle_initial_load is not None
    assert int(p.capacity[0, 0]) == 4 and int(p.vehicle_initial_load[0, 0]) == 4
    assert int(p.capacity[1, 0]) == 3
    routes = [[_stop(tp, StopKind.DROPOFF, o.id) for o in carried], []]
    result = evaluate(p, routes, backend="test")
    assert check_routes(p, result).feasible and not result.dropped
