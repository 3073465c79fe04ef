"""The production policy: regret insertion, then our LNS and/or OR-Tools under the budget."""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from solver import (
    FALLBACK,
    REGRET_INSERTION,
    RoutingParams,
    RoutingResult,
    solve_regret_insertion,
    solve_routing,
)
from solver.lns import LnsParams, solve_lns
from solver.routing import better

if TYPE_CHECKING:
    from dispatch.tick.build import TickProblem

#: LNS iterations per tick when searches end by work (``RoutingParams.solution_limit``
#: set: reproducible simulations), so the clock never decides where the search stops.
REPRODUCIBLE_LNS_ITERATIONS = 200
#: Most of the budget the start's relocate pass may use (it needs far less on an idle
#: machine; on a busy one the LNS then gets what is left).
START_SHARE = 0.5
#: The backend tag of a regret-insertion plan built without the previous plan that
#: beat the warm-started one (the previous plan had drifted far from a good one).
COLD_START = "regret-insertion-cold"
#: Shortest OR-Tools pass worth starting after the LNS (seconds).
MIN_ORTOOLS_S = 0.02


@dataclass(frozen=True)
class OptimizerPolicy:
    """The regret-insertion plan (warm-started from the previous one), then searches.

    lns: our large-neighbourhood search from that start (None: OR-Tools alone, the
        policy before issue 15).
    ortools_share: share of the search time left after the start given to an OR-Tools
        pass (``solve_routing``) from the LNS plan; 0 runs the LNS alone.
    cold_start: also build a regret-insertion plan without the previous plan and start
        the LNS from the better of the two (by the objective, churn included).

    The regret-insertion plan is always there as the fallback, so a slow search
    costs quality, never an assignment. The result's ``backend`` names the stage
    whose plan won ("lns", "ortools", ... or "regret-insertion" with the FALLBACK
    warning when no search beat the start).
    """

    params: RoutingParams = field(default_factory=lambda: RoutingParams(use_vroom=False))
    lns: LnsParams | None = field(default_factory=LnsParams)
    ortools_share: float = 0.0
    cold_start: bool = True
    name: str = "optimizer"
    orders_per_trip: int | None = None
    tick_on_arrival: bool = False

    def __post_init__(self) -> None:
        if not 0.0 <= self.ortools_share <= 1.0:
            raise ValueError("ortools_share must lie in [0, 1]")

    def solve(self, tick: TickProblem, budget_s: float) -> RoutingResult:
        p = tick.problem
        if p.num_stops == 0 or p.num_vehicles == 0:
            return solve_regret_insertion(p, initial_routes=tick.initial_routes)
        if self.lns is None:
            return solve_routing(
                p, budget_s, initial_routes=tick.initial_routes, params=self.params
            )
        return self._search(tick, budget_s, self.lns)

    def _search(self, tick: TickProblem, budget_s: float, lns: LnsParams) -> RoutingResult:
        p, prm = tick.problem, self.params
        t0 = time.perf_counter()
        deadline = t0 + budget_s - min(prm.deadline_margin_s, budget_s * 0.1)
        by_work = prm.solution_limit is not None
        if by_work and lns.max_iterations is None:
            lns = replace(lns, max_iterations=REPRODUCIBLE_LNS_ITERATIONS)
        # The start's relocate pass runs to its pass limit when searches end by work (the
        # same plan on every run), else to its pass limit or half the budget, if sooner.
        start = solve_regret_insertion(
            p,
            initial_routes=tick.initial_routes,
            time_limit_s=None if by_work else budget_s * START_SHARE,
        )
        first = start
        spent = time.perf_counter() - t0
        # a cold build costs about what the warm one did: only when it leaves the LNS time
        if self.cold_start and any(tick.initial_routes) and deadline - t0 > 4 * spent:
            cold = solve_regret_insertion(p)
            if better(p, cold, start):
                first = replace(cold, backend=COLD_START)
        left = max(0.0, deadline - time.perf_counter())
        best = solve_lns(p, first, left * (1.0 - self.ortools_share), params=lns).result
        left = deadline - time.perf_counter()
        if self.ortools_share > 0 and left >= MIN_ORTOOLS_S:
            routed = solve_routing(p, left, initial_routes=best.routes, params=prm)
            if routed.backend != REGRET_INSERTION and better(p, routed, best):
                best = routed
        warnings = [w for w in best.warnings if w != FALLBACK]
        if not better(p, best, start):
            best, warnings = start, [*start.warnings, FALLBACK]
        return replace(best, solve_time_s=time.perf_counter() - t0, warnings=tuple(warnings))


@dataclass(frozen=True)
class RegretInsertionPolicy:
    """Regret insertion alone (the optimiser's start and fallback), no search."""

    name: str = "regret-insertion"
    orders_per_trip: int | None = None
    tick_on_arrival: bool = False

    def solve(self, tick: TickProblem, budget_s: float) -> RoutingResult:
        return solve_regret_insertion(tick.problem, initial_routes=tick.initial_routes)
