"""Cold VRPTW solves: VROOM's level and our LNS after it, and that their plans check."""

from __future__ import annotations

import numpy as np
import pytest

from solver.checker import check_routes
from solver.instances import to_routing_problem
from solver.objective import evaluate
from solver.routing import RoutingParams, plan_tasks, solve_routing
from solver.specs import Task
from tests.solver.factories import random_instance
from tests.solver.streamed import streamed_plans


def _local(tasks: list[Task]) -> Task:
    """The VROOM + local-search member (PyVRP may hold the first seat on cold solves)."""
    (task,) = [t for t in tasks if t.engine == "ortools" and t.name != "ils"]
    return task


def test_cold_vrptw_settings_apply_to_cold_vrptw_only() -> None:
    """Cold VRPTW takes vrptw_vroom_level / vrptw_lns_share; warm VRPTW and PDPTW do not."""
    tw = to_routing_problem(random_instance(np.random.default_rng(1), customers=20, pdptw=False))
    pd = to_routing_problem(random_instance(np.random.default_rng(1), customers=20, pdptw=True))
    prm = RoutingParams(vroom_level=4, vrptw_vroom_level=2, lns_share=1.0, vrptw_lns_share=0.5)
    cold = _local(plan_tasks(tw, prm))
    assert (cold.vroom_level, cold.lns_share) == (2, 0.5)
    warm = _local(plan_tasks(tw, prm, [[] for _ in range(tw.num_vehicles)]))
    assert (warm.vroom_level, warm.lns_share) == (4, 0.0)
    pickup = _local(plan_tasks(pd, prm))
    assert (pickup.vroom_level, pickup.lns_share) == (4, 1.0)
    no_vroom = _local(plan_tasks(tw, RoutingParams(use_vroom=False)))
    assert (no_vroom.vroom_level, no_vroom.lns_share) == (None, 0.0)


BAD = [("vrptw_vroom_level", 6), ("vrptw_vroom_level", -1), ("vrptw_lns_share", 1.5)]


@pytest.mark.parametrize(("field", "value"), BAD)
def test_cold_vrptw_settings_are_checked(field: str, value: float) -> None:
    """Out-of-range values are refused with the field's name."""
    with pytest.raises(ValueError, match=field):
        RoutingParams(**{field: value})  # type: ignore[arg-type]


def test_cold_vrptw_local_task_streams_checked_plans() -> None:
    """VROOM then our LNS then guided local search, in this process: every plan it reports
    passes the independent checker and serves every customer, each cheaper than the last."""
    p = to_routing_problem(random_instance(np.random.default_rng(5), customers=30, pdptw=False))
    task = _local(plan_tasks(p, RoutingParams()))
    assert task.vroom_level is not None and task.lns_share > 0
    stages, plans = streamed_plans(p, task, 0.8)
    costs = [evaluate(p, r, solve_time_s=0.0, backend="").objective for r in plans]
    assert costs == sorted(costs, reverse=True)
    assert set(stages) <= {"start:vroom", "start:regret-insertion", "lns", "ortools"}


def test_cold_vrptw_solve_is_checked() -> None:
    """The whole portfolio on a cold VRPTW instance answers with a plan the checker accepts."""
    p = to_routing_problem(random_instance(np.random.default_rng(6), customers=25, pdptw=False))
    result = solve_routing(p, 1.0)
    report = check_routes(p, result)
    assert report.feasible, report.violations
    assert not result.dropped
