"""OR-Tools' linear sum assignment, an alternative back-end for ``solve_assignment``."""

from __future__ import annotations

import numpy as np
from ortools.graph.python import linear_sum_assignment


def solve_lsa(matrix: np.ndarray) -> dict[int, int]:
    """Row → column of a min-cost assignment of a (rows, cols ≥ rows) matrix."""
    rows, cols = matrix.shape
    # OR-Tools wants a perfect matching: pad with zero-cost rows to a square.
    matrix = np.vstack([matrix, np.zeros((cols - rows, cols), dtype=matrix.dtype)])
    rows_all = cols
    lsa = linear_sum_assignment.SimpleLinearSumAssignment()
    r_idx = np.repeat(np.arange(rows_all), cols)
    c_idx = np.tile(np.arange(cols), rows_all)
    lsa.add_arcs_with_cost(r_idx, c_idx, matrix.ravel())
    status = lsa.solve()
    if status != lsa.OPTIMAL:
        raise RuntimeError(f"OR-Tools linear sum assignment failed with status {status}")
    return {r: int(lsa.right_mate(r)) for r in range(rows)}
