"""The one objective: ``evaluate`` prices every plan, and the checker agrees on its own."""

from __future__ import annotations

import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from solver import REGRET_INSERTION, evaluate, solve_regret_insertion, solve_routing
from solver.checker import check_routes, schedule
from solver.errors import InvalidProblem
from solver.problem import NONE, RoutingProblem
from solver.result import RoutingResult, SolveStatus
from solver.routing import RoutingParams
from tests.solver.factories import line_problem, routing_problems

INLINE = RoutingParams(isolate=False, use_vroom=False)


def _past_fee_deadline(problem: RoutingProblem, result: RoutingResult) -> int:
    """How many served stops start after their fee deadline."""
    assert problem.fee_deadline is not None
    return sum(
        1
        for route, starts in zip(result.routes, result.start_times, strict=True)
        for s, t in zip(route, starts, strict=True)
        if problem.fee_deadline[s] != NONE and t > problem.fee_deadline[s]
    )


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


def test_a_late_fee_is_paid_once_past_its_deadline_and_not_at_it() -> None:
    """A fee is a step: nothing at the deadline itself, the whole fee a second later, once."""
    p = line_problem([4, 10], fee_deadline=[4, 9], late_fee=[500, 70], open_routes=True)
    r = evaluate(p, [[0, 1]], backend="hand")
    # stop 0 starts at 4 (on its deadline: no fee), stop 1 at 10 (a second past 9: the fee)
    assert r.start_times == ((4, 10),) and r.lateness == 0
    assert r.objective == 10 + 70
    assert check_routes(p, [[0, 1]]).objective == r.objective
    with pytest.raises(InvalidProblem, match="late_fee"):
        line_problem([4], fee_deadline=[4], late_fee=[-1])


def test_late_fees_make_the_search_keep_more_promises_than_lateness_alone() -> None:
    """Two stops just ahead that are on time only if served first, one behind that is on
    time only if served first: weighing lateness alone serves the one behind first and
    makes two late; a fee per late stop makes one late instead."""
    fields = {"soft_deadline": [20, 22, 5], "lateness_weight": [1, 1, 1], "open_routes": True}
    linear = line_problem([20, 22, -5], **fields)  # type: ignore[arg-type]
    fees = line_problem([20, 22, -5], fee_deadline=[20, 22, 5], late_fee=[100] * 3, **fields)  # type: ignore[arg-type]
    late = []
    for p in (linear, fees):
        r = solve_routing(p, 1.0, params=INLINE)
        assert check_routes(p, r.routes).feasible
        assert r.objective == evaluate(p, r.routes, backend="").objective
        late.append(
            sum(1 for v, t in enumerate(r.start_times[0]) if t > (20, 22, 5)[r.routes[0][v]])
        )
    assert late == [2, 1]


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
    assert problem.lateness_weight is not None and problem.late_fee is not None
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
        ({"late_fee": problem.late_fee + delta}, delta * _past_fee_deadline(problem, base)),
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
