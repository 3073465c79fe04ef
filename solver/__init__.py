"""Pure optimisation: integer arrays in, assignments and routes out.

Imports nothing from geo/, dispatch/ or api/. Only the back-end modules talk to OR-Tools.
The entry points: ``solve_routing`` (the production pipeline under a deadline),
``solve_regret_insertion`` (its start and fallback), ``solve_assignment``,
``evaluate`` (the one objective) and ``check_routes`` (an independent checker).
"""

from solver.assignment import solve_assignment
from solver.checker import check_routes
from solver.errors import InvalidProblem
from solver.objective import evaluate
from solver.problem import NONE, AssignmentProblem, RoutingProblem
from solver.regret_insertion import REGRET_INSERTION, solve_regret_insertion
from solver.result import AssignmentResult, RoutingResult, SolveStatus
from solver.routing import FALLBACK, RoutingParams, solve_routing

__all__ = [
    "FALLBACK",
    "NONE",
    "REGRET_INSERTION",
    "AssignmentProblem",
    "AssignmentResult",
    "InvalidProblem",
    "RoutingParams",
    "RoutingProblem",
    "RoutingResult",
    "SolveStatus",
    "check_routes",
    "evaluate",
    "solve_assignment",
    "solve_regret_insertion",
    "solve_routing",
]
