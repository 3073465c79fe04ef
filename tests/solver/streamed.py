"""A portfolio task run in this process, its streamed plans collected and checked."""

from __future__ import annotations

import time

from solver.checker import check_routes
from solver.objective import evaluate
from solver.portfolio import run_task
from solver.problem import RoutingProblem
from solver.result import SolveStatus
from solver.specs import Task

Routes = list[list[int]]


def streamed_plans(p: RoutingProblem, task: Task, seconds: float) -> tuple[list[str], list[Routes]]:
    """Run ``task`` for ``seconds``; the stage and routes of every plan it reported, each
    checked by the independent checker and serving every stop."""
    stages: list[str] = []
    plans: list[Routes] = []

    def send(routes: Routes, stage: str) -> None:
        stages.append(stage)
        plans.append(routes)

    note = run_task(p, task, time.perf_counter() + seconds, None, send)
    assert plans, note
    for routes in plans:
        plan = evaluate(p, routes, status=SolveStatus.FEASIBLE, solve_time_s=0.0, backend="")
        report = check_routes(p, plan)
        assert report.feasible, report.violations
        assert not plan.dropped
    return stages, plans
