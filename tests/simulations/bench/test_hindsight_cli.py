"""`dispatch bench hindsight`: both policies and their bounds, end to end on a short day."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from typer.testing import CliRunner

from api.cli_bench import bench_app
from simulations.bench import hindsight_bench
from simulations.hindsight.shared import MAX_INSERTED
from simulations.sim.runner import SimulationOptions
from simulations.sim.scenario import load_scenario


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
    assert "our LNS from the better of its plan and the run's own routes" in text
    for policy in ("optimizer", "nearest-idle"):
        row = json.loads((out / f"hindsight_seed3_{policy}.json").read_text())
        assert row["policy"] == policy and row["seed"] == 3 and row["surge"] is False
        assert row["check"]["valid"] is True, row["check"]["violations"]
        assert row["check"]["courier_start"] in ("rolling-horizon", "realised")
        assert row["check"]["dropped_orders"] == []
        late = row["late"]
        assert late["orders"] == late["orders_in_hindsight"] + late["orders_by_dispatch"]
        # the bound serves the run's own day: the same orders, every one delivered
        assert row["hindsight"]["orders_total"] == row["online"]["orders_total"] > 0
        assert row["hindsight"]["orders_delivered"] == row["hindsight"]["orders_total"]


def test_reproducible_runs_give_the_same_online_day_twice(tmp_path: Path) -> None:
    """With --reproducible the runs' searches end by work: two runs of one seed report
    the same online figures, and the section and command say how the ticks searched."""
    online = []
    for n in range(2):
        md, out = tmp_path / f"R{n}.md", tmp_path / f"runs{n}"
        args = ["hindsight", "--seed", "5", "--hours", "0.3", "--budget", "0.5", "--surge"]
        args += ["--reproducible", "--out", str(out), "--results-md", str(md)]
        result = CliRunner().invoke(bench_app, args)
        assert result.exit_code == 0, result.output
        text = md.read_text()
        assert "--budget 0.5 --surge --reproducible" in text
        assert "every tick's search ended by work" in text
        row = json.loads((out / "hindsight_seed5_optimizer.json").read_text())
        assert row["online"]["orders_total"] > 0
        online.append(row["online"])
    assert online[0] == online[1]


def test_the_runs_are_simulated_as_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    """The flag reaches the simulator: each run's options carry it (and the seed, hours
    and surge), so a reproducible bench runs the same days as ``ontime.py --reproducible``."""
    seen: list[SimulationOptions] = []

    def fake_run(options: SimulationOptions) -> SimpleNamespace:
        seen.append(options)
        return SimpleNamespace(result="day")

    monkeypatch.setattr(hindsight_bench, "run", fake_run)
    for flag in (True, False):
        day, _ = hindsight_bench.simulate("optimizer", 7, 1.5, False, flag)
        assert day == "day"
        assert (seen[-1].reproducible, seen[-1].seed, seen[-1].hours) == (flag, 7, 1.5)
        assert seen[-1].surge is False and seen[-1].policy == "optimizer"


def test_no_run_start_and_target_reach_every_bound(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``--no-run-start`` gives no bound the run's routes and ``--target fastest`` makes
    every bound aim at the fastest delivery, and the section says both; by default every
    bound gets its own run's routes and aims at the promises; a bad target is refused."""
    calls: list[tuple[object, object]] = []
    real = hindsight_bench.solve_day

    def spy(*args: object, **kwargs: object) -> object:
        calls.append((kwargs.get("start"), kwargs.get("target")))
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(hindsight_bench, "solve_day", spy)
    md = tmp_path / "R.md"
    args = ["hindsight", "--seed", "3", "--hours", "0.2", "--budget", "0.5", "--no-surge"]
    more = ["--no-run-start", "--target", "fastest", "--results-md", str(md)]
    result = CliRunner().invoke(bench_app, [*args, *more])
    assert result.exit_code == 0, result.output
    assert calls == [(None, "fastest"), (None, "fastest")]
    text = md.read_text()
    assert "--no-surge --no-run-start --target fastest" in text
    assert "the rolling horizon alone" in text and "aims at its fastest possible time" in text
    result = CliRunner().invoke(bench_app, [*args, "--results-md", str(md)])
    assert result.exit_code == 0, result.output
    assert len(calls) == 4
    assert all(isinstance(start, dict) and aim == "promise" for start, aim in calls[2:])
    assert "aims at its promise" in md.read_text().rsplit("## Hindsight bound", 1)[1]
    result = CliRunner().invoke(bench_app, [*args, "--target", "soonest"])
    assert result.exit_code == 2 and len(calls) == 4


def test_runs_of_one_day_share_the_better_bound_unless_told_not_to(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """By default each run is offered the other run's bound (``shared.transfer``) and the
    section says so; a borrowed bound names its run; ``--no-share`` offers none."""
    offered: list[int] = []
    real = hindsight_bench.transfer

    def spy(*args: object, **kwargs: object) -> object:
        offered.append(1)
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(hindsight_bench, "transfer", spy)
    md, out = tmp_path / "R.md", tmp_path / "runs"
    args = ["hindsight", "--seed", "3", "--hours", "0.2", "--budget", "0.5", "--no-surge"]
    result = CliRunner().invoke(bench_app, [*args, "--out", str(out), "--results-md", str(md)])
    assert result.exit_code == 0, result.output
    assert len(offered) == 2
    assert "measured against the better of the two bounds" in md.read_text()
    for policy, other in (("optimizer", "nearest-idle"), ("nearest-idle", "optimizer")):
        row = json.loads((out / f"hindsight_seed3_{policy}.json").read_text())
        assert row["check"]["bound_of"] in (None, other)
        assert row["check"]["valid"] is True, row["check"]["violations"]
    result = CliRunner().invoke(bench_app, [*args, "--no-share", "--results-md", str(md)])
    assert result.exit_code == 0, result.output
    assert len(offered) == 2
    last = md.read_text().rsplit("## Hindsight bound", 1)[1]
    assert "--no-surge --no-share" in last and "better of the two bounds" not in last


def test_the_kitchens_known_scenario_reports_every_ready_time_at_the_order() -> None:
    """Every merchant group reports every order, earlier than any preparation takes, and
    nothing else of the default scenario changes."""
    base = load_scenario("default")
    known = hindsight_bench.kitchens_known_scenario()
    assert len(known.merchants) == len(base.merchants) > 0
    for group, plain in zip(known.merchants, base.merchants, strict=True):
        assert group.ready_reports == 1.0
        assert group.report_lead_min * 60.0 > 10 * group.prep_min * 60.0
        assert (
            group.model_copy(
                update={
                    "ready_reports": plain.ready_reports,
                    "report_lead_min": plain.report_lead_min,
                }
            )
            == plain
        )
    assert known.model_copy(update={"merchants": base.merchants}) == base


def test_kitchen_start_offers_a_kitchens_known_runs_bound_to_both_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``--kitchen-start`` simulates a third day (the optimizer, kitchens known), solves its
    bound and offers it to both runs with the wider allowance of differing orders; it has
    no row of its own, and the section and command say so."""
    offered: list[tuple[int, int]] = []
    real_transfer = hindsight_bench.transfer

    def transfer_spy(plan: object, src: Any, dst: Any, **kwargs: Any) -> object:
        offered.append((len(src.orders), kwargs["max_inserted"]))
        return real_transfer(plan, src, dst, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(hindsight_bench, "transfer", transfer_spy)
    md, out = tmp_path / "R.md", tmp_path / "runs"
    args = ["hindsight", "--seed", "3", "--hours", "0.2", "--budget", "0.5", "--no-surge"]
    args += ["--kitchen-start", "--out", str(out), "--results-md", str(md)]
    result = CliRunner().invoke(bench_app, args)
    assert result.exit_code == 0, result.output
    allowances = sorted(a for _, a in offered)
    wide = hindsight_bench.KITCHEN_MAX_INSERTED
    assert allowances == [MAX_INSERTED, MAX_INSERTED, wide, wide] and wide > MAX_INSERTED
    assert sorted(p.name for p in out.iterdir()) == [
        "hindsight_seed3_nearest-idle.json",
        "hindsight_seed3_optimizer.json",
    ]
    for policy, other in (("optimizer", "nearest-idle"), ("nearest-idle", "optimizer")):
        row = json.loads((out / f"hindsight_seed3_{policy}.json").read_text())
        assert row["check"]["bound_of"] in (None, other, hindsight_bench.KITCHENS_KNOWN)
        assert row["check"]["valid"] is True, row["check"]["violations"]
        offers = row["check"]["offers"]  # surge off: both other runs met the same day
        assert set(offers) == {other, hindsight_bench.KITCHENS_KNOWN}
        bound = row["hindsight"]
        kept = (bound["orders_delivered"], round(bound["on_time_rate"] * bound["orders_delivered"]))
        for offer in offers.values():  # the bound kept is at least as good as every offer
            assert offer["valid"] is True
            assert (offer["delivered"], round(offer["on_time"] * offer["delivered"])) <= kept
    text = md.read_text()
    assert "--no-surge --kitchen-start" in text
    assert "told every kitchen's real ready time at the order (kitchens-known)" in text
    assert "| 3 | kitchens-known |" not in text
    assert "seed 3 kitchens-known" in text  # its day was simulated (wall times)


def test_a_kitchens_known_run_is_simulated_on_the_kitchens_known_scenario(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen: list[SimulationOptions] = []

    def fake_run(options: SimulationOptions) -> SimpleNamespace:
        seen.append(options)
        return SimpleNamespace(result="day")

    monkeypatch.setattr(hindsight_bench, "run", fake_run)
    hindsight_bench.simulate("optimizer", 7, 1.5, True, True, True)
    hindsight_bench.simulate("optimizer", 7, 1.5, True, True)
    known, plain = seen
    assert known.scenario == hindsight_bench.kitchens_known_scenario()
    assert plain.scenario == "default"
    assert (known.seed, known.policy, known.surge, known.reproducible) == (
        7,
        "optimizer",
        True,
        True,
    )
