"""The production entry point: ``solve_routing`` always answers in time with a plan.

Pipeline, all inside one wall-clock budget:
1. greedy insertion (numpy, milliseconds): the fallback and a warm start;
2. a VROOM construction for part of the budget when the problem fits it;
3. OR-Tools guided local search from the best start, in a child process that
   is stopped at a hard deadline (OR-Tools' own limit can overrun), streaming
   every improving plan back so even a stopped search leaves its best plan.
The best candidate by objective wins; if the optimiser had nothing better in
time the result says so (``backend="greedy"``, warning "fallback").
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import time
from collections.abc import Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Literal

from solver._evaluate import build_result
from solver.greedy import solve_greedy
from solver.problem import NONE, RoutingProblem
from solver.result import RoutingResult, SolveStatus

log = logging.getLogger(__name__)

Metaheuristic = Literal["gls", "sa", "tabu", "greedy"]


@dataclass(frozen=True)
class RoutingParams:
    """Knobs of ``solve_routing``; validated on construction.

    vroom_share: share of the budget VROOM may use for its construction.
    isolate: run OR-Tools in a child process stopped at the hard deadline.
    deadline_margin_s: time kept back for collecting results and building the answer.
    """

    metaheuristic: Metaheuristic = "gls"
    use_vroom: bool = True
    vroom_level: int = 4
    vroom_share: float = 0.8
    vroom_threads: int = 2
    isolate: bool = True
    deadline_margin_s: float = 0.04

    def __post_init__(self) -> None:
        if self.metaheuristic not in ("gls", "sa", "tabu", "greedy"):
            raise ValueError(f"unknown metaheuristic {self.metaheuristic!r}")
        if not 0 <= self.vroom_level <= 5:
            raise ValueError("vroom_level must lie in [0, 5]")
        if not 0.0 < self.vroom_share < 1.0:
            raise ValueError("vroom_share must lie in (0, 1)")
        if self.vroom_threads < 1:
            raise ValueError("vroom_threads must be at least 1")
        if self.deadline_margin_s < 0:
            raise ValueError("deadline_margin_s must be non-negative")


def _mandatory_missing(problem: RoutingProblem, result: RoutingResult) -> bool:
    assert problem.drop_penalty is not None and problem.committed_vehicle is not None
    return any(
        problem.drop_penalty[s] == NONE or problem.committed_vehicle[s] != NONE
        for s in result.dropped
    )


def _better(problem: RoutingProblem, a: RoutingResult, b: RoutingResult | None) -> bool:
    """Whether plan a beats plan b: serving every mandatory stop first, then objective."""
    if b is None:
        return True
    a_bad, b_bad = _mandatory_missing(problem, a), _mandatory_missing(problem, b)
    if a_bad != b_bad:
        return not a_bad
    if a_bad:
        return len(a.dropped) < len(b.dropped) or (
            len(a.dropped) == len(b.dropped) and a.objective < b.objective
        )
    return a.objective < b.objective


def _vroom_helps(problem: RoutingProblem) -> bool:
    """VROOM sees only hard constraints: worth it when soft deadlines do not drive the cost."""
    assert problem.soft_deadline is not None and problem.lateness_weight is not None
    return not bool(((problem.soft_deadline != NONE) & (problem.lateness_weight > 0)).any())


def _child(
    conn: Connection,
    problem: RoutingProblem,
    limit_s: float,
    start: list[list[int]] | None,
    metaheuristic: str,
    plain: bool,
) -> None:
    """Child-process body: solve and stream improving plans through the pipe."""
    from solver._ortools_routing import solve_ortools

    def send(routes: list[list[int]], cost: int) -> None:
        conn.send(("plan", routes))

    try:
        out = solve_ortools(
            problem,
            limit_s,
            initial_routes=start,
            metaheuristic=metaheuristic,
            on_solution=send,
            plain=plain,
        )
        conn.send(("done", out.routes, out.status_code))
    except Exception as exc:  # report, never hang the parent
        conn.send(("error", repr(exc), -1))
    finally:
        conn.close()


def run_ortools(
    problem: RoutingProblem,
    limit_s: float,
    deadline: float,
    *,
    start: list[list[int]] | None = None,
    metaheuristic: str = "gls",
    plain: bool = False,
    isolate: bool = True,
) -> tuple[list[list[int]] | None, str]:
    """OR-Tools' best routes by ``deadline`` (perf_counter time) and a status note."""
    if not isolate:
        from solver._ortools_routing import solve_ortools

        out = solve_ortools(
            problem, limit_s, initial_routes=start, metaheuristic=metaheuristic, plain=plain
        )
        return out.routes, out.message
    ctx = mp.get_context("fork")
    parent, child = ctx.Pipe(duplex=False)
    proc = ctx.Process(
        target=_child, args=(child, problem, limit_s, start, metaheuristic, plain), daemon=True
    )
    proc.start()
    child.close()
    best: list[list[int]] | None = None
    note = "stopped at the deadline"
    try:
        while True:
            left = deadline - time.perf_counter()
            if left <= 0 or not parent.poll(left):
                break
            try:
                kind, payload, code = (*parent.recv(), None)[:3]
            except EOFError:
                note = "OR-Tools process ended without an answer"
                break
            if kind == "plan":
                best = payload
            elif kind == "done":
                best = payload if payload is not None else best
                note = f"OR-Tools status {code}"
                break
            else:
                note = f"OR-Tools failed: {payload}"
                break
    finally:
        if proc.is_alive():
            proc.kill()
        proc.join(timeout=1.0)
        parent.close()
    return best, note


def solve_routing(
    problem: RoutingProblem,
    time_limit_s: float,
    *,
    initial_routes: Sequence[Sequence[int]] | None = None,
    params: RoutingParams | None = None,
) -> RoutingResult:
    """Best plan found within ``time_limit_s`` (wall clock, model building included)."""
    if not time_limit_s > 0:
        raise ValueError("time_limit_s must be positive")
    prm = params or RoutingParams()
    t0 = time.perf_counter()
    deadline = t0 + time_limit_s - prm.deadline_margin_s
    warnings: list[str] = []

    greedy = solve_greedy(problem, initial_routes=initial_routes)
    best: RoutingResult = greedy
    if problem.num_stops == 0 or problem.num_vehicles == 0:
        return _finish(best, t0, warnings)

    if prm.use_vroom and _vroom_helps(problem):
        from solver._vroom_construct import construct_vroom

        budget = min(time_limit_s * prm.vroom_share, deadline - time.perf_counter())
        if budget > 0.02:
            routes = construct_vroom(
                problem, budget, level=prm.vroom_level, threads=prm.vroom_threads
            )
            if routes is not None:
                cand = build_result(
                    problem,
                    routes,
                    status=SolveStatus.FEASIBLE,
                    solve_time_s=0.0,
                    backend="vroom",
                )
                if _better(problem, cand, best):
                    best = cand

    left = deadline - time.perf_counter()
    if left > 0.05:
        start = [list(r) for r in best.routes] if best.has_plan else None
        routes, note = run_ortools(
            problem,
            max(0.01, left - 0.03),
            deadline,
            start=start,
            metaheuristic=prm.metaheuristic,
            isolate=prm.isolate,
        )
        if routes is not None:
            cand = build_result(
                problem,
                routes,
                status=SolveStatus.FEASIBLE,
                solve_time_s=0.0,
                backend="ortools" if best is greedy else f"{best.backend}+ortools",
            )
            if not _better(problem, best, cand):
                best = cand
        else:
            log.info("OR-Tools returned no plan: %s", note)
    if best is greedy:
        warnings.append("fallback: the optimiser found nothing better than the greedy plan")
    return _finish(best, t0, warnings)


def _finish(result: RoutingResult, t0: float, warnings: list[str]) -> RoutingResult:
    from dataclasses import replace

    return replace(
        result,
        solve_time_s=time.perf_counter() - t0,
        warnings=(*result.warnings, *warnings),
    )
