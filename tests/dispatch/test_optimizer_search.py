"""The optimizer policy's search: LNS after regret insertion, stage reported, never empty."""

from __future__ import annotations

import numpy as np
import pytest

from dispatch.policies import OptimizerPolicy
from dispatch.tick import TickProblem
from solver import FALLBACK, REGRET_INSERTION, RoutingParams, RoutingProblem, check_routes
from solver import solve_regret_insertion as regret
from solver.lns import LNS

#: Searches end by work, not by the clock (as in reproducible simulations).
BY_WORK = RoutingParams(use_vroom=False, isolate=False, solution_limit=5)


def _tick(problem: RoutingProblem, initial: list[list[int]] | None = None) -> TickProblem:
    return TickProblem(problem, [], [], [], [], initial_routes=initial or [])


def _pairs_problem(seed: int, orders: int = 12, couriers: int = 4) -> RoutingProblem:
    """Couriers at random places, orders as pickup-delivery pairs with soft deadlines."""
    rng = np.random.default_rng(seed)
    xy = rng.integers(0, 2000, size=(couriers + 2 * orders, 2))
    dist = np.ceil(np.sqrt(((xy[:, None] - xy[None]) ** 2).sum(-1)) / 4).astype(np.int64)
    n = 2 * orders
    pairs = np.arange(n).reshape(orders, 2)
    demand = np.zeros(n, dtype=np.int64)
    demand[pairs[:, 0]], demand[pairs[:, 1]] = 1, -1
    soft = np.full(n, -1, dtype=np.int64)
    soft[pairs[:, 1]] = rng.integers(600, 1800, size=orders)
    weight = np.where(soft >= 0, 50, 0)
    return RoutingProblem(
        travel_time=dist,
        stop_location=np.arange(couriers, couriers + n),
        vehicle_start=np.arange(couriers),
        pairs=pairs,
        demand=demand,
        capacity=np.full(couriers, 3),
        soft_deadline=soft,
        lateness_weight=weight,
        service_time=np.full(n, 60),
        drop_penalty=np.full(n, 10**7),
    )


def test_lns_plan_is_checked_never_worse_and_names_its_stage() -> None:
    """The plan passes the checker, costs no more than the regret-insertion start, and
    says which stage found it (FALLBACK only when nothing beat the start)."""
    seen: set[str] = set()
    for seed in range(4):
        problem = _pairs_problem(seed)
        start = regret(problem)
        result = OptimizerPolicy(BY_WORK).solve(_tick(problem), 5.0)
        assert check_routes(problem, result).feasible
        assert result.objective <= start.objective
        improved = result.objective < start.objective
        assert (FALLBACK in result.warnings) is not improved
        assert (result.backend == REGRET_INSERTION) is not improved
        seen.add(result.backend)
    assert LNS in seen


def test_a_tick_with_nothing_to_improve_falls_back_to_the_start() -> None:
    """One order, one courier: the start is the plan, flagged FALLBACK (counted by KPIs)."""
    problem = _pairs_problem(1, orders=1, couriers=1)
    result = OptimizerPolicy(BY_WORK).solve(_tick(problem), 1.0)
    assert result.backend == REGRET_INSERTION and FALLBACK in result.warnings
    assert result.routes == regret(problem).routes


def test_by_work_the_same_tick_gives_the_same_plan() -> None:
    """With searches ended by work, two solves of one tick agree (reproducible runs)."""
    problem = _pairs_problem(7)
    warm = [list(r) for r in regret(_pairs_problem(8)).routes]  # an unrelated previous plan
    policy = OptimizerPolicy(BY_WORK)
    a, b = (policy.solve(_tick(problem, warm), 5.0) for _ in range(2))
    assert a.routes == b.routes and a.objective == b.objective
    assert check_routes(problem, a).feasible


def test_without_lns_the_policy_is_the_ortools_pipeline() -> None:
    """``lns=None`` keeps the earlier policy: regret insertion, then OR-Tools."""
    problem = _pairs_problem(2)
    result = OptimizerPolicy(BY_WORK, lns=None).solve(_tick(problem), 2.0)
    assert check_routes(problem, result).feasible
    assert result.backend in (REGRET_INSERTION, "ortools")


def test_ortools_share_is_checked() -> None:
    """A share outside [0, 1] is refused."""
    with pytest.raises(ValueError):
        OptimizerPolicy(ortools_share=1.5)
