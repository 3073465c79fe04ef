"""Hindsight bound: each policy run of the default scenario against a perfect-knowledge plan.

Run:  .venv/bin/python benchmarks/hindsight.py [--seeds 0 1 2 3] [--budget 100]
          [--no-surge] [--hours 8] [--out DIR] [--results-md PATH]

Per seed, the optimizer and the nearest-idle policy each run the simulated day
(both at once, one process each); then each run's realised day (its accepted
orders and jobs, its fleet) is solved offline by ``simulations.hindsight``
within ``--budget`` seconds of search (both cores), checked twice (the
solver's checker, and a replay on the simulator's clock), and every late
delivery and late job of the run is classified. Appends a dated section to
RESULTS.md; ``--out`` also writes each run's summary with per-order hindsight
delivery times as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rich.progress import Progress

from benchmarks.common import publish
from simulations.hindsight import day_from_result, solve_day
from simulations.hindsight.compare import markdown, summarise
from simulations.sim.records import SimulationResult
from simulations.sim.runner import SimulationOptions, run

POLICIES = ("optimizer", "nearest-idle")


def _simulate(policy: str, seed: int, hours: float, surge: bool) -> tuple[SimulationResult, float]:
    started = time.perf_counter()
    options = SimulationOptions(
        policy=policy, seed=seed, hours=hours, surge=surge, write_events=False, report=False
    )
    return run(options).result, time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3])
    ap.add_argument("--hours", type=float, default=8.0)
    ap.add_argument("--budget", type=float, default=100.0, help="search seconds per bound")
    ap.add_argument("--no-surge", dest="surge", action="store_false")
    ap.add_argument("--out", type=Path, default=None, help="write per-run JSON here")
    ap.add_argument(
        "--results-md", type=Path, default=Path(__file__).resolve().parent / "RESULTS.md"
    )
    args = ap.parse_args(argv)
    cmd = "python benchmarks/hindsight.py " + " ".join(argv if argv is not None else sys.argv[1:])
    started_at = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    load_before = os.getloadavg()
    rows: list[dict[str, Any]] = []
    sim_wall: dict[tuple[int, str], float] = {}
    with Progress() as bar, ProcessPoolExecutor(max_workers=2) as pool:
        task = bar.add_task("runs and bounds", total=len(args.seeds) * len(POLICIES) * 2)
        for seed in args.seeds:
            futures = {p: pool.submit(_simulate, p, seed, args.hours, args.surge) for p in POLICIES}
            for policy, fut in futures.items():
                result, wall = fut.result()
                sim_wall[(seed, policy)] = wall
                bar.advance(task)
                day = day_from_result(result)
                plan = solve_day(day, args.budget)
                row = summarise(result, day, plan)
                rows.append(row)
                bar.advance(task)
                if args.out is not None:
                    args.out.mkdir(parents=True, exist_ok=True)
                    path = args.out / f"hindsight_seed{seed}_{policy}.json"
                    path.write_text(json.dumps(row, indent=1) + "\n", encoding="utf-8")
    load_after = os.getloadavg()
    for r in rows:
        r.pop("per_order", None)
    surge = "on" if args.surge else "off"
    lines = [
        f"## Hindsight bound ({started_at})",
        "",
        f"Command: `{cmd.strip()}`  ",
        f"Machine: {platform.platform()}, Python {platform.python_version()}, "
        f"{os.cpu_count()} cores shared with other engineers' runs (load average "
        f"{load_before[0]:.1f} at the start, {load_after[0]:.1f} at the end).  ",
        f"Default scenario, {args.hours:g} simulated hours, surge {surge}; each run's bound "
        f"is solved on that run's own accepted orders and jobs, {args.budget:g} s of search.",
        "Simulation wall times (s): "
        + ", ".join(f"seed {s} {p} {w:.0f}" for (s, p), w in sorted(sim_wall.items()))
        + ".",
        "",
        *markdown(rows),
        "",
    ]
    publish(lines, args.results_md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
