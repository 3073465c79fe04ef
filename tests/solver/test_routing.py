"""OR-Tools back-end and solve_routing: every constraint, checked by the independent checker."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings

from solver.checker import check_routes
from solver.greedy import solve_greedy
from solver.problem import NONE, RoutingProblem
from solver.result import RoutingResult
from solver.routing import RoutingParams, solve_routing
from tests.solver.factories import line_problem, routing_problems

# In-process OR-Tools keeps these tests light; one test covers the child process.
FAST = RoutingParams(isolate=False, use_vroom=False)


def solve(problem: RoutingProblem, limit: float = 0.5, **kw: object) -> RoutingResult:
    result = solve_routing(problem, limit, params=kw.pop("params", FAST), **kw)  # type: ignore[arg-type]
    report = check_routes(problem, result)
    assert report.feasible, report.violations
    assert report.objective == result.objective
    return result


def test_time_windows_force_the_order() -> None:
    """A far stop with an early window is served before a near stop with a late one."""
    p = line_problem([2, 10], tw_start=[50, 0], tw_end=[60, 15])
    r = solve(p)
    assert r.routes[0] == (1, 0)


def test_capacity_with_initial_load_splits_work() -> None:
    """With 2 units already on board and capacity 3, two pickups of 1 need two vehicles."""
    p = line_problem(
        [5, 6],
        vehicles=2,
        demand=[1, 1],
        capacity=[[3], [3]],
        vehicle_initial_load=[[2], [0]],
    )
    r = solve(p)
    assert sum(1 for route in r.routes if route) == 2 or r.routes[1] == (0, 1)


def test_pairs_stay_together_pickup_first() -> None:
    """A pickup-delivery pair rides one vehicle and the pickup comes first."""
    p = line_problem([8, 3], vehicles=2, demand=[1, -1], pairs=[[0, 1]], capacity=[[1], [1]])
    r = solve(p)
    route = next(route for route in r.routes if route)
    assert route == (0, 1)


def test_skills_restrict_vehicles() -> None:
    """A stop that only vehicle 1 may serve goes to vehicle 1 even when 0 is as close."""
    p = line_problem([4, 4], vehicles=2, allowed_vehicles=(frozenset({1}), None))
    r = solve(p)
    assert 0 in r.routes[1]


def test_committed_stop_stays_on_its_vehicle() -> None:
    """An on-board delivery committed to vehicle 0 stays there."""
    p = line_problem(
        [9, 1],
        vehicles=2,
        demand=[-1, 0],
        committed_vehicle=[0, NONE],
        vehicle_initial_load=[[1], [0]],
        capacity=[[3], [3]],
    )
    r = solve(p)
    assert 0 in r.routes[0]


def test_overload_drops_optional_work_instead_of_failing() -> None:
    """Three pickups of 1 for one vehicle of capacity 2 and no deliveries: one is dropped."""
    p = line_problem([1, 2, 3], demand=[1, 1, 1], capacity=[[2]], drop_penalty=[1000, 1000, 1000])
    r = solve(p)
    assert len(r.dropped) == 1


def test_soft_deadlines_reduce_lateness() -> None:
    """With heavy lateness weights the urgent far stop goes first."""
    plain = line_problem([1, 30, 2])
    urgent = plain.replace(soft_deadline=[NONE, 30, NONE], lateness_weight=[0, 100, 0])
    r_plain, r_urgent = solve(plain), solve(urgent)
    assert r_urgent.lateness <= r_plain.lateness or r_plain.lateness == 0
    assert r_urgent.routes[0][0] == 1


def test_open_routes_do_not_pay_the_way_back() -> None:
    """An open route's cost excludes the return leg a closed route pays."""
    closed = solve(line_problem([10]))
    opened = solve(line_problem([10], open_routes=True))
    assert closed.travel_cost == 20 and opened.travel_cost == 10


def test_shift_end_limits_the_route() -> None:
    """A stop beyond the shift end is dropped rather than served late."""
    p = line_problem([50], vehicle_end_time=[60], drop_penalty=[10_000])
    r = solve(p)
    assert r.dropped == (0,)


def test_travel_profiles_per_vehicle() -> None:
    """A tight window is reachable only by the fast vehicle (profile 1)."""
    slow = np.abs(np.arange(3)[:, None] - np.arange(3)[None, :]) * 10
    fast = slow // 5
    p = RoutingProblem(
        travel_time=np.stack([slow, fast]),
        travel_cost=slow,
        stop_location=[2],
        vehicle_start=[0, 0],
        vehicle_profile=[0, 1],
        tw_end=[10],
    )
    r = solve(p)
    assert r.routes[1] == (0,)


def test_churn_keeps_previous_assignment_when_cheap() -> None:
    """A churn penalty keeps a stop on its preferred vehicle despite a small detour."""
    p = line_problem(
        [5],
        vehicles=2,
        preferred_vehicle=[1],
        churn_penalty=[1000],
        vehicle_fixed_cost=[0, 3],
    )
    r = solve(p)
    assert r.routes[1] == (0,)


def test_warm_start_is_used_and_never_worse() -> None:
    """Starting from the greedy plan ends no worse than the greedy plan."""
    rng = np.random.default_rng(4)
    pos = rng.integers(1, 100, 30).tolist()
    p = line_problem(pos, vehicles=3, demand=[1] * 30, capacity=[[12]] * 3)
    g = solve_greedy(p)
    r = solve(p, initial_routes=[list(x) for x in g.routes])
    assert r.objective <= g.objective


def test_child_process_deadline_still_returns_a_plan() -> None:
    """With a tiny budget and the isolated child process the result is still a checked plan."""
    rng = np.random.default_rng(9)
    pos = rng.integers(1, 500, 120).tolist()
    p = line_problem(pos, vehicles=8, demand=[1] * 120, capacity=[[20]] * 8)
    r = solve(p, limit=0.2, params=RoutingParams())
    assert r.has_plan and not r.dropped


def test_params_are_validated() -> None:
    """Bad parameters are refused at construction."""
    with pytest.raises(ValueError):
        RoutingParams(vroom_share=1.5)
    with pytest.raises(ValueError):
        RoutingParams(metaheuristic="magic")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        solve_routing(line_problem([1]), 0.0)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(problem=routing_problems(max_stops=8))
def test_random_problems_give_checked_plans_no_worse_than_greedy(problem: RoutingProblem) -> None:
    """OR-Tools plans pass the checker and never lose to the greedy plan they start from."""
    greedy = solve_greedy(problem)
    result = solve_routing(problem, 0.15, params=FAST)
    report = check_routes(problem, result)
    if check_routes(problem, greedy).feasible:
        assert report.feasible, report.violations
        assert result.objective <= greedy.objective
    if report.feasible:
        assert report.objective == result.objective
