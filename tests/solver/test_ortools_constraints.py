"""One OR-Tools search honours every constraint; each plan is verified by the checker.

Searches run in-process through ``solver.portfolio.run_task``, the body every
portfolio member runs. Without a start, local search uses the plain spec so that
OR-Tools builds its own first plan (no regret-insertion start): the model's
constraints alone shape what it finds.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np
import pytest

from solver.checker import CheckReport, check_routes
from solver.objective import evaluate
from solver.portfolio import run_task
from solver.problem import NONE, RoutingProblem
from solver.regret_insertion import solve_regret_insertion
from solver.result import RoutingResult, SolveStatus
from solver.specs import SearchSpec, Task
from tests.solver.factories import line_problem

METHODS = ["gls", "ils"]


def solve(
    problem: RoutingProblem,
    method: str = "gls",
    limit: float = 0.3,
    start: Sequence[Sequence[int]] | None = None,
) -> tuple[RoutingResult, CheckReport]:
    """Run one OR-Tools search and check the last plan it reports independently."""
    plain = method != "ils" and start is None
    task = Task(method, SearchSpec(method=method, temperature=10.0, plain=plain))
    plans: list[list[list[int]]] = []
    note = run_task(
        problem, task, time.perf_counter() + limit, start, lambda routes, _: plans.append(routes)
    )
    assert plans, note
    result = evaluate(
        problem, plans[-1], status=SolveStatus.FEASIBLE, solve_time_s=0.0, backend="ortools"
    )
    report = check_routes(problem, result)
    assert report.feasible, report.violations
    assert report.objective == result.objective
    return result, report


@pytest.mark.parametrize("method", METHODS)
def test_time_windows_force_the_order(method: str) -> None:
    """A far stop with an early window is served before a near stop with a late one."""
    p = line_problem([2, 10], tw_start=[50, 0], tw_end=[60, 15])
    r, _ = solve(p, method)
    assert r.routes[0] == (1, 0)


def test_capacity_and_initial_load_split_the_work() -> None:
    """With 2 units on board and capacity 3, two pickups of 1 cannot share vehicle 0."""
    p = line_problem(
        [5, 6],
        vehicles=2,
        demand=[1, 1],
        capacity=[[3], [3]],
        vehicle_initial_load=[[2], [0]],
    )
    r, _ = solve(p)
    assert len(r.routes[0]) <= 1 and not r.dropped


@pytest.mark.parametrize("method", METHODS)
def test_pairs_ride_one_vehicle_pickup_first(method: str) -> None:
    """A pickup-delivery pair rides one vehicle, pickup before delivery, even when backwards."""
    p = line_problem([8, 3], vehicles=2, demand=[1, -1], pairs=[[0, 1]], capacity=[[1], [1]])
    r, _ = solve(p, method)
    route = next(route for route in r.routes if route)
    assert route == (0, 1)


def test_skills_restrict_vehicles() -> None:
    """A stop only vehicle 1 may serve goes there even when vehicle 0 is closer."""
    p = line_problem(
        [4, 4],
        vehicles=2,
        allowed_vehicles=(frozenset({1}), None),
        vehicle_fixed_cost=[0, 50],
    )
    r, _ = solve(p)
    assert 0 in r.routes[1]


def test_committed_stop_stays_on_its_vehicle() -> None:
    """An on-board delivery committed to vehicle 0 stays there although vehicle 1 is free."""
    p = line_problem(
        [9, 1],
        vehicles=2,
        demand=[-1, 0],
        committed_vehicle=[0, NONE],
        vehicle_initial_load=[[1], [0]],
        capacity=[[3], [3]],
        vehicle_fixed_cost=[100, 0],
    )
    r, _ = solve(p)
    assert 0 in r.routes[0]


@pytest.mark.parametrize("method", METHODS)
def test_overload_drops_optional_work(method: str) -> None:
    """Three pickups of 1 for one vehicle of capacity 2: the dearest two stay, one is dropped."""
    p = line_problem([1, 2, 3], demand=[1, 1, 1], capacity=[[2]], drop_penalty=[1000, 50, 1000])
    r, _ = solve(p, method)
    assert r.dropped == (1,)


def test_soft_deadlines_reduce_lateness() -> None:
    """Weighted soft deadlines send the urgent far stop first and cut lateness."""
    plain = line_problem([10, 30], open_routes=True, service_time=[20, 0])
    urgent = plain.replace(soft_deadline=[NONE, 25], lateness_weight=[0, 100])
    ignoring = evaluate(
        urgent, solve(plain)[0].routes, status=SolveStatus.FEASIBLE, solve_time_s=0, backend=""
    )
    r, _ = solve(urgent)
    assert ignoring.lateness == 25
    assert r.routes[0] == (1, 0)
    assert r.lateness == 5


def test_open_routes_do_not_pay_the_way_back() -> None:
    """An open route's cost excludes the return leg a closed route pays."""
    closed, _ = solve(line_problem([10]))
    opened, _ = solve(line_problem([10], open_routes=True))
    assert closed.travel_cost == 20 and opened.travel_cost == 10


def test_open_route_shift_end_bounds_the_last_departure() -> None:
    """Open route: a stop whose service would end after the shift is dropped."""
    p = line_problem(
        [10], open_routes=True, service_time=[5], vehicle_end_time=[14], drop_penalty=[99]
    )
    r, _ = solve(p)
    assert r.dropped == (0,)


def test_shift_end_limits_the_route() -> None:
    """A stop beyond a closed route's shift end is dropped rather than served late."""
    p = line_problem([50], vehicle_end_time=[60], drop_penalty=[10_000])
    r, _ = solve(p)
    assert r.dropped == (0,)


def test_travel_profiles_per_vehicle() -> None:
    """A tight window is reachable only by the fast vehicle (profile 1)."""
    slow = np.abs(np.arange(3)[:, None] - np.arange(3)[None, :]) * 10
    p = RoutingProblem(
        travel_time=np.stack([slow, slow // 5]),
        travel_cost=slow,
        stop_location=[2],
        vehicle_start=[0, 0],
        vehicle_profile=[0, 1],
        tw_end=[10],
    )
    r, _ = solve(p)
    assert r.routes[1] == (0,)


@pytest.mark.parametrize("method", METHODS)
def test_churn_keeps_the_previous_vehicle(method: str) -> None:
    """A churn penalty keeps a stop on its preferred vehicle despite a fixed cost of 3."""
    p = line_problem(
        [5], vehicles=2, preferred_vehicle=[1], churn_penalty=[1000], vehicle_fixed_cost=[0, 3]
    )
    r, report = solve(p, method)
    assert r.routes[1] == (0,)
    assert report.objective == 10 + 3


def test_churn_is_paid_when_moving_is_cheaper() -> None:
    """A small churn penalty is paid when the preferred vehicle is much dearer."""
    p = line_problem(
        [5], vehicles=2, preferred_vehicle=[1], churn_penalty=[2], vehicle_fixed_cost=[0, 100]
    )
    r, report = solve(p)
    assert r.routes[0] == (0,)
    assert report.objective == 10 + 2


def test_warm_start_is_used_and_never_worse() -> None:
    """Local search from the regret-insertion plan ends no worse than that plan."""
    rng = np.random.default_rng(4)
    pos = rng.integers(1, 100, 30).tolist()
    p = line_problem(pos, vehicles=3, demand=[1] * 30, capacity=[[12]] * 3)
    start = solve_regret_insertion(p)
    r, _ = solve(p, start=[list(x) for x in start.routes])
    assert r.objective <= start.objective


def test_partial_warm_start_leaves_new_stops_to_the_search() -> None:
    """A warm start covering some optional stops is accepted; the rest get inserted."""
    p = line_problem([3, 6, 9, 12], drop_penalty=[500] * 4)
    r, _ = solve(p, start=[[0, 1]])
    assert r.dropped == ()
    assert r.travel_cost == 24


def test_no_vehicles_reports_no_plan() -> None:
    """A problem without vehicles is answered with no routes, not an exception."""
    p = RoutingProblem(travel_time=np.zeros((2, 2)), stop_location=[1], vehicle_start=[])
    plans: list[list[list[int]]] = []
    task = Task("gls", SearchSpec(plain=True))
    note = run_task(
        p, task, time.perf_counter() + 0.1, None, lambda routes, _: plans.append(routes)
    )
    assert not plans and "no vehicles" in note
