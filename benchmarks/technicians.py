"""Technician jobs: the on-time share and why each late job was late, per seed.

Run:  .venv/bin/python benchmarks/technicians.py [--seeds 0 1 2 3] [--hours 8]
          [--policy optimizer] [--policy nearest-idle] [--jobs 2] [--json OUT]

Each (policy, seed) runs the default scenario through the real engine; every
due job (booked window or emergency) gets one cause from
``simulations.sim.joblateness``: late even in hindsight (no qualified
technician, the window opens after the run, no shift can hold it, too far),
or late by dispatch. Deliveries' on-time share and click-to-door p90 are
printed beside, to see that technician changes cost couriers nothing. Write
the figures into ``benchmarks/RESULTS.md`` by hand with the command.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from simulations.sim.joblateness import Cause, decompose
from simulations.sim.runner import SimulationOptions, run


def one(policy: str, seed: int, hours: float | None) -> dict[str, Any]:
    """One simulated day: KPIs and the causes of its late jobs."""
    started = time.perf_counter()
    out = run(
        SimulationOptions(policy=policy, seed=seed, hours=hours, write_events=False, report=False)
    )
    dec = decompose(out.result)
    return {
        "policy": policy,
        "seed": seed,
        "wall_s": round(time.perf_counter() - started, 1),
        "due": dec.due,
        "on_time": dec.on_time,
        "late_in_hindsight": dec.late_in_hindsight,
        "late_by_dispatch": dec.late_by_dispatch,
        "possible_on_time_rate": dec.possible_on_time_rate,
        "overtime_reachable": sum(v.reachable_with_overtime for v in dec.verdicts),
        "causes": {c.value: n for c, n in dec.counts.items() if n},
        "late": [
            {"job": v.job.id, "cause": v.cause.value, "detail": v.detail}
            for v in dec.verdicts
            if v.cause != Cause.ON_TIME
        ],
        "kpis": {
            k: out.kpis[k]
            for k in (
                "jobs_total",
                "jobs_on_time_rate",
                "jobs_completed",
                "emergency_response_p90_min",
                "on_time_rate",
                "click_to_door_p90_min",
                "orders_delivered",
                "unassigned_at_end",
            )
        },
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3])
    ap.add_argument("--hours", type=float, default=None)
    ap.add_argument("--policy", action="append", default=None)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    policies = args.policy or ["optimizer"]
    console = Console()
    console.print(
        f"$ {' '.join(sys.argv)}\n{platform.platform()}, Python {platform.python_version()}, "
        f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at the start"
    )
    runs: list[dict[str, Any]] = []
    with Progress(console=console) as progress, ProcessPoolExecutor(args.jobs) as pool:
        task = progress.add_task("simulated days", total=len(policies) * len(args.seeds))
        futures = [pool.submit(one, p, s, args.hours) for p in policies for s in args.seeds]
        for f in as_completed(futures):
            runs.append(f.result())
            progress.advance(task)
    runs.sort(key=lambda r: (policies.index(r["policy"]), r["seed"]))
    causes = [c.value for c in Cause if any(c.value in r["causes"] for r in runs)]
    table = Table(title="Technician jobs (due: booked windows and emergencies)")
    for col in ["policy", "seed", "due", "on time", "rate", "possible", *causes]:
        table.add_column(col, justify="right")
    table.add_column("deliveries on time", justify="right")
    table.add_column("c2d p90 min", justify="right")
    for r in runs:
        k = r["kpis"]
        possible = r["possible_on_time_rate"]
        table.add_row(
            r["policy"],
            str(r["seed"]),
            str(r["due"]),
            str(r["on_time"]),
            f"{k['jobs_on_time_rate']:.3f}",
            "-" if possible is None else f"{possible:.3f}",
            *(str(r["causes"].get(c, 0)) for c in causes),
            f"{k['on_time_rate']:.3f}",
            f"{k['click_to_door_p90_min']:.1f}",
        )
    console.print(table)
    console.print(f"load average {os.getloadavg()[0]:.1f} at the end")
    if args.json is not None:
        args.json.write_text(json.dumps(runs, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
