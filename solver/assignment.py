"""Rectangular min-cost matching with a feasibility mask and an "unassigned" option.

Rows are work (jobs, orders), columns are workers. A row may be left
unassigned at ``unassigned_cost``; infeasible pairs are never matched. The
default back-end is scipy's Jonker-Volgenant solver (measured faster than
OR-Tools' linear sum assignment at 200-2000 rows); OR-Tools is kept as an
alternative that the tests compare against.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from scipy.optimize import linear_sum_assignment

from solver.problem import AssignmentProblem
from solver.result import AssignmentResult, SolveStatus

#: A cost that no real assignment reaches; marks forbidden cells.
_FORBIDDEN_FACTOR = 4


def augmented_cost(problem: AssignmentProblem) -> tuple[np.ndarray, int]:
    """A square-able cost matrix: real columns, then one "unassigned" column per row.

    Returns the matrix and the value used for forbidden cells.
    """
    cost = problem.cost.astype(np.int64)
    rows, _cols = cost.shape
    feasible = np.ones_like(cost, dtype=bool) if problem.feasible is None else problem.feasible
    unassigned = problem.unassigned_cost
    top = int(cost.max(initial=0))
    if unassigned is not None:
        top = max(top, int(unassigned.max(initial=0)))
    big = (top + 1) * _FORBIDDEN_FACTOR * max(1, rows)
    real = np.where(feasible, cost, big)
    dummy = np.full((rows, rows), big, dtype=np.int64)
    # Without an explicit unassigned cost a row is left out only when it must be.
    fallback = big // 2
    diag = unassigned if unassigned is not None else np.full(rows, fallback, dtype=np.int64)
    dummy[np.arange(rows), np.arange(rows)] = diag
    return np.hstack([real, dummy]), big


def solve_assignment(
    problem: AssignmentProblem, *, backend: Literal["scipy", "ortools"] = "scipy"
) -> AssignmentResult:
    """Match rows to columns at least total cost; see the module docstring."""
    rows, cols = problem.cost.shape
    if rows == 0:
        return AssignmentResult(row_to_col=(), cost=0, status=SolveStatus.OPTIMAL)
    matrix, big = augmented_cost(problem)
    if backend == "scipy":
        r_idx, c_idx = linear_sum_assignment(matrix)
        pairs = dict(zip(r_idx.tolist(), c_idx.tolist(), strict=True))
    elif backend == "ortools":
        from solver._ortools_assignment import solve_lsa

        pairs = solve_lsa(matrix)
    else:
        raise ValueError(f"unknown backend {backend!r}")
    row_to_col: list[int] = []
    total = 0
    feasible = problem.feasible
    for r in range(rows):
        c = pairs.get(r, -1)
        if 0 <= c < cols and (feasible is None or feasible[r, c]) and matrix[r, c] < big:
            row_to_col.append(int(c))
            total += int(problem.cost[r, c])
        else:
            row_to_col.append(-1)
            if problem.unassigned_cost is not None:
                total += int(problem.unassigned_cost[r])
    return AssignmentResult(row_to_col=tuple(row_to_col), cost=total, status=SolveStatus.OPTIMAL)
