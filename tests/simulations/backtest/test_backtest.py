"""Surge backtests: paired runs on the same days, hand-checked intervals, the command."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from api.cli_backtest import backtest
from dispatch.errors import InvalidInput
from dispatch.surge import default_rules, rules_hash, rules_to_dict
from simulations.backtest import (
    BacktestOptions,
    load_variants,
    paired_diff,
    run_backtest,
    write_outputs,
)
from simulations.sim.scenario import Scenario
from tests.simulations.test_cli import SMALL


def _steep(name: str = "steep") -> dict[str, Any]:
    """The shipped rules with every multiplier pinned at 3."""
    data = rules_to_dict(default_rules())
    data["name"] = name
    pinned = {"curve": [[0.0, 3.0], [1.0, 3.0]], "floor": 3.0, "cap": 3.0}
    data["default"] = {**data["default"], **pinned}
    data["services"] = {k: {**v, **pinned} for k, v in data["services"].items()}
    data["overrides"] = []
    return data


@pytest.fixture
def rule_files(tmp_path: Path) -> dict[str, Path]:
    shipped = rules_to_dict(default_rules())
    files = {
        "default": tmp_path / "default.json",
        "again": tmp_path / "again.json",
        "steep": tmp_path / "steep.json",
    }
    files["default"].write_text(json.dumps(shipped))
    files["again"].write_text(json.dumps(shipped))
    # what GET /v1/surge/rules returns: the set under "rules"
    files["steep"].write_text(json.dumps({"version": 3, "rules": {**_steep(), "version": 3}}))
    return files


def test_paired_diff_matches_a_hand_computed_t_interval() -> None:
    """Differences 1, 2, 3: mean 2, sd 1, half width t(0.975, 2) / sqrt(3) = 2.4843."""
    d = paired_diff([1.0, 2.0, 3.0], [0.0, 0.0, 0.0])
    assert d.mean == pytest.approx(2.0)
    assert d.low == pytest.approx(2.0 - 4.302653 / math.sqrt(3), abs=1e-5)
    assert d.high == pytest.approx(2.0 + 4.302653 / math.sqrt(3), abs=1e-5)
    assert not d.significant  # the interval reaches below zero
    assert paired_diff([5.0, 5.0], [1.0, 1.0]).significant  # the same shift on every seed
    assert paired_diff([1.0], [0.0]).low is None  # one seed: no interval
    assert paired_diff([1.0, None], [0.0, 0.0]).mean is None  # a missing KPI: no difference


def test_identical_rules_differ_by_zero_and_steep_rules_lose_quotes(
    tiny: Scenario, rule_files: dict[str, Path], tmp_path: Path
) -> None:
    """Every variant sees the same requests per seed; the same rules twice give zero
    differences on every KPI; multipliers pinned at 3 decline more quotes on every seed."""
    variants = load_variants([rule_files["default"], rule_files["again"], rule_files["steep"]])
    assert [v.name for v in variants] == ["default", "default (again)", "steep"]
    options = BacktestOptions(variants, scenario=tiny, seeds=2, policy="regret-insertion")
    result = run_backtest(options)
    data = json.loads(json.dumps(result.to_json()))  # what backtest.json holds
    assert data["paired"] and data["seeds"] == [0, 1]
    for key, row in data["kpis"].items():
        same = row["variants"]["default (again)"]
        assert same["values"] == row["variants"]["default"]["values"], key
        if same["diff"]["mean"] is not None:
            assert same["diff"]["mean"] == 0.0 and same["diff"]["ci95"] == [0.0, 0.0], key
    declined = data["kpis"]["quotes_declined"]["variants"]
    assert all(
        s > d
        for s, d in zip(declined["steep"]["values"], declined["default"]["values"], strict=True)
    )
    assert declined["steep"]["diff"]["mean"] > 0
    steep = next(v for v in data["variants"] if v["name"] == "steep")
    assert steep["rules"] == {
        "name": "steep",
        "hash": rules_hash(variants[2].rule_set()),
        "version": 3,
    }
    files = write_outputs(result, tmp_path / "out")
    page = files["report"].read_text()
    assert "95 % CI" in page and "declined quotes (count)" in page
    assert page.count("data:image/png;base64,") == 2 and "http" not in page.split("<body>")[1]


def test_recorded_events_replay_the_same_requests(
    tiny: Scenario, rule_files: dict[str, Path], tmp_path: Path
) -> None:
    """A feed page of GET /v1/events replays its order and job requests: each one is
    quoted once per run, at its recorded time, under each variant's prices."""
    t0 = 1_772_424_000.0
    events = [
        {
            "seq": i + 1,
            "ts": t0 + 60.0 * i,
            "community_id": "c9",
            "type": kind,
            "entity_id": f"x{i}",
            "data": {},
        }
        for i, kind in enumerate(["order.created"] * 8 + ["job.created", "order.assigned"])
    ]
    feed = tmp_path / "feed.json"
    feed.write_text(json.dumps({"events": events, "last_seq": len(events)}))
    variants = load_variants([rule_files["default"], rule_files["steep"]])
    options = BacktestOptions(
        variants, scenario=tiny, seeds=2, policy="regret-insertion", events=feed
    )
    data = run_backtest(options).to_json()
    assert data["events"]["orders"] == 8 and data["events"]["jobs"] == 1
    for name in ("default", "steep"):
        assert data["kpis"]["quotes_total"]["variants"][name]["values"] == [9, 9]
    declined = data["kpis"]["quotes_declined"]["variants"]
    assert declined["steep"]["mean"] > declined["default"]["mean"]


def test_bad_options_are_refused(rule_files: dict[str, Path], tmp_path: Path) -> None:
    """Unknown policies, zero seeds and feeds without requests are InvalidInput."""
    variants = load_variants([rule_files["default"]])
    with pytest.raises(InvalidInput, match="policy"):
        BacktestOptions(variants, policy="greedy")
    with pytest.raises(InvalidInput, match="seeds"):
        BacktestOptions(variants, seeds=0)
    empty = tmp_path / "empty.json"
    empty.write_text(json.dumps({"events": [], "last_seq": 0}))
    with pytest.raises(InvalidInput, match=r"no order\.created"):
        run_backtest(BacktestOptions(variants, events=empty))


def test_backtest_command_writes_json_and_report(
    rule_files: dict[str, Path], tmp_path: Path
) -> None:
    """`dispatch backtest` runs two rule sets in two processes and prints the comparison."""
    scenario = tmp_path / "small.toml"
    scenario.write_text(SMALL)
    app = typer.Typer()
    app.command()(backtest)
    app.command()(lambda: None)  # two commands: typer then expects the command's name
    out = tmp_path / "out"
    args = ["backtest", "--rules", str(rule_files["default"]), "--rules", str(rule_files["steep"])]
    args += ["--scenario", str(scenario), "--seeds", "2", "--policy", "nearest-idle"]
    args += ["--jobs", "2", "--out", str(out)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "declined quotes" in result.output and "steep − default" in result.output
    data = json.loads((out / "backtest.json").read_text())
    assert data["jobs"] == 2 and [v["name"] for v in data["variants"]] == ["default", "steep"]
    assert len(data["runs"]["steep"]) == 2 and (out / "report.html").exists()
    bad = CliRunner().invoke(
        app, [*args[:5], "--scenario", str(tmp_path / "none.toml"), "--out", str(out)]
    )
    assert bad.exit_code == 2 and "not found" in bad.output


def test_a_simulations_event_log_is_a_recorded_day(tiny: Scenario, tmp_path: Path) -> None:
    """events.jsonl of a run gives back one request per order and job the run accepted."""
    from simulations.sim.recorded import read_recorded_demand
    from simulations.sim.runner import SimulationOptions, run

    out = run(SimulationOptions(scenario=tiny, seed=2, policy="nearest-idle", out_dir=tmp_path))
    day = read_recorded_demand(tmp_path / "events.jsonl")
    assert day.community_id == "tiny"
    assert len(day.orders) == out.kpis["orders_total"] and len(day.jobs) == out.kpis["jobs_total"]
    assert day.orders == tuple(sorted(day.orders)) and day.orders[0] >= 0.0
