"""Simulator benchmarks: speed and policy quality, appended to benchmarks/RESULTS.md.

Run:  .venv/bin/python benchmarks/simulate.py [--hours 8] [--seed 0] [--jobs 2]
          [--mdrp-dir DIR] [--skip-mdrp] [--results-md PATH]

1. The default scenario (8 simulated hours) under the optimizer and the nearest-idle
   policy on the same seed: KPIs side by side and the wall time of each run.
   Targets: a run under 2 minutes; the optimizer beats nearest-idle (on-time rate at
   least 5 points higher, or click-to-door p90 at least 10 % lower, with no
   fewer orders delivered).
2. A ~500-order Grubhub MDRP instance (``0o100t75s1p100``) replayed by the
   optimizer: wall time (target under 2 minutes), metrics, checker verdict.
3. The seed-0 ``o50`` MDRP instances under both policies: orders delivered,
   click-to-door mean and p90, overage, and the independent checker's verdict.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import checked_replay, publish
from simulations.sim.kpis import kpi_cell
from simulations.sim.runner import SimulationOptions, run

#: The baseline the optimizer must beat (a name in dispatch.policies.POLICIES).
BASELINE = "nearest-idle"
MDRP_DIR = Path(__file__).resolve().parents[2] / "shared/data/grubhub_mdrp/public_instances"
BIG_MDRP = "0o100t75s1p100"
TARGET_S = 120.0
SCENARIO_COLUMNS = [
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
    "ticks",
]


def _scenario_run(policy: str, hours: float, seed: int, surge: bool) -> dict[str, Any]:
    started = time.perf_counter()
    options = SimulationOptions(policy=policy, hours=hours, seed=seed, surge=surge)
    out = run(options)
    return {"policy": policy, "wall_s": time.perf_counter() - started, "kpis": out.kpis}


def _mdrp_run(policy: str, folder: Path) -> dict[str, Any]:
    done = checked_replay(policy, folder)
    return {
        "policy": policy,
        "instance": folder.name,
        "wall_s": done.wall_s,
        "metrics": done.metrics,
        "verdict": done.report.verdict,
        "same_metrics": done.report.metrics == done.metrics,
        "overrides": done.out.kpis.get("trip_rule_overrides", 0),
    }


def beats(opt: dict[str, Any], base: dict[str, Any]) -> bool:
    """The issue's quality rule for the default scenario."""
    if opt["orders_delivered"] < base["orders_delivered"]:
        return False
    on_time = (opt["on_time_rate"] or 0) - (base["on_time_rate"] or 0) >= 0.05
    p90_o, p90_g = opt["click_to_door_p90_min"], base["click_to_door_p90_min"]
    faster = p90_o is not None and p90_g is not None and p90_o <= 0.9 * p90_g
    return on_time or faster


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--hours", type=float, default=8.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--jobs", type=int, default=1, help="runs in parallel (processes)")
    ap.add_argument("--mdrp-dir", type=Path, default=MDRP_DIR)
    ap.add_argument("--skip-mdrp", action="store_true")
    ap.add_argument(
        "--results-md",
        type=Path,
        default=Path(__file__).resolve().parent / "RESULTS.md",
    )
    args = ap.parse_args(argv)

    lines: list[str] = []
    cmd = "python benchmarks/simulate.py " + " ".join(argv if argv is not None else sys.argv[1:])
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines += [
        f"## Simulator ({now})",
        "",
        f"Command: `{cmd.strip()}`  ",
        f"Machine: {platform.platform()}, Python {platform.python_version()}, "
        f"{os.cpu_count()} cores (shared; timings are noisy), {args.jobs} run(s) at a time.",
        "",
    ]
    with ProcessPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        scen = [
            pool.submit(_scenario_run, p, args.hours, args.seed, surge)
            for surge in (True, False)
            for p in ("optimizer", BASELINE)
        ]
        mdrp_jobs = []
        if not args.skip_mdrp:
            big = args.mdrp_dir / BIG_MDRP
            if big.is_dir():
                mdrp_jobs.append(pool.submit(_mdrp_run, "optimizer", big))
            for folder in sorted(args.mdrp_dir.glob("0o50*")):
                for policy in ("optimizer", BASELINE):
                    mdrp_jobs.append(pool.submit(_mdrp_run, policy, folder))
        opt, base, opt_off, base_off = (f.result() for f in scen)
        mdrp = [f.result() for f in mdrp_jobs]

    runs = [opt, base, opt_off, base_off]
    lines += [
        f"### Default scenario, {args.hours:g} simulated hours, seed {args.seed}",
        "",
        f"| KPI | optimizer | {BASELINE} | optimizer, surge off | {BASELINE}, surge off |",
        "|---|---:|---:|---:|---:|",
    ]
    for key in SCENARIO_COLUMNS:
        lines.append(f"| {key} | " + " | ".join(kpi_cell(r["kpis"].get(key)) for r in runs) + " |")
    lines.append("| wall time (s) | " + " | ".join(f"{r['wall_s']:.1f}" for r in runs) + " |")
    ok_speed = all(r["wall_s"] < TARGET_S for r in runs)
    ok_quality = beats(opt["kpis"], base["kpis"])
    ok_quality_off = beats(opt_off["kpis"], base_off["kpis"])
    lines += [
        "",
        f"Targets: every run under {TARGET_S:.0f} s: **{'met' if ok_speed else 'NOT met'}**; "
        f"optimizer beats {BASELINE} with surge on: **{'met' if ok_quality else 'NOT met'}**, "
        f"with surge off (same demand for both): **{'met' if ok_quality_off else 'NOT met'}**.",
        "",
    ]
    if mdrp:
        lines += [
            "### Grubhub MDRP replays (checked by simulations/mdrp/check.py)",
            "",
            "| instance | policy | delivered | c2d mean | c2d p90 | overage mean | "
            "ready→pickup mean | bundle size | trip-rule overrides | verdict | wall s |",
            "|---|---|---:|---:|---:|---:|---:|---:|---:|---|---:|",
        ]
        for r in mdrp:
            m = r["metrics"]
            verdict = r["verdict"] + ("" if r["same_metrics"] else " (metrics differ!)")
            lines.append(
                f"| {r['instance']} | {r['policy']} | {m['orders_delivered']}/{m['orders_total']} "
                f"| {kpi_cell(m['click_to_door_mean_min'])} "
                f"| {kpi_cell(m['click_to_door_p90_min'])} "
                f"| {kpi_cell(m['click_to_door_overage_mean_min'])} "
                f"| {kpi_cell(m['ready_to_pickup_mean_min'])} | {kpi_cell(m['bundle_size_mean'])} "
                f"| {r['overrides']} | {verdict} | {r['wall_s']:.1f} |"
            )
        big_runs = [r for r in mdrp if r["instance"] == BIG_MDRP]
        if big_runs:
            lines += [
                "",
                f"Target: the {BIG_MDRP} replay ({big_runs[0]['metrics']['orders_total']} orders) "
                f"under {TARGET_S:.0f} s: "
                f"**{'met' if big_runs[0]['wall_s'] < TARGET_S else 'NOT met'}** "
                f"({big_runs[0]['wall_s']:.1f} s).",
            ]
        pairs: dict[str, dict[str, dict[str, Any]]] = {}
        for r in mdrp:
            if r["instance"].startswith("0o50"):
                pairs.setdefault(r["instance"], {})[r["policy"]] = r["metrics"]
        wins = sum(
            1
            for p in pairs.values()
            if p["optimizer"]["orders_delivered"] >= p[BASELINE]["orders_delivered"]
            and (p["optimizer"]["click_to_door_p90_min"] or 0)
            < (p[BASELINE]["click_to_door_p90_min"] or 0)
        )
        lines += [
            f"Optimizer beats {BASELINE} (no fewer delivered, lower click-to-door p90) on "
            f"{wins} of {len(pairs)} seed-0 o50 instances.",
            "",
        ]
    publish(lines, args.results_md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
