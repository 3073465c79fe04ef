"""Min-cost matching with masks and unassigned costs, on both back-ends."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from solver.assignment import solve_assignment
from solver.problem import AssignmentProblem
from solver.result import SolveStatus

BACKENDS = ("scipy", "ortools")


def _brute_force(problem: AssignmentProblem) -> tuple[int, int]:
    """(most rows matched, least cost among those) by enumeration; the skip rule applied."""
    cost = problem.cost
    rows, cols = cost.shape
    mask = np.ones(cost.shape, bool) if problem.feasible is None else problem.feasible
    best: tuple[int, int] | None = None
    options = [[-1, *[c for c in range(cols) if mask[r, c]]] for r in range(rows)]
    for choice in itertools.product(*options):
        used = [c for c in choice if c >= 0]
        if len(used) != len(set(used)):
            continue
        total = sum(int(cost[r, c]) for r, c in enumerate(choice) if c >= 0)
        if problem.unassigned_cost is not None:
            total += sum(int(problem.unassigned_cost[r]) for r, c in enumerate(choice) if c < 0)
            key = (0, total)
        else:
            key = (-len(used), total)
        if best is None or key < best:
            best = key
    assert best is not None
    return best


@st.composite
def small_problems(draw: st.DrawFn) -> AssignmentProblem:
    rows = draw(st.integers(1, 5))
    cols = draw(st.integers(0, 5))
    seed = draw(st.integers(0, 2**31))
    rng = np.random.default_rng(seed)
    cost = rng.integers(0, 50, size=(rows, cols))
    feasible = rng.random((rows, cols)) < draw(st.sampled_from([0.3, 0.7, 1.0]))
    unassigned = rng.integers(0, 60, size=rows) if draw(st.booleans()) else None
    return AssignmentProblem(cost=cost, feasible=feasible, unassigned_cost=unassigned)


@settings(max_examples=100, deadline=None)
@given(small_problems(), st.sampled_from(BACKENDS))
def test_matches_brute_force(problem: AssignmentProblem, backend: str) -> None:
    """Both back-ends reach the enumerated optimum and never use an infeasible cell."""
    result = solve_assignment(problem, backend=backend)  # type: ignore[arg-type]
    assert result.status == SolveStatus.OPTIMAL
    assert problem.feasible is not None
    matched = [c for c in result.row_to_col if c >= 0]
    assert len(matched) == len(set(matched))
    for r, c in enumerate(result.row_to_col):
        if c >= 0:
            assert problem.feasible[r, c]
    count, total = _brute_force(problem)
    assert result.cost == total
    if problem.unassigned_cost is None:
        assert len(matched) == -count


def test_backends_agree_on_larger_random_instances() -> None:
    """scipy and OR-Tools give the same total on rectangular instances both ways round."""
    rng = np.random.default_rng(11)
    for rows, cols in ((60, 90), (90, 60), (75, 75)):
        problem = AssignmentProblem(
            cost=rng.integers(0, 10_000, size=(rows, cols)),
            feasible=rng.random((rows, cols)) < 0.2,
            unassigned_cost=rng.integers(2_000, 12_000, size=rows),
        )
        a = solve_assignment(problem, backend="scipy")
        b = solve_assignment(problem, backend="ortools")
        assert a.cost == b.cost
        assert sum(c >= 0 for c in a.row_to_col) > 0


def test_row_without_feasible_column_is_unassigned() -> None:
    """A row whose mask is all False gets -1 even when it would be cheapest."""
    problem = AssignmentProblem(
        cost=np.array([[0, 0], [5, 7]]), feasible=np.array([[False, False], [True, True]])
    )
    for backend in BACKENDS:
        result = solve_assignment(problem, backend=backend)  # type: ignore[arg-type]
        assert result.row_to_col == (-1, 0)
        assert result.cost == 5


def test_unassigned_cost_is_a_threshold() -> None:
    """A row is left out when matching it costs more than leaving it."""
    problem = AssignmentProblem(cost=np.array([[10], [3]]), unassigned_cost=np.array([4, 4]))
    for backend in BACKENDS:
        result = solve_assignment(problem, backend=backend)  # type: ignore[arg-type]
        assert result.row_to_col == (-1, 0)
        assert result.cost == 4 + 3


def test_without_unassigned_cost_as_many_rows_as_possible_are_matched() -> None:
    """With no unassigned cost, matching more rows beats a cheaper smaller matching."""
    cost = np.array([[1, 100], [1, 1000]])
    feasible = np.array([[True, True], [True, False]])
    for backend in BACKENDS:
        result = solve_assignment(
            AssignmentProblem(cost=cost, feasible=feasible),
            backend=backend,  # type: ignore[arg-type]
        )
        assert result.row_to_col == (1, 0)


def test_degenerate_shapes_and_bad_backend() -> None:
    """No rows, no columns, and an unknown back-end name."""
    empty = solve_assignment(AssignmentProblem(cost=np.zeros((0, 3), dtype=np.int64)))
    assert empty.row_to_col == ()
    no_cols = AssignmentProblem(cost=np.zeros((2, 0), dtype=np.int64))
    for backend in BACKENDS:
        assert solve_assignment(no_cols, backend=backend).row_to_col == (-1, -1)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unknown backend"):
        solve_assignment(no_cols, backend="magic")  # type: ignore[arg-type]
