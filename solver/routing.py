"""The production entry point: ``solve_routing`` always answers in time with a plan.

Pipeline, all inside one wall-clock budget:
1. regret insertion (numpy, milliseconds): the fallback and a warm start;
2. a portfolio of OR-Tools searches, one child process per core, each stopped
   at a hard deadline (OR-Tools' own limit can overrun on the first solution)
   and streaming every improving plan back:
   - local search (guided local search by default) from the best start: a
     VROOM construction when VROOM can express the problem, else the
     regret-insertion plan; on pickup-and-delivery problems our own LNS
     (``solver.lns``) improves the VROOM plan first (``lns_share``); on cold
     solves without pairs it gets a share of the time before local search
     (``vrptw_lns_share``, after VROOM at ``vrptw_vroom_level``);
   - OR-Tools' ruin-and-recreate iterated local search, strong on long routes
     where local search stalls (hinted with the regret-insertion plan on cold
     pickup-and-delivery solves, ``ils_hint``);
3. the best plan by objective wins (serving every mandatory stop first). If no
   search beat the regret-insertion plan in time the result says so:
   ``backend="regret-insertion"`` and a "fallback" warning.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Literal

import numpy as np

from solver.lns import LNS
from solver.objective import evaluate
from solver.portfolio import Candidate, Portfolio, run_task
from solver.problem import NONE, RoutingProblem, routes_from_lists
from solver.pyvrp_search import PYVRP, pyvrp_applies
from solver.pyvrp_search import preload as preload_pyvrp
from solver.regret_insertion import REGRET_INSERTION, solve_regret_insertion
from solver.result import RoutingResult, SolveStatus
from solver.specs import SearchSpec, Task

log = logging.getLogger(__name__)

Metaheuristic = Literal["gls", "sa", "tabu", "greedy_descent", "ils"]
FALLBACK = "fallback: the optimiser found nothing better than the regret-insertion plan"


@dataclass(frozen=True)
class RoutingParams:
    """Knobs of ``solve_routing``; validated on construction.

    metaheuristic: the local search run from the best start plan.
    use_vroom: start local search from a VROOM construction when VROOM can
        express the problem (hard constraints only: no soft deadlines).
    vroom_level / vroom_share: VROOM's exploration level and the share of the
        local-search task's time it may use.
    workers: parallel searches (child processes); 1 runs local search only,
        2 adds iterated local search beside it. Match the cores you can spare.
    isolate: run searches in child processes stopped at the hard deadline; with
        ``False`` one search runs in this process and OR-Tools' limit is trusted.
    deadline_margin_s: time kept back for collecting results and building the answer.
    solution_limit: a work limit besides the time limit: local search stops after
        this many improving plans, and the regret-insertion start polishes to its
        end rather than to a share of the time. A solve that ends by this limit
        (not by the clock) gives the same plan on every run and machine:
        simulations use it.
    ils_hint: on a cold solve (no ``initial_routes``) where iterated local search
        builds its first plan by cheapest insertion (pickup-and-delivery pairs or
        several depots), hand it the regret-insertion plan as a first-solution hint.
        Warm solves (dispatch ticks pass the previous plan) are left as they were
        until this is measured on ticks.
    lns_share: on pickup-and-delivery problems started from a VROOM plan, the
        share of the time left after VROOM that our LNS (``solver.lns``) spends
        improving it before OR-Tools' local search (which rarely moved such a plan
        within a second in a probe) takes over; 0 leaves it all to OR-Tools.
    vrptw_vroom_level / vrptw_lns_share: on a cold solve without pickup-and-delivery
        pairs (no ``initial_routes``: a benchmark instance, not a dispatch tick), the
        VROOM level of the local-search task and the share of the time left after VROOM
        that our LNS spends on its plan before guided local search takes over. Within
        its 60 % of 2 s, level 4 often stopped at its timeout on long routes with a poor
        plan that guided local search hardly moved; level 2 ends in time and leaves the
        rest to improve it. Warm solves keep ``vroom_level`` and no LNS.
    pyvrp_partner: on a cold solve (no ``initial_routes``, searches ended by the clock)
        of a problem PyVRP expresses exactly (``solver.pyvrp_search.pyvrp_applies``:
        closed routes, hard constraints only), the first member runs PyVRP's iterated
        local search, far stronger on long routes than OR-Tools within seconds; the
        second member is "local" (the VROOM + OR-Tools local search, which still wins
        some long pickup-and-delivery routes), "ils" (OR-Tools' iterated local search)
        or "pyvrp" (PyVRP again with another seed). "off" keeps the OR-Tools members
        everywhere. Dispatch ticks are warm and hindsight slices have soft deadlines,
        so neither reaches PyVRP.
    """

    metaheuristic: Metaheuristic = "gls"
    use_vroom: bool = True
    vroom_level: int = 4
    vroom_share: float = 0.6
    workers: int = 2
    isolate: bool = True
    deadline_margin_s: float = 0.04
    solution_limit: int | None = None
    ils_hint: bool = True
    lns_share: float = 1.0
    vrptw_vroom_level: int = 2
    vrptw_lns_share: float = 0.5
    pyvrp_partner: Literal["off", "local", "ils", "pyvrp"] = "local"

    def __post_init__(self) -> None:
        if self.metaheuristic not in ("gls", "sa", "tabu", "greedy_descent", "ils"):
            raise ValueError(f"unknown metaheuristic {self.metaheuristic!r}")
        if not 0 <= self.vroom_level <= 5:
            raise ValueError("vroom_level must lie in [0, 5]")
        if not 0.0 < self.vroom_share < 1.0:
            raise ValueError("vroom_share must lie in (0, 1)")
        if not 1 <= self.workers <= 16:
            raise ValueError("workers must lie in [1, 16]")
        if not 0.0 <= self.lns_share <= 1.0:
            raise ValueError("lns_share must lie in [0, 1]")
        if not 0 <= self.vrptw_vroom_level <= 5:
            raise ValueError("vrptw_vroom_level must lie in [0, 5]")
        if not 0.0 <= self.vrptw_lns_share <= 1.0:
            raise ValueError("vrptw_lns_share must lie in [0, 1]")
        if self.pyvrp_partner not in ("off", "local", "ils", "pyvrp"):
            raise ValueError("pyvrp_partner must be one of off, local, ils, pyvrp")
        if not 0 <= self.deadline_margin_s < 1.0:
            raise ValueError("deadline_margin_s must lie in [0, 1)")
        if self.solution_limit is not None and self.solution_limit < 1:
            raise ValueError("solution_limit must be at least 1 (or None)")


def _mandatory_missing(problem: RoutingProblem, result: RoutingResult) -> int:
    assert problem.drop_penalty is not None and problem.committed_vehicle is not None
    return sum(
        1
        for s in result.dropped
        if problem.drop_penalty[s] == NONE or problem.committed_vehicle[s] != NONE
    )


def better(problem: RoutingProblem, a: RoutingResult, b: RoutingResult | None) -> bool:
    """Whether plan a beats plan b: fewer unserved mandatory stops first, then objective."""
    if b is None:
        return True
    key_a = (_mandatory_missing(problem, a), a.objective)
    key_b = (_mandatory_missing(problem, b), b.objective)
    return key_a < key_b


def vroom_applies(problem: RoutingProblem) -> bool:
    """VROOM sees only hard constraints: worth it when soft deadlines do not drive the cost
    (and it knows no one-group-per-trip rule and no per-vehicle pickup deadline)."""
    return problem.only_plain_rules()


def _temperature(problem: RoutingProblem) -> float:
    """Annealing scale from the data alone: 1.5 x the mean cost to a stop's 5 nearest places.

    About one arc of a good plan, so a rebuild that costs one extra arc is
    accepted now and then early on and almost never at the end.
    """
    cost = problem.travel_cost
    assert cost is not None
    if problem.num_stops == 0:
        return 1.0
    places = np.unique(np.concatenate([problem.stop_location, problem.vehicle_start]))
    sub = cost[np.ix_(problem.stop_location, places)].astype(np.float64)
    sub[sub <= 0] = np.inf
    k = min(5, sub.shape[1])
    near = np.partition(sub, k - 1, axis=1)[:, :k]
    finite = near[np.isfinite(near)]
    return float(1.5 * finite.mean()) if finite.size else 1.0


def _ils_first(problem: RoutingProblem) -> str:
    """Savings builds many short routes to ruin and recreate; it needs one depot, no pairs."""
    assert problem.vehicle_end is not None
    starts = set(problem.vehicle_start.tolist())
    ends = set(problem.vehicle_end.tolist())
    if not problem.pairs_list() and len(starts) == 1 and starts == ends:
        return "PARALLEL_SAVINGS"
    return "LOCAL_CHEAPEST_INSERTION"


def _cold_vrptw(problem: RoutingProblem, initial_routes: object) -> bool:
    """A solve from scratch without pickup-and-delivery pairs (dispatch ticks are warm)."""
    return initial_routes is None and not problem.pairs_list()


def _vroom_level(problem: RoutingProblem, prm: RoutingParams, initial_routes: object) -> int:
    """VROOM's exploration level for the local-search task's start."""
    return prm.vrptw_vroom_level if _cold_vrptw(problem, initial_routes) else prm.vroom_level


def _lns_share(problem: RoutingProblem, prm: RoutingParams, initial_routes: object) -> float:
    """Share of the time after VROOM our LNS spends on VROOM's plan (see RoutingParams)."""
    if problem.pairs_list():
        return prm.lns_share
    return prm.vrptw_lns_share if _cold_vrptw(problem, initial_routes) else 0.0


def plan_tasks(
    problem: RoutingProblem,
    prm: RoutingParams,
    initial_routes: Sequence[Sequence[int]] | None = None,
) -> list[Task]:
    """The searches to run: local search first, then iterated local search."""
    use_vroom = prm.use_vroom and vroom_applies(problem) and prm.metaheuristic != "ils"
    workers = prm.workers if prm.isolate else 1
    temperature = _temperature(problem)
    seed = None if initial_routes is None else routes_from_lists(initial_routes)
    local = Task(
        name=f"vroom+{prm.metaheuristic}" if use_vroom else prm.metaheuristic,
        spec=SearchSpec(
            method=prm.metaheuristic, temperature=temperature, solution_limit=prm.solution_limit
        ),
        vroom_level=_vroom_level(problem, prm, initial_routes) if use_vroom else None,
        vroom_share=prm.vroom_share,
        vroom_threads=1 if workers > 1 else 2,
        initial_routes=seed,
        lns_share=_lns_share(problem, prm, initial_routes) if use_vroom else 0.0,
    )
    tasks = [local]
    if workers > 1 and prm.metaheuristic != "ils":
        first = _ils_first(problem)
        ils = SearchSpec(
            method="ils",
            first=first,
            temperature=temperature,
            solution_limit=prm.solution_limit,
        )
        # Savings gained nothing from a hint in a probe; cheapest insertion did.
        hint = prm.ils_hint and initial_routes is None and first == "LOCAL_CHEAPEST_INSERTION"
        tasks.append(Task(name="ils", spec=ils, ils_hint=hint))
    if _pyvrp_leads(problem, prm, initial_routes):
        preload_pyvrp()  # the forked member starts searching at once
        partner = {"local": tasks[:1], "ils": tasks[1:2], "pyvrp": [_pyvrp_task(seed=1)]}
        tasks = [_pyvrp_task(seed=0), *partner[prm.pyvrp_partner]]
    return tasks[:workers]


def _pyvrp_leads(problem: RoutingProblem, prm: RoutingParams, initial_routes: object) -> bool:
    """Whether PyVRP takes the first member (see ``RoutingParams.pyvrp_partner``)."""
    if prm.pyvrp_partner == "off" or initial_routes is not None:
        return False
    if prm.solution_limit is not None or prm.metaheuristic == "ils":
        return False  # a search ended by work, or an explicit OR-Tools choice
    return pyvrp_applies(problem)


def _pyvrp_task(seed: int) -> Task:
    return Task(name=PYVRP if seed == 0 else f"{PYVRP}-{seed}", engine=PYVRP, seed=seed)


def solve_routing(
    problem: RoutingProblem,
    time_limit_s: float,
    *,
    initial_routes: Sequence[Sequence[int]] | None = None,
    params: RoutingParams | None = None,
) -> RoutingResult:
    """Best plan found within ``time_limit_s`` (wall clock, model building included).

    Always returns a plan (the regret-insertion one at worst); ``initial_routes``
    (e.g. the previous plan) seed the regret-insertion plan and through it every search.
    """
    if not time_limit_s > 0:
        raise ValueError("time_limit_s must be positive")
    prm = params or RoutingParams()
    t0 = time.perf_counter()
    deadline = t0 + time_limit_s - min(prm.deadline_margin_s, time_limit_s * 0.1)
    if problem.num_stops == 0 or problem.num_vehicles == 0:
        return _finish(solve_regret_insertion(problem, initial_routes=initial_routes), t0, [])
    tasks = plan_tasks(problem, prm, initial_routes)
    fallback_limit = None if prm.solution_limit is not None else time_limit_s * 0.1
    if prm.isolate:
        # Searches start first; the regret-insertion fallback is built while they run.
        with Portfolio(problem, tasks, deadline) as portfolio:
            fallback = solve_regret_insertion(
                problem, initial_routes=initial_routes, time_limit_s=fallback_limit
            )
            candidates, notes = portfolio.collect()
    else:
        fallback = solve_regret_insertion(
            problem, initial_routes=initial_routes, time_limit_s=fallback_limit
        )
        start = [list(r) for r in fallback.routes] if fallback.has_plan else None
        candidates, notes = _run_inline(problem, tasks[0], deadline, start)
    best = fallback
    for cand in candidates:
        result = evaluate(
            problem,
            cand.routes,
            status=SolveStatus.FEASIBLE,
            solve_time_s=0.0,
            backend=_backend(cand),
        )
        if not better(problem, best, result):
            best = result
    warnings: list[str] = []
    if best is fallback or best.backend == REGRET_INSERTION:
        warnings.append(FALLBACK)
        log.info("no search beat the regret-insertion plan: %s", "; ".join(notes))
    return _finish(best, t0, warnings)


def _backend(cand: Candidate) -> str:
    """Who made the plan: "vroom", "regret-insertion" (a start OR-Tools could not improve),
    "vroom+lns" (our LNS after VROOM), "vroom+ortools", "ortools", "ortools-ils" or "pyvrp"."""
    if cand.stage == PYVRP:
        return PYVRP
    if cand.stage.startswith("start:"):
        return cand.stage.removeprefix("start:")
    if cand.stage in (LNS, f"start:{LNS}"):
        return "vroom+lns" if cand.task.startswith("vroom") else LNS
    if cand.task == "ils":
        return "ortools-ils"
    return "vroom+ortools" if cand.task.startswith("vroom") else "ortools"


def _run_inline(
    problem: RoutingProblem,
    task: Task,
    deadline: float,
    start: Sequence[Sequence[int]] | None,
) -> tuple[list[Candidate], list[str]]:
    """One search in this process (no hard deadline beyond OR-Tools' own limit)."""
    found: list[Candidate] = []

    def send(routes: list[list[int]], stage: str) -> None:
        found[:] = [Candidate(task.name, stage, routes)]

    note = run_task(problem, task, deadline, start, send)
    return found, [f"{task.name}: {note}"]


def _finish(result: RoutingResult, t0: float, warnings: list[str]) -> RoutingResult:
    return replace(
        result,
        solve_time_s=time.perf_counter() - t0,
        warnings=(*result.warnings, *warnings),
    )
