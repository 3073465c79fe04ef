"""Run several searches side by side, each in a child process stopped at a hard deadline.

OR-Tools' own time limit can overrun while it looks for a first solution, so
every search runs in a forked child that streams each improving plan back
through a pipe; at the deadline the parent keeps the last plan of each child
and kills whatever is still running. A search that dies or finds nothing
simply contributes nothing: the caller always holds a regret-insertion plan.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess

from solver.lns import LNS, LnsParams, solve_lns
from solver.objective import evaluate
from solver.problem import NONE, RoutingProblem
from solver.pyvrp_search import PYVRP
from solver.regret_insertion import REGRET_INSERTION, solve_regret_insertion
from solver.result import SolveStatus
from solver.specs import Task

__all__ = ["Candidate", "Portfolio", "run_task"]

log = logging.getLogger(__name__)

Routes = list[list[int]]
#: Time between OR-Tools' own limit and the hard deadline, for the last plan to arrive.
_HANDOVER_S = 0.03
#: Share of an ILS task's time its regret-insertion hint may use (polishing included).
_HINT_SHARE = 0.05
Send = Callable[[Routes, str], None]


@dataclass(frozen=True)
class Candidate:
    """The best plan one task reported, with the stage that produced it."""

    task: str
    stage: str
    routes: Routes


def run_task(
    problem: RoutingProblem,
    task: Task,
    deadline: float,
    start: Sequence[Sequence[int]] | None,
    send: Send,
) -> str:
    """Body of one search (child process or in-process); returns a status note.

    A PyVRP task runs PyVRP's search alone to the deadline. Otherwise
    ``start`` is a feasible plan to improve (the regret-insertion one) or None:
    local search then builds its own (VROOM, else regret insertion seeded with
    ``task.initial_routes``); iterated local search builds its first plan with
    its own heuristic.
    """
    if task.engine == PYVRP:
        from solver.pyvrp_search import solve_pyvrp

        def stream(routes: Routes) -> None:
            send(routes, PYVRP)

        return solve_pyvrp(problem, deadline - _HANDOVER_S, stream, seed=task.seed)
    from solver._ortools_routing import solve_ortools

    starts: list[tuple[tuple[int, int], str, Routes]] = []
    if start is not None:
        starts.append((_key(problem, start), REGRET_INSERTION, [list(r) for r in start]))
    if task.spec.method != "ils" and not task.spec.plain:
        if task.vroom_level is not None:
            from solver._vroom_construct import construct_vroom

            budget = (deadline - time.perf_counter()) * task.vroom_share
            built = construct_vroom(
                problem, budget, level=task.vroom_level, threads=task.vroom_threads
            )
            if built is not None:
                starts.append((_key(problem, built), "vroom", built))
        if not any(key[0] == 0 for key, _o, _r in starts):
            # No start serves every stop (VROOM may stop before placing all):
            # add the regret-insertion plan, which always places what it can.
            inserted = solve_regret_insertion(
                problem,
                initial_routes=task.initial_routes,
                time_limit_s=max(0.0, (deadline - time.perf_counter()) * 0.1),
            )
            plan = [list(r) for r in inserted.routes]
            starts.append((_key(problem, plan), REGRET_INSERTION, plan))
    starts.sort(key=lambda item: item[0])
    if starts and starts[0][1] == "vroom":
        # Report the construction now: OR-Tools may get no time to confirm it.
        send(starts[0][2], "start:vroom")
    if task.lns_share > 0 and starts and starts[0][0][0] == 0:
        improved = _improve_by_lns(problem, starts[0][2], deadline, task.lns_share)
        if improved is not None:
            send(improved, LNS)
            starts.insert(0, (_key(problem, improved), LNS, improved))
    # Stop a little early so the final plan reaches the parent before the deadline.
    left = deadline - time.perf_counter() - _HANDOVER_S
    if left <= 0.01:
        return "no time left for OR-Tools"
    reported = False

    def report(found: Routes, cost: int, start_index: int | None) -> None:
        nonlocal reported
        send(found, "ortools" if start_index is None else f"start:{starts[start_index][1]}")
        reported = True

    hint = None
    if task.spec.method == "ils" and task.ils_hint:
        hint = _ils_hint(problem, None if task.spec.solution_limit is not None else left)
        left = deadline - time.perf_counter() - _HANDOVER_S
        if left <= 0.01:
            return "no time left for OR-Tools"
    out = solve_ortools(
        problem,
        left,
        task.spec,
        initial_routes=hint,
        starts=[routes for _k, _o, routes in starts] if task.spec.method != "ils" else (),
        on_solution=report,
    )
    if out.routes is not None and not reported:
        send(out.routes, "ortools")
    return out.message


def _improve_by_lns(
    problem: RoutingProblem, routes: Routes, deadline: float, share: float
) -> Routes | None:
    """Our LNS on a start plan for ``share`` of the time left; None if it found nothing better."""
    budget = (deadline - time.perf_counter() - _HANDOVER_S) * share
    if budget <= 0.01:
        return None
    start = evaluate(problem, routes, backend="start")
    run = solve_lns(problem, start, budget, params=LnsParams(patience=None))
    if run.improvements == 0:
        return None
    return [list(r) for r in run.result.routes]


def _ils_hint(problem: RoutingProblem, left_s: float | None) -> Routes | None:
    """A regret-insertion plan as the ILS's first-solution hint.

    Its polishing may use 5 % of ``left_s`` (None: polish to the end, for searches
    that end by work). None when the plan leaves a mandatory stop out: OR-Tools
    would reject the hint anyway.
    """
    limit = None if left_s is None else max(0.0, left_s * _HINT_SHARE)
    plan = solve_regret_insertion(problem, time_limit_s=limit)
    routes = [list(r) for r in plan.routes]
    return routes if _key(problem, routes)[0] == 0 else None


def _key(problem: RoutingProblem, routes: Sequence[Sequence[int]]) -> tuple[int, int]:
    """(unserved mandatory stops, objective): serve what must be served, then cheaper."""
    res = evaluate(problem, routes, status=SolveStatus.FEASIBLE, solve_time_s=0.0, backend="")
    dp, cv = problem.drop_penalty, problem.committed_vehicle
    assert dp is not None and cv is not None
    missing = sum(1 for s in res.dropped if dp[s] == NONE or cv[s] != NONE)
    return missing, res.objective


def _child(
    conn: Connection,
    problem: RoutingProblem,
    task: Task,
    deadline: float,
    start: Sequence[Sequence[int]] | None,
) -> None:
    """Child-process body: run the task and stream plans through the pipe."""

    def send(routes: Routes, stage: str) -> None:
        conn.send(("plan", stage, routes))

    try:
        note = run_task(problem, task, deadline, start, send)
        conn.send(("done", note, None))
    except Exception as exc:  # report, never hang the parent
        conn.send(("error", repr(exc), None))
    finally:
        conn.close()


class Portfolio:
    """Tasks running in child processes until a deadline (perf_counter time).

    Use as a context manager: the children start on entry, ``collect`` waits
    for them (at most until the deadline) and exit kills any still running.
    """

    def __init__(self, problem: RoutingProblem, tasks: Sequence[Task], deadline: float) -> None:
        self.problem = problem
        self.tasks = list(tasks)
        self.deadline = deadline
        self._procs: dict[Connection, tuple[Task, BaseProcess]] = {}

    def __enter__(self) -> Portfolio:
        ctx = mp.get_context("fork")
        for task in self.tasks:
            parent, child = ctx.Pipe(duplex=False)
            proc = ctx.Process(
                target=_child,
                args=(child, self.problem, task, self.deadline, None),
                daemon=True,
            )
            proc.start()
            child.close()
            self._procs[parent] = (task, proc)
        return self

    def collect(self) -> tuple[list[Candidate], list[str]]:
        """The last plan each task reported by the deadline, and one note per task."""
        best: dict[str, Candidate] = {}
        notes = {t.name: "stopped at the deadline" for t in self.tasks}
        open_conns = list(self._procs)
        while open_conns:
            left = self.deadline - time.perf_counter()
            if left <= 0:
                break
            for conn in wait(open_conns, timeout=left):
                assert isinstance(conn, Connection)
                task = self._procs[conn][0]
                try:
                    kind, info, payload = conn.recv()
                except EOFError:
                    notes[task.name] = "process ended without an answer"
                    open_conns.remove(conn)
                    continue
                if kind == "plan":
                    best[task.name] = Candidate(task.name, info, payload)
                else:
                    notes[task.name] = info
                    open_conns.remove(conn)
        for name, note in notes.items():
            log.debug("portfolio task %s: %s", name, note)
        return list(best.values()), [f"{name}: {note}" for name, note in notes.items()]

    def __exit__(self, *exc: object) -> None:
        for conn, (_task, proc) in self._procs.items():
            if proc.is_alive():
                proc.kill()
            proc.join(timeout=1.0)
            conn.close()
        self._procs.clear()
