"""The production policy: regret insertion, then OR-Tools searches under the budget."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from solver import RoutingParams, RoutingResult, solve_regret_insertion, solve_routing

if TYPE_CHECKING:
    from dispatch.tick.build import TickProblem


@dataclass(frozen=True)
class OptimizerPolicy:
    """``solve_routing`` warm-started from the previous plan; never late, never empty.

    The regret-insertion plan is always there as the fallback, so a slow search
    costs quality, never an assignment.
    """

    params: RoutingParams = field(default_factory=lambda: RoutingParams(use_vroom=False))
    name: str = "optimizer"
    orders_per_trip: int | None = None
    tick_on_arrival: bool = False

    def solve(self, tick: TickProblem, budget_s: float) -> RoutingResult:
        p = tick.problem
        if p.num_stops == 0 or p.num_vehicles == 0:
            return solve_regret_insertion(p, initial_routes=tick.initial_routes)
        return solve_routing(p, budget_s, initial_routes=tick.initial_routes, params=self.params)


@dataclass(frozen=True)
class RegretInsertionPolicy:
    """Regret insertion alone (the optimiser's start and fallback), no search."""

    name: str = "regret-insertion"
    orders_per_trip: int | None = None
    tick_on_arrival: bool = False

    def solve(self, tick: TickProblem, budget_s: float) -> RoutingResult:
        return solve_regret_insertion(tick.problem, initial_routes=tick.initial_routes)
