"""A backtest's files: ``backtest.json`` (every figure) and ``report.html``."""

from __future__ import annotations

import json
from pathlib import Path

from simulations.backtest.runner import BacktestResult


def write_outputs(result: BacktestResult, out_dir: Path, *, report: bool = True) -> dict[str, Path]:
    """Write the JSON (and the HTML report) into ``out_dir``; returns the paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    files = {"json": out_dir / "backtest.json"}
    files["json"].write_text(json.dumps(result.to_json(), indent=2) + "\n", encoding="utf-8")
    if report:
        from simulations.backtest.report import write_report  # matplotlib: only when asked

        files["report"] = write_report(result, out_dir / "report.html")
    return files
