"""`dispatch bench hindsight`: both policies and their bounds, end to end on a short day."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from api.cli_bench import bench_app


def test_the_command_runs_both_policies_against_checked_bounds(tmp_path: Path) -> None:
    md, out = tmp_path / "RESULTS.md", tmp_path / "runs"
    args = ["hindsight", "--seed", "3", "--hours", "0.2", "--budget", "1", "--no-surge"]
    args += ["--out", str(out), "--results-md", str(md)]
    result = CliRunner().invoke(bench_app, args)
    assert result.exit_code == 0, result.output
    text = md.read_text()
    assert text.count("## Hindsight bound") == 1
    assert "dispatch bench hindsight --seed 3 --hours 0.2 --budget 1 --no-surge" in text
    assert "| 3 | optimizer |" in text and "| 3 | nearest-idle |" in text
    for policy in ("optimizer", "nearest-idle"):
        row = json.loads((out / f"hindsight_seed3_{policy}.json").read_text())
        assert row["policy"] == policy and row["seed"] == 3 and row["surge"] is False
        assert row["check"]["valid"] is True, row["check"]["violations"]
        assert row["check"]["dropped_orders"] == []
        late = row["late"]
        assert late["orders"] == late["orders_in_hindsight"] + late["orders_by_dispatch"]
        # the bound serves the run's own day: the same orders, every one delivered
        assert row["hindsight"]["orders_total"] == row["online"]["orders_total"] > 0
        assert row["hindsight"]["orders_delivered"] == row["hindsight"]["orders_total"]
