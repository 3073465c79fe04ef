"""The generated batch (`dispatch bench batch`): a valid problem, two checked plans, a table."""

from __future__ import annotations

import pytest

from api.cli_demo import run_demo
from simulations.bench.batch import make_batch, run_batch
from solver.checker import check_routes
from solver.regret_insertion import solve_regret_insertion


def test_demo_batch_is_consistent() -> None:
    """Orders become pairs or committed deliveries; on-board load matches commitments."""
    batch = make_batch(orders=30, couriers=8, seed=3)
    p = batch.problem
    assert p.num_vehicles == 8
    assert p.num_stops == 2 * 30 - batch.on_board
    assert int(p.vehicle_initial_load.sum()) == batch.on_board  # type: ignore[union-attr]
    assert check_routes(p, solve_regret_insertion(p)).feasible


def test_demo_summaries_are_checked_and_optimizer_not_worse() -> None:
    """Both policies serve every order feasibly; the optimiser's plan costs no more."""
    _batch, rows = run_batch(orders=20, couriers=6, seed=5, time_limit=0.5)
    start, best = rows
    assert (start.policy, best.policy) == ("regret-insertion", "optimizer")
    assert start.feasible and best.feasible
    assert start.assigned + start.dropped == 20
    assert best.assigned >= start.assigned
    assert 0.0 <= best.on_time_pct <= 100.0


def test_demo_rendering_prints_a_table(capsys: pytest.CaptureFixture[str]) -> None:
    """The batch renders both plans (independent of how the CLI mounts it)."""
    run_demo(orders=12, couriers=4, seed=7, time_limit=0.3)
    out = capsys.readouterr().out
    assert "regret-insertion" in out and "optimizer" in out
