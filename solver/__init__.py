"""Pure optimisation: integer arrays in, assignments and routes out.

Imports nothing from geo/, dispatch/ or api/. Only the back-end modules talk to OR-Tools.
"""

from solver.errors import InvalidProblem
from solver.problem import NONE, AssignmentProblem, RoutingProblem
from solver.result import AssignmentResult, RoutingResult, SolveStatus

__all__ = [
    "NONE",
    "AssignmentProblem",
    "AssignmentResult",
    "InvalidProblem",
    "RoutingProblem",
    "RoutingResult",
    "SolveStatus",
]
