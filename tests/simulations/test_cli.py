"""`dispatch simulate` and `dispatch demo` as command functions (CliRunner, no subprocess)."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from typer.testing import CliRunner

from api.cli_simulate import demo, simulate
from tests.simulations.conftest import write_mdrp_instance

SMALL = """
name = "small"
hours = 0.5
drain_min = 20.0
[community]
id = "small"
radius_m = 1000.0
dispatch_interval_s = 30.0
solver_budget_s = 1.0
[[merchants]]
service = "takeout"
count = 2
share = 1.0
prep_min = 5.0
[residents]
count = 30
[orders]
base_per_hour = 20.0
[[couriers]]
count = 3
end_h = 1.0
[solver]
metaheuristic = "greedy_descent"
use_vroom = false
isolate = false
"""


def _app() -> typer.Typer:
    app = typer.Typer()
    app.command()(simulate)
    app.command()(demo)
    return app


def test_simulate_writes_outputs_and_prints_kpis(tmp_path: Path) -> None:
    """A scenario file runs end to end; the table and the files' paths are printed."""
    scenario = tmp_path / "small.toml"
    scenario.write_text(SMALL)
    out = tmp_path / "out"
    result = CliRunner().invoke(
        _app(),
        [
            "simulate",
            "--scenario",
            str(scenario),
            "--policy",
            "nearest-idle",
            "--surge",
            "off",
            "--seed",
            "4",
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "on time" in result.output and "report" in result.output
    kpis = json.loads((out / "kpis.json").read_text())
    assert kpis["run"]["surge"] is False and kpis["max_surge_multiplier"] in (None, 1.0)
    assert (out / "report.html").exists() and (out / "events.jsonl").exists()


def test_bad_scenario_is_a_clean_error(tmp_path: Path) -> None:
    """A scenario with a typo exits with code 2 and names the field."""
    bad = tmp_path / "bad.toml"
    bad.write_text(SMALL.replace("base_per_hour", "base_per_hr"))
    result = CliRunner().invoke(_app(), ["simulate", "--scenario", str(bad)])
    assert result.exit_code == 2
    assert "orders.base_per_hr: unknown field" in result.output


def test_simulate_replays_mdrp_and_writes_a_solution(tmp_path: Path) -> None:
    """--mdrp with --mdrp-solution writes the three files and MDRP metrics."""
    inst = write_mdrp_instance(tmp_path / "inst")
    sol = tmp_path / "sol"
    result = CliRunner().invoke(
        _app(),
        [
            "simulate",
            "--mdrp",
            str(inst),
            "--policy",
            "nearest-idle",
            "--out",
            str(tmp_path / "o"),
            "--mdrp-solution",
            str(sol),
        ],
    )
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in sol.iterdir()) == [
        "solution_info_assignments.txt",
        "solution_info_couriers.txt",
        "solution_info_orders.txt",
    ]
    assert json.loads((tmp_path / "o" / "kpis.json").read_text())["mdrp"]["orders_delivered"] > 0


def test_demo_prints_the_report_path(tmp_path: Path) -> None:
    """`demo` runs the default community briefly and says where the report is."""
    out = tmp_path / "demo"
    result = CliRunner().invoke(
        _app(), ["demo", "--hours", "0.25", "--policy", "nearest-idle", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert "report:" in result.output and (out / "report.html").exists()


def test_rules_file_changes_prices(tmp_path: Path) -> None:
    """--rules loads a rule set from the JSON GET /v1/surge/rules returns; capping every
    multiplier at 1 removes surge; kpis.json and the report name the set (name, hash,
    version)."""
    from dispatch.surge import default_rules, rules_to_dict

    data = rules_to_dict(default_rules())
    data.pop("version", None)
    flat = {"curve": [[0.0, 1.0], [1.0, 1.0]], "floor": 1.0, "cap": 1.0}
    data["default"] = {**data["default"], **flat}
    data["services"] = {k: {**v, **flat} for k, v in data["services"].items()}
    data["overrides"] = []
    data["name"] = "flat"
    rules = tmp_path / "flat.json"
    rules.write_text(json.dumps({"version": 4, "rules": data}))  # as GET /v1/surge/rules
    scenario = tmp_path / "small.toml"
    scenario.write_text(SMALL)
    out = tmp_path / "out"
    result = CliRunner().invoke(
        _app(),
        [
            "simulate",
            "--scenario",
            str(scenario),
            "--policy",
            "nearest-idle",
            "--rules",
            str(rules),
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    kpis = json.loads((out / "kpis.json").read_text())
    assert kpis["run"]["surge"] is True and kpis["max_surge_multiplier"] == 1.0
    assert kpis["quotes_declined"] == 0
    assert kpis["run"]["rules"]["name"] == "flat" and kpis["run"]["rules"]["version"] == 4
    assert len(kpis["run"]["rules"]["hash"]) == 16
    assert "flat" in (out / "report.html").read_text()
    assert "surge rules: flat (hash" in result.output


def test_demo_compares_with_the_nearest_idle_baseline(tmp_path: Path) -> None:
    """By default the demo also runs nearest-idle on the same day, prints both columns and
    writes one report holding both (the baseline's KPIs and events beside it)."""
    out = tmp_path / "demo"
    result = CliRunner().invoke(
        _app(), ["demo", "--hours", "0.15", "--out", str(out)], terminal_width=200
    )
    assert result.exit_code == 0, result.output
    header = next(line for line in result.output.splitlines() if "KPI" in line)
    assert "optimizer" in header and "nearest-idle" in header
    page = (out / "report.html").read_text()
    assert "optimizer vs nearest-idle" in page and page.count("<h2>nearest-idle</h2>") == 1
    assert not (out / "nearest-idle" / "report.html").exists()
    assert (out / "nearest-idle" / "kpis.json").exists()


def test_policy_choices_are_the_registry() -> None:
    """--policy offers exactly dispatch.policies.POLICIES; an old name is refused by the CLI."""
    from dispatch.policies import POLICIES

    result = CliRunner().invoke(_app(), ["simulate", "--policy", "greedy"], terminal_width=200)
    assert result.exit_code == 2
    for name in POLICIES:
        assert name in result.output
