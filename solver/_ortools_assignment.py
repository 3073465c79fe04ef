"""OR-Tools' linear sum assignment on the sparse augmented problem.

OR-Tools wants a perfect matching of equal sides, so the left side holds
the R rows plus C padding nodes and the right side the C columns plus R
dummies (dummy r: row r unmatched). Arcs: feasible cells at their cost,
row r → dummy r at its skip cost, padding p → column p at 0, and padding p →
dummy r at 0 for every row r that may take column p (so whichever row takes
column p frees its dummy for padding p). Every matching of rows extends to a
perfect one at the same cost, so the optimum is the rows' optimum.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from ortools.graph.python import linear_sum_assignment

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


def match_sparse(cost: IntArray, feasible: BoolArray, skip: IntArray) -> list[int]:
    """Column per row (-1: unmatched) of a min-cost assignment; see the module docstring."""
    rows, cols = cost.shape
    r_idx, c_idx = np.nonzero(feasible)
    arange_r, arange_c = np.arange(rows), np.arange(cols)
    tails = np.concatenate([r_idx, arange_r, rows + arange_c, rows + c_idx])
    heads = np.concatenate([c_idx, cols + arange_r, arange_c, cols + r_idx])
    costs = np.concatenate(
        [cost[r_idx, c_idx], skip, np.zeros(cols + r_idx.size, dtype=np.int64)]
    ).astype(np.int64)
    lsa = linear_sum_assignment.SimpleLinearSumAssignment()
    lsa.add_arcs_with_cost(tails, heads, costs)
    status = lsa.solve()
    if status != lsa.OPTIMAL:
        raise RuntimeError(f"OR-Tools linear sum assignment failed with status {status}")
    out: list[int] = []
    for r in range(rows):
        c = int(lsa.right_mate(r))
        out.append(c if c < cols else -1)
    return out
