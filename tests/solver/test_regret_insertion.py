"""The regret-insertion heuristic, always judged by the independent checker."""

from __future__ import annotations

import itertools
import random

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from solver.checker import check_routes
from solver.problem import NONE, RoutingProblem
from solver.regret_insertion import solve_regret_insertion
from solver.result import RoutingResult, SolveStatus
from tests.solver.factories import line_problem, routing_problems


def _assert_consistent(problem: RoutingProblem, result: RoutingResult) -> None:
    """Claims match the checker; a FEASIBLE plan breaks no rule."""
    report = check_routes(problem, result)
    assert result.objective == report.objective
    assert result.travel_cost == report.travel_cost
    assert result.lateness == report.lateness
    assert len(result.routes) == problem.num_vehicles
    if result.status == SolveStatus.FEASIBLE:
        assert report.feasible, report.violations
    assert problem.committed_vehicle is not None
    for v, route in enumerate(result.routes):
        for s in route:
            assert problem.committed_vehicle[s] in (NONE, v)
    committed = np.flatnonzero(problem.committed_vehicle != NONE).tolist()
    assert not set(committed) & set(result.dropped)


@settings(max_examples=100, deadline=None)
@given(routing_problems())
def test_random_problems_give_checked_plans(problem: RoutingProblem) -> None:
    """Random small problems: FEASIBLE plans pass the checker and objectives agree."""
    result = solve_regret_insertion(problem)
    assert result.backend == "regret-insertion"
    _assert_consistent(problem, result)
    assert problem.drop_penalty is not None
    if result.status == SolveStatus.FEASIBLE:
        assert all(problem.drop_penalty[s] != NONE for s in result.dropped)


@settings(max_examples=60, deadline=None)
@given(routing_problems(), st.randoms(use_true_random=False))
def test_random_warm_starts_are_repaired(problem: RoutingProblem, rnd: random.Random) -> None:
    """Any warm start (even infeasible, duplicated, out of range) yields a checked plan."""
    stops = [*range(problem.num_stops), problem.num_stops + 3, 0]
    rnd.shuffle(stops)
    cuts = sorted(rnd.randint(0, len(stops)) for _ in range(problem.num_vehicles - 1))
    routes = [stops[a:b] for a, b in zip([0, *cuts], [*cuts, len(stops)], strict=True)]
    result = solve_regret_insertion(problem, initial_routes=routes)
    _assert_consistent(problem, result)


def test_easy_problem_routes_everything() -> None:
    """Loose windows and room to spare: every stop is served, nothing dropped."""
    rng = np.random.default_rng(3)
    p = line_problem(
        rng.integers(-50, 50, size=30).tolist(),
        vehicles=3,
        demand=np.ones(30, dtype=np.int64),
        capacity=[12, 12, 12],
        drop_penalty=np.full(30, 10_000),
    )
    result = solve_regret_insertion(p)
    assert result.status == SolveStatus.FEASIBLE
    assert result.dropped == ()
    assert check_routes(p, result).feasible


def test_single_vehicle_line_is_driven_in_order() -> None:
    """On a line the cheapest tour visits stops outward and back: cost 2 × farthest."""
    p = line_problem([30, 10, 20])
    result = solve_regret_insertion(p)
    assert result.travel_cost == 60
    assert result.routes[0] in ((1, 2, 0), (0, 2, 1))
    assert check_routes(p, result).feasible  # includes the claimed start times


def test_pairs_ride_together_pickup_first() -> None:
    """Capacity one forces pickup, delivery, pickup, delivery on one vehicle."""
    p = line_problem(
        [10, 20, 15, 25],
        pairs=[[0, 1], [2, 3]],
        demand=[1, -1, 1, -1],
        capacity=[1],
    )
    result = solve_regret_insertion(p)
    assert result.status == SolveStatus.FEASIBLE
    route = result.routes[0]
    assert route.index(0) < route.index(1) and route.index(2) < route.index(3)
    assert abs(route.index(0) - route.index(2)) == 2
    assert check_routes(p, result).feasible


def test_expensive_optional_stop_is_dropped() -> None:
    """A stop whose detour costs more than its penalty is dropped; a cheap one is served."""
    p = line_problem([10, 500], drop_penalty=[50, 50])
    result = solve_regret_insertion(p)
    assert result.dropped == (1,)
    assert result.objective == 20 + 50
    served = solve_regret_insertion(p.replace(drop_penalty=[50, 5000]))
    assert served.dropped == ()


def test_unservable_mandatory_stop_gives_no_solution() -> None:
    """A mandatory stop nobody can reach in time: NO_SOLUTION, warning, the rest routed."""
    p = line_problem([10, 500], tw_end=[1000, 100])
    result = solve_regret_insertion(p)
    assert result.status == SolveStatus.NO_SOLUTION
    assert result.dropped == (1,)
    assert result.routes[0] == (0,)
    assert any("mandatory" in w for w in result.warnings)


def test_infeasible_committed_stop_stays_on_its_vehicle() -> None:
    """An on-board delivery that cannot meet its hard window is kept, with a warning."""
    p = line_problem(
        [100, 5],
        vehicles=2,
        tw_end=[50, 1000],
        committed_vehicle=[1, NONE],
        demand=[-1, 0],
        vehicle_initial_load=[[0], [1]],
    )
    result = solve_regret_insertion(p)
    assert 0 in result.routes[1]
    assert result.status == SolveStatus.NO_SOLUTION
    assert any("committed" in w for w in result.warnings)
    assert 1 not in result.dropped


def test_committed_stop_displaces_free_warm_start_stops() -> None:
    """A committed stop that only fits alone pushes the vehicle's free stops elsewhere."""
    p = line_problem(
        [50, 40],
        vehicles=2,
        tw_end=[50, 1000],
        committed_vehicle=[0, NONE],
    )
    result = solve_regret_insertion(p, initial_routes=[[1], []])
    assert result.status == SolveStatus.FEASIBLE
    assert 0 in result.routes[0]
    assert check_routes(p, result).feasible


def test_skills_and_travel_profiles_pick_the_vehicle() -> None:
    """A skilled stop goes to the one allowed vehicle; a tight window to the fast one."""
    base = np.abs(np.arange(3)[:, None] - np.arange(3)[None, :]) * 10
    p = line_problem(
        [10, 20],
        vehicles=2,
        travel_time=np.stack([base * 3, base]),
        vehicle_profile=[0, 1],
        tw_end=[1000, 25],
        allowed_vehicles=(frozenset({0}), None),
    )
    result = solve_regret_insertion(p)
    assert result.status == SolveStatus.FEASIBLE
    assert result.routes == ((0,), (1,))


def test_open_routes_do_not_pay_the_way_back() -> None:
    """An open route ends at its last stop: travel cost is the way out only."""
    p = line_problem([10, 20], open_routes=True)
    result = solve_regret_insertion(p)
    assert result.routes[0] == (0, 1)
    assert result.travel_cost == 20


def test_shift_end_limits_a_route() -> None:
    """Stops that would bring a vehicle back after its shift go to another vehicle."""
    p = line_problem([40, -40], vehicles=2, vehicle_end_time=[100, 100])
    result = solve_regret_insertion(p)
    assert result.status == SolveStatus.FEASIBLE
    assert sorted(len(r) for r in result.routes) == [1, 1]


def test_initial_load_and_multi_dimensional_capacity() -> None:
    """Loads start at the initial load and every dimension is respected."""
    p = line_problem(
        [10, 20, 30],
        vehicles=2,
        demand=[[1, 0], [0, 1], [1, 1]],
        capacity=[[2, 5], [5, 1]],
        vehicle_initial_load=[[1, 0], [0, 0]],
        drop_penalty=[10_000] * 3,
    )
    result = solve_regret_insertion(p)
    assert result.status == SolveStatus.FEASIBLE
    assert result.dropped == ()
    assert check_routes(p, result).feasible


def test_soft_deadline_weights_order_the_route() -> None:
    """A heavily weighted soft deadline is served before a stop without one."""
    p = line_problem(
        [10, -10],
        soft_deadline=[NONE, 10],
        lateness_weight=[0, 100],
    )
    result = solve_regret_insertion(p)
    assert result.routes[0] == (1, 0)
    assert result.lateness == 0


def test_fixed_costs_and_churn_steer_vehicle_choice() -> None:
    """A vehicle's fixed cost keeps work together; churn keeps a stop on its old vehicle."""
    p = line_problem([10, 12], vehicles=2, vehicle_fixed_cost=[0, 1000])
    assert solve_regret_insertion(p).routes[1] == ()
    q = line_problem([10, 12], vehicles=2, preferred_vehicle=[1, 1], churn_penalty=[50, 50])
    result = solve_regret_insertion(q)
    assert result.routes[0] == ()
    assert result.objective == check_routes(q, result).objective


def test_degenerate_problems() -> None:
    """No stops, or no vehicles: a valid result, never an exception."""
    empty = line_problem([], vehicles=2)
    result = solve_regret_insertion(empty)
    assert result.status == SolveStatus.FEASIBLE and result.routes == ((), ())
    nobody = line_problem([10], vehicles=0, drop_penalty=[7])
    result = solve_regret_insertion(nobody)
    assert result.dropped == (0,) and result.objective == 7
    assert result.status == SolveStatus.FEASIBLE


def test_time_limit_still_returns_a_full_plan() -> None:
    """A tiny time limit cuts the improvement pass only; every stop is still placed."""
    rng = np.random.default_rng(5)
    p = line_problem(rng.integers(-90, 90, size=40).tolist(), vehicles=4)
    result = solve_regret_insertion(p, time_limit_s=1e-9)
    assert result.dropped == ()
    assert check_routes(p, result).feasible


def test_warm_start_with_committed_stops_in_a_bad_order_is_rebuilt() -> None:
    """Committed stops given in an order that breaks a window are reordered, not kept."""
    p = line_problem(
        [-10, 30],
        tw_end=[1000, 30],
        committed_vehicle=[0, 0],
        vehicle_end_time=[1000],
    )
    result = solve_regret_insertion(p, initial_routes=[[0, 1]])
    assert result.status == SolveStatus.FEASIBLE
    assert result.routes[0] == (1, 0)
    assert check_routes(p, result).feasible


def _some_plan_serves(problem: RoutingProblem, must: list[int]) -> bool:
    """Brute force: can the stops in ``must`` all be served (others left out)?"""
    v_count = problem.num_vehicles
    for perm in itertools.permutations(must):
        for cuts in itertools.combinations_with_replacement(range(len(must) + 1), v_count - 1):
            bounds = [0, *cuts, len(must)]
            routes = [list(perm[bounds[k] : bounds[k + 1]]) for k in range(v_count)]
            report = check_routes(problem, routes)
            if all("not served" in x or "half served" in x for x in report.violations):
                return True
    return False


@settings(max_examples=40, deadline=None, derandomize=True)
@given(routing_problems(max_stops=5, metric=True))
def test_no_solution_only_when_brute_force_agrees(problem: RoutingProblem) -> None:
    """On tiny problems every mandatory stop is served exactly when that is possible."""
    assert problem.drop_penalty is not None and problem.committed_vehicle is not None
    partner = problem.partner()
    must = {
        s
        for s in range(problem.num_stops)
        if problem.drop_penalty[s] == NONE or problem.committed_vehicle[s] != NONE
    }
    must |= {int(partner[s]) for s in must if partner[s] != NONE}
    result = solve_regret_insertion(problem)
    possible = _some_plan_serves(problem, sorted(must))
    assert (result.status == SolveStatus.FEASIBLE) == possible
