"""Results returned by every routing and assignment back-end."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field


class SolveStatus(enum.StrEnum):
    """How a solve ended. FEASIBLE and OPTIMAL carry a plan; the others may not."""

    OPTIMAL = "optimal"
    FEASIBLE = "feasible"
    NO_SOLUTION = "no_solution"  # nothing found within the limit
    INFEASIBLE = "infeasible"  # proven infeasible, or the model was rejected


@dataclass(frozen=True)
class RoutingResult:
    """A plan for a RoutingProblem.

    routes[v]: stop indices served by vehicle v, in order (start/end excluded).
    start_times[v][k]: when service starts at routes[v][k] (earliest schedule).
    dropped: stops left unserved. lateness: total time past soft deadlines.
    objective: travel cost + lateness cost + drop penalties + churn + fixed costs.
    backend: which method produced the plan ("ortools", "regret-insertion",
        "vroom+ortools", ...).
    """

    routes: tuple[tuple[int, ...], ...]
    start_times: tuple[tuple[int, ...], ...]
    dropped: tuple[int, ...]
    objective: int
    travel_cost: int
    lateness: int
    status: SolveStatus
    solve_time_s: float
    backend: str
    warnings: tuple[str, ...] = field(default=())

    @property
    def has_plan(self) -> bool:
        return self.status in (SolveStatus.OPTIMAL, SolveStatus.FEASIBLE)

    @property
    def vehicles_used(self) -> int:
        return sum(1 for r in self.routes if r)


@dataclass(frozen=True)
class AssignmentResult:
    """row_to_col[r] is the column matched to row r, or -1 when left unassigned."""

    row_to_col: tuple[int, ...]
    cost: int
    status: SolveStatus
