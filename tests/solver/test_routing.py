"""solve_routing: always a plan in time, the best candidate kept, every plan checked."""

from __future__ import annotations

import time

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings

from solver.checker import check_routes
from solver.instances import to_routing_problem
from solver.objective import evaluate
from solver.portfolio import Portfolio
from solver.problem import NONE, RoutingProblem
from solver.regret_insertion import solve_regret_insertion
from solver.result import RoutingResult, SolveStatus
from solver.routing import FALLBACK, RoutingParams, plan_tasks, solve_routing
from solver.specs import SearchSpec, Task
from tests.solver.factories import line_problem, random_instance, routing_problems

# One in-process search keeps most tests light; a few run the real portfolio.
FAST = RoutingParams(isolate=False, use_vroom=False)


def checked(problem: RoutingProblem, result: RoutingResult) -> RoutingResult:
    report = check_routes(problem, result)
    assert report.feasible, report.violations
    assert report.objective == result.objective
    return result


def community_problem(rng: np.random.Generator, stops: int = 40) -> RoutingProblem:
    """Engine-like: couriers at their own positions, open routes, soft deadlines, drops."""
    couriers = 4
    xy = rng.uniform(0, 3000, size=(stops + couriers, 2))
    dist = np.ceil(np.sqrt(((xy[:, None] - xy[None]) ** 2).sum(-1))).astype(np.int64)
    pairs = np.arange(stops).reshape(-1, 2)
    demand = np.zeros(stops, dtype=np.int64)
    demand[pairs[:, 0]], demand[pairs[:, 1]] = 1, -1
    ready = rng.integers(0, 600, size=stops)
    return RoutingProblem(
        travel_time=dist // 5,
        travel_cost=dist,
        stop_location=np.arange(stops),
        service_time=np.full(stops, 120),
        demand=demand,
        tw_start=np.where(np.isin(np.arange(stops), pairs[:, 0]), ready, 0),
        soft_deadline=ready + 1800,
        lateness_weight=np.full(stops, 3),
        drop_penalty=np.full(stops, 50_000),
        pairs=pairs,
        vehicle_start=np.arange(stops, stops + couriers),
        capacity=np.full((couriers, 1), 3),
        vehicle_end_time=np.full(couriers, 4 * 3600),
    )


def test_portfolio_plan_on_a_benchmark_style_problem_is_checked() -> None:
    """The default portfolio (VROOM + local search beside ILS) serves all 60 customers."""
    inst = random_instance(np.random.default_rng(3), customers=60, pdptw=False)
    p = to_routing_problem(inst)
    r = checked(p, solve_routing(p, 1.0))
    assert r.status is SolveStatus.FEASIBLE and not r.dropped
    assert r.backend != "regret-insertion" and not r.warnings
    assert r.objective <= solve_regret_insertion(p).objective


def test_portfolio_handles_engine_problems_without_vroom() -> None:
    """Open routes, own starts, pairs and soft deadlines: GLS and ILS beat regret insertion."""
    p = community_problem(np.random.default_rng(5))
    tasks = plan_tasks(p, RoutingParams())
    assert [t.vroom_level for t in tasks] == [None, None]  # soft deadlines: no VROOM
    assert tasks[1].spec.first == "LOCAL_CHEAPEST_INSERTION"
    r = checked(p, solve_routing(p, 1.0))
    assert r.objective <= solve_regret_insertion(p).objective


def test_ils_streams_checked_plans_on_engine_problems() -> None:
    """Iterated local search alone, in a child process, reports plans the checker accepts."""
    p = community_problem(np.random.default_rng(6), stops=20)
    ils = Task("ils", SearchSpec(method="ils", first="LOCAL_CHEAPEST_INSERTION", temperature=500))
    with Portfolio(p, [ils], time.perf_counter() + 0.6) as portfolio:
        candidates, notes = portfolio.collect()
    assert [c.task for c in candidates] == ["ils"], notes
    plan = evaluate(
        p, candidates[0].routes, status=SolveStatus.FEASIBLE, solve_time_s=0, backend=""
    )
    checked(p, plan)


def test_tiny_limit_falls_back_to_the_regret_insertion_plan() -> None:
    """With 10 ms no search answers: the regret-insertion plan comes back as a fallback."""
    inst = random_instance(np.random.default_rng(8), customers=60, pdptw=True)
    p = to_routing_problem(inst)
    r = checked(p, solve_routing(p, 0.01))
    assert r.backend == "regret-insertion"
    assert r.warnings and r.warnings[0] == FALLBACK
    assert r.has_plan


def test_in_process_ils_and_warm_start() -> None:
    """Iterated local search in-process, seeded with a previous plan, gives a checked plan."""
    rng = np.random.default_rng(4)
    pos = rng.integers(1, 100, 30).tolist()
    p = line_problem(pos, vehicles=3, demand=[1] * 30, capacity=[[12]] * 3)
    previous = [list(range(0, 10)), list(range(10, 20)), list(range(20, 30))]
    r = checked(
        p,
        solve_routing(
            p,
            0.3,
            initial_routes=previous,
            params=RoutingParams(metaheuristic="ils", isolate=False),
        ),
    )
    assert r.backend == "ortools-ils" or (
        r.backend == "regret-insertion" and FALLBACK in r.warnings
    )
    assert r.objective <= solve_regret_insertion(p, initial_routes=previous).objective


def test_empty_problem_returns_at_once() -> None:
    """No stops: an empty plan without warnings."""
    p = line_problem([])
    r = solve_routing(p, 1.0)
    assert r.routes == ((),) and r.objective == 0 and not r.warnings


def test_mandatory_stops_win_over_objective() -> None:
    """A plan that serves a mandatory stop beats a cheaper one that skips it."""
    p = line_problem([5, 50], vehicle_end_time=[200], drop_penalty=[NONE, 10])
    r = checked(p, solve_routing(p, 0.3, params=FAST))
    assert 0 in r.routes[0]


def test_params_are_validated() -> None:
    """Bad parameters and limits are refused at construction."""
    with pytest.raises(ValueError):
        RoutingParams(vroom_share=1.5)
    with pytest.raises(ValueError):
        RoutingParams(metaheuristic="magic")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        RoutingParams(workers=0)
    with pytest.raises(ValueError, match="solution_limit"):
        RoutingParams(solution_limit=0)
    with pytest.raises(ValueError):
        solve_routing(line_problem([1]), 0.0)


def test_single_worker_runs_local_search_only() -> None:
    """workers=1 keeps one task; the default adds iterated local search beside it (on a
    warm solve: a cold one of this closed-route problem would seat PyVRP first)."""
    p = line_problem([1, 2])
    warm = [[0, 1]]
    assert [t.name for t in plan_tasks(p, RoutingParams(workers=1), warm)] == ["vroom+gls"]
    assert [t.name for t in plan_tasks(p, RoutingParams(), warm)] == ["vroom+gls", "ils"]
    assert [t.name for t in plan_tasks(p, RoutingParams(workers=1))] == ["pyvrp"]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(problem=routing_problems(max_stops=8))
def test_random_problems_give_checked_plans_no_worse_than_regret_insertion(
    problem: RoutingProblem,
) -> None:
    """OR-Tools plans pass the checker and never lose to the regret-insertion start."""
    start = solve_regret_insertion(problem)
    result = solve_routing(problem, 0.15, params=FAST)
    report = check_routes(problem, result)
    if check_routes(problem, start).feasible:
        assert report.feasible, report.violations
        assert result.objective <= start.objective
    if report.feasible:
        assert report.objective == result.objective


def test_a_solution_limit_ends_the_search_by_work_not_by_the_clock() -> None:
    """A search ended by its solution limit (not by its generous budget) improves on the
    regret-insertion start and gives the same plan on every run; one solution is the start
    itself."""
    p = community_problem(np.random.default_rng(11), stops=60)
    start = solve_regret_insertion(p)

    def params(limit: int) -> RoutingParams:
        return RoutingParams(isolate=False, use_vroom=False, solution_limit=limit)

    first = checked(p, solve_routing(p, 20.0, params=params(1)))
    assert first.routes == start.routes and first.warnings == (FALLBACK,)
    searched = checked(p, solve_routing(p, 20.0, params=params(30)))
    assert searched.objective < start.objective
    assert searched.routes == checked(p, solve_routing(p, 20.0, params=params(30))).routes
