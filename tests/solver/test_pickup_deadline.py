"""Per-vehicle pickup deadlines: problem rules, checker, every planner, VROOM declines."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from solver._ortools_routing import solve_ortools
from solver._vroom_construct import construct_vroom
from solver.checker import check_routes, schedule
from solver.lns import LnsParams, solve_lns
from solver.problem import HORIZON_MAX, NONE, InvalidProblem, RoutingProblem
from solver.regret_insertion import solve_regret_insertion
from solver.routing import RoutingParams, solve_routing
from solver.specs import SearchSpec
from tests.solver.factories import line_problem, routing_problems

INLINE = RoutingParams(isolate=False, use_vroom=False)


def _pair_on_line(**fields: Any) -> RoutingProblem:
    """One order: pickup at 10, delivery at 20, open route from 0."""
    return line_problem([10, 20], open_routes=True, pairs=[[0, 1]], demand=[1, -1], **fields)


def _shifts(seed: int, *, deadlines: bool = True) -> RoutingProblem:
    """Orders ready over two hours, couriers whose shifts end at staggered times.

    With ``deadlines`` a courier may pick up until its shift end and deliver up to
    40 minutes after; without, the shift end bounds the whole route (the old rule).
    """
    rng = np.random.default_rng(seed)
    couriers, orders = 4, 14
    points = np.vstack(
        [
            rng.uniform(0, 4000, (couriers, 2)),
            rng.uniform(1000, 3000, (orders, 2)),
            rng.uniform(0, 4000, (orders, 2)),
        ]
    )
    diff = points[:, None, :] - points[None, :, :]
    travel = np.ceil(np.hypot(diff[..., 0], diff[..., 1]) / 5).astype(np.int64)  # 5 m/s
    pick_loc = couriers + np.arange(orders)
    drop_loc = couriers + orders + np.arange(orders)
    loc = np.empty(2 * orders, dtype=np.int64)
    loc[0::2], loc[1::2] = pick_loc, drop_loc
    ready = np.sort(rng.integers(0, 7200, orders))
    tw_start = np.zeros(2 * orders, dtype=np.int64)
    tw_start[0::2] = ready
    shift_end = np.array([1800, 3600, 5400, 7200])
    fields: dict[str, Any] = {}
    if deadlines:
        fields = {"vehicle_pickup_end": shift_end, "vehicle_end_time": shift_end + 2400}
    else:
        fields = {"vehicle_end_time": shift_end}
    return RoutingProblem(
        travel_time=travel,
        stop_location=loc,
        vehicle_start=np.arange(couriers),
        pairs=np.arange(2 * orders).reshape(-1, 2),
        demand=np.tile([1, -1], orders),
        capacity=np.full((couriers, 1), 2),
        service_time=np.full(2 * orders, 240),
        tw_start=tw_start,
        soft_deadline=np.tile([NONE, 0], orders) + np.repeat(ready, 2) * np.tile([0, 1], orders),
        lateness_weight=np.tile([0, 1], orders),
        drop_penalty=np.full(2 * orders, 50_000),
        **fields,
    )


def _late_pickups(problem: RoutingProblem, routes: tuple[tuple[int, ...], ...]) -> int:
    """Pickups that start after their vehicle's pickup deadline (here: its shift end)."""
    assert problem.vehicle_end_time is not None
    picks = set(problem.pairs[:, 0].tolist())  # type: ignore[index]
    late = 0
    for v, route in enumerate(routes):
        for s, t in zip(route, schedule(problem, v, route), strict=True):
            late += s in picks and t > [1800, 3600, 5400, 7200][v]
    return late


def _after_deadline_deliveries(problem: RoutingProblem, routes: tuple[tuple[int, ...], ...]) -> int:
    """Deliveries served after their vehicle's pickup deadline (the relaxed end in use)."""
    assert problem.vehicle_pickup_end is not None
    picks = set(problem.pairs[:, 0].tolist())  # type: ignore[index]
    return sum(
        s not in picks and t > problem.vehicle_pickup_end[v]
        for v, route in enumerate(routes)
        for s, t in zip(route, schedule(problem, v, route), strict=True)
    )


# ---- problem and checker ------------------------------------------------------------------


def test_default_is_no_deadline_and_bad_values_are_refused() -> None:
    """No deadline unless given; a negative or past-horizon deadline is invalid."""
    p = _pair_on_line()
    assert p.vehicle_pickup_end is not None and p.vehicle_pickup_end[0] == HORIZON_MAX
    assert not p.has_pickup_deadlines()
    assert p.latest_starts(0) is p.tw_end
    with pytest.raises(InvalidProblem):
        _pair_on_line(vehicle_pickup_end=[-1])
    with pytest.raises(InvalidProblem):
        _pair_on_line(vehicle_pickup_end=[HORIZON_MAX + 1])
    with pytest.raises(InvalidProblem):
        _pair_on_line(vehicle_pickup_end=[5, 5])


def test_latest_starts_cut_only_pickups() -> None:
    """A pickup's latest start is min(window end, deadline); a delivery keeps its window."""
    p = _pair_on_line(vehicle_pickup_end=[7], tw_end=[50, 30])
    assert p.latest_starts(0).tolist() == [7, 30]


def test_checker_refuses_a_pickup_after_the_deadline() -> None:
    """Pickup at 10 with a deadline of 9 is a violation naming the deadline; 10 is fine."""
    report = check_routes(_pair_on_line(vehicle_pickup_end=[9]), [[0, 1]])
    assert not report.feasible
    assert any("pickup deadline 9" in v for v in report.violations)
    assert check_routes(_pair_on_line(vehicle_pickup_end=[10]), [[0, 1]]).feasible


def test_checker_accepts_a_delivery_after_the_deadline() -> None:
    """The delivery at 20 may follow a deadline of 10 while the shift end (20) holds."""
    p = _pair_on_line(vehicle_pickup_end=[10], vehicle_end_time=[20])
    assert check_routes(p, [[0, 1]]).feasible
    assert not check_routes(p.replace(vehicle_end_time=[19]), [[0, 1]]).feasible


def test_the_deadline_is_the_vehicles_own() -> None:
    """Two vehicles: the pickup fits the later deadline only."""
    p = line_problem(
        [10, 20],
        vehicles=2,
        open_routes=True,
        pairs=[[0, 1]],
        demand=[1, -1],
        vehicle_pickup_end=[5, 10],
    )
    assert not check_routes(p, [[0, 1], []]).feasible
    assert check_routes(p, [[], [0, 1]]).feasible


# ---- planners --------------------------------------------------------------------------------


def test_the_old_rule_loses_orders_the_deadline_serves() -> None:
    """The deadline binds on the shifts instance, and relaxing the route end pays.

    Regret insertion under the old rule (shift end bounds the route) serves fewer
    orders than under pickup deadlines, whose plan delivers after some deadline
    and never picks up after one.
    """
    old = solve_regret_insertion(_shifts(3, deadlines=False))
    new_p = _shifts(3)
    new = solve_regret_insertion(new_p)
    assert check_routes(new_p, new).feasible
    assert len(new.dropped) < len(old.dropped)
    assert _after_deadline_deliveries(new_p, new.routes) > 0
    assert _late_pickups(new_p, new.routes) == 0
    # ignoring the deadline would pick up late: it binds
    free = solve_regret_insertion(new_p.replace(vehicle_pickup_end=None))
    assert _late_pickups(new_p, free.routes) > 0


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_regret_insertion_plans_pass_the_checker(seed: int) -> None:
    """Regret insertion with and without a warm start that breaks deadlines."""
    p = _shifts(seed)
    res = solve_regret_insertion(p)
    assert check_routes(p, res).feasible, check_routes(p, res).violations
    loose = solve_regret_insertion(p.replace(vehicle_pickup_end=None))
    warm = solve_regret_insertion(p, initial_routes=loose.routes)
    assert check_routes(p, warm).feasible, check_routes(p, warm).violations


@pytest.mark.parametrize("seed", [0, 1])
def test_lns_plans_pass_the_checker(seed: int) -> None:
    """Our LNS keeps every deadline while it moves orders between couriers."""
    p = _shifts(seed)
    start = solve_regret_insertion(p)
    run = solve_lns(p, start, 30.0, params=LnsParams(seed=seed, max_iterations=300, patience=None))
    assert run.iterations == 300
    report = check_routes(p, run.result)
    assert report.feasible, report.violations
    assert run.result.objective <= start.objective


def test_ortools_keeps_the_deadline_exactly() -> None:
    """An optional pickup ready at 30 is dropped under a deadline of 20, served under 30."""
    base = line_problem(
        [10, 20],
        open_routes=True,
        pairs=[[0, 1]],
        demand=[1, -1],
        tw_start=[30, 0],
        drop_penalty=[500, 500],
    )
    spec = SearchSpec(method="greedy_descent")
    out = solve_ortools(base.replace(vehicle_pickup_end=[20]), 2.0, spec)
    assert out.routes == [[]]
    out = solve_ortools(base.replace(vehicle_pickup_end=[30]), 2.0, spec)
    assert out.routes == [[0, 1]]


@pytest.mark.parametrize("seed", [0, 1])
def test_ortools_plans_pass_the_checker(seed: int) -> None:
    """OR-Tools alone (its own first solution, then GLS) and through solve_routing."""
    p = _shifts(seed)
    out = solve_ortools(p, 1.0, SearchSpec(method="gls"))
    assert out.routes is not None
    assert check_routes(p, out.routes).feasible, check_routes(p, out.routes).violations
    res = solve_routing(p, 1.0, params=INLINE)
    assert check_routes(p, res).feasible, check_routes(p, res).violations
    assert _after_deadline_deliveries(p, res.routes) > 0


def test_vroom_declines_problems_with_deadlines() -> None:
    """VROOM cannot express a per-vehicle pickup deadline, so it builds nothing."""
    p = _shifts(0).replace(soft_deadline=None, lateness_weight=None)
    assert construct_vroom(p.replace(vehicle_pickup_end=None), 1.0) is not None
    assert construct_vroom(p, 1.0) is None


@settings(max_examples=60, deadline=None)
@given(routing_problems(), st.integers(0, 2**32 - 1))
def test_random_deadlines_give_checked_plans(problem: RoutingProblem, seed: int) -> None:
    """Random problems with random pickup deadlines: feasible regret and LNS plans check."""
    assert problem.vehicle_end_time is not None
    rng = np.random.default_rng(seed)
    ends = rng.integers(0, problem.vehicle_end_time + 1)
    p = problem.replace(vehicle_pickup_end=ends)
    res = solve_regret_insertion(p)
    if res.has_plan and res.status.name == "FEASIBLE":
        assert check_routes(p, res).feasible, check_routes(p, res).violations
        run = solve_lns(p, res, 10.0, params=LnsParams(seed=seed, max_iterations=30))
        assert check_routes(p, run.result).feasible
