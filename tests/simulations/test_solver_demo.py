"""The demo batch: a valid problem, two checked plans, a rendered table."""

from __future__ import annotations

import pytest

from api.cli_demo import run_demo
from simulations.solver_demo import make_batch, run
from solver.checker import check_routes
from solver.greedy import solve_greedy


def test_demo_batch_is_consistent() -> None:
    """Orders become pairs or committed deliveries; on-board load matches commitments."""
    batch = make_batch(orders=30, couriers=8, seed=3)
    p = batch.problem
    assert p.num_vehicles == 8
    assert p.num_stops == 2 * 30 - batch.on_board
    assert int(p.vehicle_initial_load.sum()) == batch.on_board  # type: ignore[union-attr]
    assert check_routes(p, solve_greedy(p)).feasible


def test_demo_summaries_are_checked_and_optimizer_not_worse() -> None:
    """Both policies serve every order feasibly; the optimiser's plan costs no more."""
    _batch, rows = run(orders=20, couriers=6, seed=5, time_limit=0.5)
    greedy, best = rows
    assert greedy.feasible and best.feasible
    assert greedy.assigned + greedy.dropped == 20
    assert best.assigned >= greedy.assigned
    assert 0.0 <= best.on_time_pct <= 100.0


def test_demo_rendering_prints_a_table(capsys: pytest.CaptureFixture[str]) -> None:
    """The solver-batch demo renders both policies (independent of how the CLI mounts it)."""
    run_demo(orders=12, couriers=4, seed=7, time_limit=0.3)
    out = capsys.readouterr().out
    assert "greedy" in out and "optimizer" in out
