"""The one objective: ``evaluate`` prices every plan, and the checker agrees on its own."""

from __future__ import annotations

import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from solver import REGRET_INSERTION, evaluate, solve_regret_insertion, solve_routing
from solver.checker import check_routes, schedule
from solver.problem import NONE, RoutingProblem
from solver.result import SolveStatus
from solver.routing import RoutingParams
from tests.solver.factories import line_problem, routing_problems

INLINE = RoutingParams(isolate=False, use_vroom=False)


def _random_plan(problem: RoutingProblem, rnd: random.Random) -> list[list[int]]:
    """Any plan, feasible or not: each stop on a random vehicle in random order, or dropped."""
    routes: list[list[int]] = [[] for _ in range(problem.num_vehicles)]
    stops = list(range(problem.num_stops))
    rnd.shuffle(stops)
    for s in stops:
        v = rnd.randrange(problem.num_vehicles + 1)
        if v < problem.num_vehicles:
            routes[v].append(s)
    return routes


def test_hand_checked_plan_prices_every_term() -> None:
    """Travel with the ride home, weighted lateness, drops, fixed cost and churn, by hand."""
    p = line_problem(
        [4, 10, 7],
        vehicles=2,
        service_time=[2, 0, 0],
        soft_deadline=[NONE, 9, NONE],
        lateness_weight=[0, 3, 0],
        drop_penalty=[NONE, NONE, 50],
        vehicle_fixed_cost=[7, 100],
        preferred_vehicle=[1, NONE, NONE],
        churn_penalty=[11, 0, 0],
    )
    r = evaluate(p, [[0, 1], []], backend="hand")
    # travel 4 + 6 + 10 home; stop 1 starts at 4 + 2 + 6 = 12, 3 late at weight 3
    assert r.travel_cost == 20 and r.lateness == 3
    assert r.start_times == ((4, 12), ())
    assert r.dropped == (2,)
    assert r.objective == 20 + 3 * 3 + 50 + 7 + 11
    assert r.backend == "hand" and r.status is SolveStatus.FEASIBLE
    opened = evaluate(line_problem([4, 10, 7], vehicles=2, open_routes=True), [[0, 1]], backend="")
    assert opened.travel_cost == 10 and opened.routes == ((0, 1), ())


@settings(max_examples=150, deadline=None)
@given(routing_problems(), st.randoms(use_true_random=False))
def test_evaluate_agrees_with_the_independent_checker(
    problem: RoutingProblem, rnd: random.Random
) -> None:
    """On any plan (even an infeasible one) evaluate's costs and schedule equal the checker's."""
    routes = _random_plan(problem, rnd)
    result = evaluate(problem, routes, backend="")
    report = check_routes(problem, routes)
    assert result.objective == report.objective
    assert result.travel_cost == report.travel_cost
    assert result.lateness == report.lateness
    for v, route in enumerate(routes):
        assert list(result.start_times[v]) == schedule(problem, v, route)
    assert set(result.dropped) == set(range(problem.num_stops)) - {s for r in routes for s in r}


@settings(max_examples=100, deadline=None)
@given(routing_problems(), st.randoms(use_true_random=False), st.integers(1, 50))
def test_each_cost_term_moves_the_objective_by_its_own_amount(
    problem: RoutingProblem, rnd: random.Random, delta: int
) -> None:
    """Raising one term's price by delta raises the objective by delta per unit of that term."""
    routes = _random_plan(problem, rnd)
    base = evaluate(problem, routes, backend="")
    assert problem.drop_penalty is not None and problem.preferred_vehicle is not None
    assert problem.vehicle_fixed_cost is not None and problem.churn_penalty is not None
    assert problem.lateness_weight is not None
    used = sum(1 for r in routes if r)
    optional = problem.drop_penalty != NONE
    dropped_optional = sum(1 for s in base.dropped if optional[s])
    moved = sum(
        1 for v, r in enumerate(routes) for s in r if problem.preferred_vehicle[s] not in (NONE, v)
    )
    changes = [
        ({"vehicle_fixed_cost": problem.vehicle_fixed_cost + delta}, delta * used),
        (
            {"drop_penalty": problem.drop_penalty + optional * delta},
            delta * dropped_optional,
        ),
        ({"churn_penalty": problem.churn_penalty + delta}, delta * moved),
        ({"lateness_weight": problem.lateness_weight + delta}, delta * base.lateness),
    ]
    for fields, extra in changes:
        again = evaluate(problem.replace(**fields), routes, backend="")
        assert again.objective == base.objective + extra, fields
        assert again.travel_cost == base.travel_cost


@settings(max_examples=150, deadline=None)
@given(routing_problems(), st.randoms(use_true_random=False), st.booleans())
def test_regret_insertion_reports_its_plan_through_evaluate(
    problem: RoutingProblem, rnd: random.Random, warm: bool
) -> None:
    """Regret insertion's claimed objective, costs and schedule are evaluate's, to the unit."""
    initial = _random_plan(problem, rnd) if warm else None
    result = solve_regret_insertion(problem, initial_routes=initial)
    again = evaluate(
        problem,
        result.routes,
        backend=REGRET_INSERTION,
        status=result.status,
        solve_time_s=result.solve_time_s,
        warnings=result.warnings,
    )
    assert result == again
    assert result.objective == check_routes(problem, result.routes).objective


@settings(
    max_examples=8,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(routing_problems(max_stops=8))
def test_solve_routing_reports_its_plan_through_evaluate(problem: RoutingProblem) -> None:
    """Whichever search wins, solve_routing's claims are evaluate's for the same routes."""
    result = solve_routing(problem, 0.1, params=INLINE)
    again = evaluate(problem, result.routes, backend=result.backend)
    assert (result.objective, result.travel_cost, result.lateness) == (
        again.objective,
        again.travel_cost,
        again.lateness,
    )
    assert (result.start_times, result.dropped) == (again.start_times, again.dropped)


def test_missing_routes_are_padded_with_empty_ones() -> None:
    """Fewer route lists than vehicles are padded with empty routes."""
    p = line_problem([1, 2], vehicles=3)
    r = evaluate(p, [[0, 1]], backend="")
    assert r.routes == ((0, 1), (), ())
    assert r.start_times == ((1, 2), (), ())


@pytest.mark.parametrize("status", [SolveStatus.FEASIBLE, SolveStatus.NO_SOLUTION])
def test_status_and_warnings_pass_through(status: SolveStatus) -> None:
    """evaluate prices the plan and keeps the caller's status, time and warnings as given."""
    p = line_problem([3])
    r = evaluate(p, [[0]], backend="b", status=status, solve_time_s=1.5, warnings=["w"])
    assert (r.status, r.solve_time_s, r.warnings, r.objective) == (status, 1.5, ("w",), 6)
