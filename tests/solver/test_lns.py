"""The large-neighbourhood search: checked plans, never worse, on the clock, reproducible."""

from __future__ import annotations

import itertools
from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings

from solver.checker import check_routes
from solver.instances import to_routing_problem
from solver.lns import LNS, LnsParams, solve_lns
from solver.objective import evaluate
from solver.problem import NONE, RoutingProblem
from solver.regret_insertion import solve_regret_insertion
from tests.solver.factories import line_problem, random_instance, routing_problems

#: A fixed clock: the deadline never comes, only ``max_iterations`` ends the search.
STILL = 0.0


def _still() -> float:
    return STILL


def _pdptw(seed: int, customers: int = 24) -> RoutingProblem:
    """A Li & Lim-like instance with a vehicle per request (so one-request routes exist)."""
    inst = random_instance(np.random.default_rng(seed), customers=customers, pdptw=True)
    return to_routing_problem(replace(inst, num_vehicles=customers // 2))


@settings(max_examples=40, deadline=None, derandomize=True)
@given(routing_problems())
def test_random_problems_stay_feasible_and_never_get_worse(problem: RoutingProblem) -> None:
    """On random problems (pairs, windows, capacities, skills, commitments, trip groups),
    the result passes the checker whenever the start does, keeps every committed stop on
    its vehicle, and costs no more than the start."""
    start = solve_regret_insertion(problem)
    run = solve_lns(problem, start, 1.0, params=LnsParams(max_iterations=25), clock=_still)
    result = run.result
    report = check_routes(problem, result)
    assert report.objective == result.objective
    if check_routes(problem, start).feasible:
        assert report.feasible, report.violations
    assert result.objective <= start.objective
    assert problem.committed_vehicle is not None
    for v, route in enumerate(result.routes):
        for s in route:
            assert problem.committed_vehicle[s] in (NONE, v)
    kept = set(np.flatnonzero(problem.committed_vehicle != NONE).tolist()) - set(start.dropped)
    assert not kept & set(result.dropped)


def test_a_crossed_start_is_untangled() -> None:
    """Two vehicles each serving one stop on each side of the depot become one
    vehicle per side (76 → 40), and the plan says the LNS found it."""
    problem = line_problem([-10, -9, 10, 9], vehicles=2)
    start = evaluate(problem, [[0, 2], [1, 3]], backend="hand")
    assert start.objective == 76
    run = solve_lns(problem, start, 1.0, params=LnsParams(max_iterations=40), clock=_still)
    assert run.result.objective == 40
    assert run.result.backend == LNS and run.improvements >= 1
    assert check_routes(problem, run.result).feasible


def test_pickup_delivery_start_improves_and_stays_checked() -> None:
    """A Li & Lim-like instance started from a poor plan (every request alone on its
    own vehicle) improves, and the checker agrees with every claim."""
    problem = _pdptw(3)
    start = evaluate(problem, [[p, d] for p, d in problem.pairs_list()], backend="hand")
    assert check_routes(problem, start).feasible
    run = solve_lns(problem, start, 1.0, params=LnsParams(max_iterations=60), clock=_still)
    report = check_routes(problem, run.result)
    assert report.feasible, report.violations
    assert run.result.objective == report.objective < start.objective


def test_same_seed_same_plan_other_seed_other_walk() -> None:
    """A seed fixes the answer (given the iterations); another seed takes other steps."""
    problem = _pdptw(5)
    start = solve_regret_insertion(problem)

    def go(seed: int) -> tuple[tuple[tuple[int, ...], ...], int]:
        prm = LnsParams(seed=seed, max_iterations=40)
        run = solve_lns(problem, start, 1.0, params=prm, clock=_still)
        return run.result.routes, run.accepted

    assert go(7) == go(7)
    assert len({go(s) for s in range(4)}) > 1


def test_the_deadline_is_kept_by_the_clock_given() -> None:
    """No iteration starts once the next one might not end by the deadline: with a clock
    that moves one second per reading and a 20 s limit, at most 10 iterations run (two
    readings each), and none at all with no time."""
    problem = _pdptw(4)
    start = solve_regret_insertion(problem)
    ticks = itertools.count()
    run = solve_lns(problem, start, 20.0, clock=lambda: float(next(ticks)))
    assert 1 <= run.iterations <= 10
    none = solve_lns(problem, start, 0.0, clock=_still)
    assert none.iterations == 0 and none.result is start


def test_a_search_without_news_stops_early() -> None:
    """After ``patience`` iterations in a row without a new best, the search stops (a
    one-request tick long before its deadline)."""
    problem = line_problem([3, 5], vehicles=1)
    start = solve_regret_insertion(problem)
    run = solve_lns(problem, start, 1.0, params=LnsParams(patience=30), clock=_still)
    assert run.iterations == 30 and run.result is start


def test_nothing_to_move_returns_the_start() -> None:
    """Only committed stops: nothing may move, the start comes back as it is."""
    problem = line_problem([3, 5], vehicles=1, committed_vehicle=[0, 0])
    start = solve_regret_insertion(problem)
    run = solve_lns(problem, start, 1.0, params=LnsParams(max_iterations=5), clock=_still)
    assert run.result is start and run.iterations == 0


def test_a_request_no_vehicle_may_serve_stays_dropped() -> None:
    """A stop no vehicle may serve (an order no courier can take) stays dropped, also when
    it is the only request the search could move."""
    for committed in ([NONE, NONE, NONE], [NONE, 0, 0]):
        problem = line_problem(
            [4, -6, 8],
            vehicles=1,
            allowed_vehicles=(frozenset(), None, None),
            drop_penalty=[1000, 1000, 1000],
            committed_vehicle=committed,
        )
        start = evaluate(problem, [[1, 2]], backend="hand")
        prm = LnsParams(max_iterations=20)
        run = solve_lns(problem, start, 1.0, params=prm, clock=_still)
        assert 0 in run.result.dropped
        assert run.iterations == 20 and run.result.objective <= start.objective
        assert check_routes(problem, run.result).feasible


@pytest.mark.parametrize(
    "bad",
    [
        {"min_remove": 0},
        {"min_remove": 5, "max_remove": 4},
        {"remove_share": 0.0},
        {"max_iterations": -1},
        {"threshold": 1.0},
        {"greedy_share": 1.5},
        {"nearest_vehicles": 0},
        {"patience": 0},
    ],
)
def test_parameters_check_themselves(bad: dict[str, float]) -> None:
    """Out-of-range knobs are refused at construction."""
    with pytest.raises(ValueError):
        LnsParams(**bad)  # type: ignore[arg-type]
