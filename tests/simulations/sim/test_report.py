"""Outputs of a run: kpis.json keys, the self-contained HTML report, the event log."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from simulations.sim.eventlog import read_events, replay
from simulations.sim.runner import SimulationOptions, run
from simulations.sim.scenario import Scenario

REQUIRED = {
    "orders_total",
    "orders_delivered",
    "on_time_rate",
    "click_to_door_p50_min",
    "click_to_door_p90_min",
    "click_to_door_p95_min",
    "ready_to_pickup_p50_min",
    "courier_utilization",
    "orders_per_courier_hour",
    "km_per_order",
    "jobs_total",
    "jobs_on_time_rate",
    "emergency_response_p90_min",
    "mean_surge_multiplier",
    "max_surge_multiplier",
    "quotes_declined",
    "unassigned_at_end",
    "solver_fallbacks",
    "tick_p95_ms",
}


def test_run_writes_kpis_report_and_events(tiny: Scenario, tmp_path: Path) -> None:
    """kpis.json has every promised key; the report embeds its figures; the log replays."""
    out_dir = tmp_path / "out"
    out = run(SimulationOptions(scenario=tiny, seed=3, policy="nearest-idle", out_dir=out_dir))
    kpis = json.loads((out_dir / "kpis.json").read_text())
    assert set(kpis) >= REQUIRED
    assert kpis["orders_total"] == out.kpis["orders_total"] > 0
    assert kpis["run"]["policy"] == "nearest-idle"
    html = (out_dir / "report.html").read_text()
    assert html.startswith("<!DOCTYPE html>")
    assert html.count("data:image/png;base64,") == 4
    assert "http://" not in html and "https://" not in html  # self-contained
    header, events = read_events(out_dir / "events.jsonl")
    assert header["policy"] == "nearest-idle" and header["events"] == len(events)
    finals = {h.entity: h.final for h in replay(events).values() if h.kind == "order"}
    assert sum(1 for s in finals.values() if s == "delivered") == kpis["orders_delivered"]


def test_on_time_line_pools_thin_bins() -> None:
    """One late delivery in a bin of one does not drop the rolling line to 0 %: the
    window pools the last half hour's deliveries; bins without deliveries stay empty."""
    from simulations.sim.records import Sample
    from simulations.sim.report import rolling_on_time

    def sample(t: float, delivered: int, on_time: int) -> Sample:
        return Sample(t, 0, 0, 0, 0, 0, 0, delivered, on_time, None, 1.0, 1.0)

    bins = [sample(0, 0, 0), sample(300, 9, 9), sample(600, 1, 0), sample(900, 0, 0)]
    rate = rolling_on_time(bins, 300.0)
    assert math.isnan(rate[0]) and rate[1] == 1.0
    assert rate[2] == pytest.approx(0.9) and rate[3] == pytest.approx(0.9)
    assert rolling_on_time(bins, 300.0, window_s=300.0)[2] == 0.0  # the raw bin


def test_report_labels_kpis_with_units(tiny: Scenario, tmp_path: Path) -> None:
    """The report's KPI table says "on time (%)" with a rounded value, not a raw key."""
    out_dir = tmp_path / "out"
    out = run(SimulationOptions(scenario=tiny, seed=3, policy="nearest-idle", out_dir=out_dir))
    page = (out_dir / "report.html").read_text()
    assert "<th>on time (%)</th>" in page and "<th>revenue (order value + delivery fees)" in page
    shown = f"{100 * out.kpis['on_time_rate']:,.1f}"
    assert f"<td>{shown}</td>" in page
    assert "content hash" in page
