"""The ILS member's regret-insertion hint: when it is given, and that hinted plans check."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from solver.instances import to_routing_problem
from solver.objective import evaluate
from solver.problem import RoutingProblem
from solver.routing import RoutingParams, plan_tasks
from tests.solver.factories import random_instance
from tests.solver.streamed import streamed_plans

#: The OR-Tools members these tests look at; on cold solves PyVRP would take a seat.
ORTOOLS = RoutingParams(pyvrp_partner="off")


def _ils_hint(problem: RoutingProblem, initial_routes: list[list[int]] | None = None) -> bool:
    tasks = plan_tasks(problem, ORTOOLS, initial_routes)
    return {t.name: t.ils_hint for t in tasks}["ils"]


def test_hint_only_on_cold_pickup_delivery_solves() -> None:
    """Cold PDPTW solves hint the ILS; warm solves, single-depot VRPTW and ils_hint=False do not."""
    pd = to_routing_problem(random_instance(np.random.default_rng(1), customers=20, pdptw=True))
    tw = to_routing_problem(random_instance(np.random.default_rng(1), customers=20, pdptw=False))
    assert _ils_hint(pd)
    assert not _ils_hint(pd, initial_routes=[[] for _ in range(pd.num_vehicles)])
    assert not _ils_hint(tw)
    off = plan_tasks(pd, replace(ORTOOLS, ils_hint=False))
    assert not any(t.ils_hint for t in off)


def test_hinted_ils_reports_checked_plans_serving_everyone() -> None:
    """A hinted ILS run in this process streams plans the checker accepts, each serving all."""
    p = to_routing_problem(random_instance(np.random.default_rng(3), customers=30, pdptw=True))
    (task,) = [t for t in plan_tasks(p, ORTOOLS) if t.name == "ils"]
    assert task.ils_hint
    _, plans = streamed_plans(p, task, 0.5)
    costs = [evaluate(p, r, solve_time_s=0.0, backend="").objective for r in plans]
    assert costs == sorted(costs, reverse=True)  # each report improves on the last


def test_lns_follows_vroom_on_pickup_delivery() -> None:
    """The VROOM-started local task hands its time to our LNS on PDPTW (lns_share); VRPTW
    follows vrptw_lns_share on cold solves only (tests/solver/test_cold_vrptw.py)."""
    pd = to_routing_problem(random_instance(np.random.default_rng(1), customers=20, pdptw=True))
    tw = to_routing_problem(random_instance(np.random.default_rng(1), customers=20, pdptw=False))
    assert plan_tasks(pd, ORTOOLS)[0].lns_share == 1.0
    assert plan_tasks(pd, replace(ORTOOLS, lns_share=0.5))[0].lns_share == 0.5
    assert plan_tasks(pd, replace(ORTOOLS, use_vroom=False))[0].lns_share == 0.0
    assert plan_tasks(tw, replace(ORTOOLS, vrptw_lns_share=0.0))[0].lns_share == 0.0
    with pytest.raises(ValueError, match="lns_share"):
        RoutingParams(lns_share=1.5)


def test_lns_after_start_reports_checked_plans() -> None:
    """A local task with an LNS share streams plans the checker accepts, each serving all."""
    p = to_routing_problem(random_instance(np.random.default_rng(4), customers=30, pdptw=True))
    task = replace(plan_tasks(p, ORTOOLS)[0], vroom_level=None, lns_share=0.5)
    stages, _ = streamed_plans(p, task, 0.6)
    assert set(stages) <= {"lns", "ortools", "start:lns", "start:regret-insertion"}
