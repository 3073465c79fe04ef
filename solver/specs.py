"""Plain descriptions of the searches the portfolio runs (no OR-Tools import here)."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["SearchSpec", "Task"]


@dataclass(frozen=True)
class SearchSpec:
    """One OR-Tools search: how to find a first plan and how to improve it.

    method: "gls", "sa", "tabu", "greedy_descent" (OR-Tools' local search
        metaheuristic run from the start plan or the first-solution heuristic) or
        "ils" (ruin-and-recreate iterated local search: string removals, cheapest
        reinsertion, simulated annealing).
    first: first-solution heuristic name (``None``: chosen from the problem).
    temperature: ILS starting temperature in cost units (end: 1 % of it).
    plain: the untuned baseline (PATH_CHEAPEST_ARC + GLS, no warm start).
    solution_limit: stop after this many solutions (None: only the time limit).
    """

    method: str = "gls"
    first: str | None = None
    temperature: float = 100.0
    plain: bool = False
    solution_limit: int | None = None


@dataclass(frozen=True)
class Task:
    """One member of the portfolio: an optional VROOM construction, then OR-Tools.

    vroom_level: VROOM exploration level for the construction (None: no VROOM).
    vroom_share: share of the task's time VROOM may use.
    vroom_threads: threads VROOM may use (one per core the task owns).
    initial_routes: plan to seed the regret-insertion start with (e.g. the previous plan).
    ils_hint: iterated local search builds a regret-insertion plan first and hands it
        to OR-Tools as the hint for its first solution (cheapest insertion alone
        starts pickup-and-delivery searches far from a good plan).
    lns_share: share of the time left after the start plans that our own
        ruin-and-recreate search (``solver.lns``) spends on the best start before
        OR-Tools' local search takes over (0: none; 1: OR-Tools gets no time).
    engine: "ortools" (the fields above) or "pyvrp" (PyVRP's iterated local search
        for the whole time, seeded with ``seed``; the OR-Tools fields are unused).
    """

    name: str
    spec: SearchSpec = field(default_factory=SearchSpec)
    vroom_level: int | None = None
    vroom_share: float = 0.5
    vroom_threads: int = 1
    initial_routes: tuple[tuple[int, ...], ...] | None = None
    ils_hint: bool = False
    lns_share: float = 0.0
    engine: str = "ortools"
    seed: int = 0
