"""How much of the hindsight plan's lead is foresight: one day's bound under several horizons.

Run:  .venv/bin/python benchmarks/foresight.py [--seeds 9] [--no-surge] [--hours 8]
          [--budget 100] [--horizon 20:20 --horizon 20:0 --horizon 2:0 --horizon 2:20]
          [--target promise|fastest] [--results-md PATH]

The hindsight bound (``simulations.hindsight``) cuts a day into slices by
placement time and solves each slice with the orders of the next look-ahead
already known. Each ``--horizon SLICE:LOOKAHEAD`` (minutes) solves the same
optimizer day (a reproducible run: its figures do not depend on the load)
again: with a short slice and no look-ahead the plan knows every kitchen's
real ready time but hardly any order before it is placed, so the distance to
the full bound is what seeing orders coming is worth; the distance from the
online run is what the plan's other knowledge and time buy. The bound's
searches are timed (``--budget`` seconds per horizon, shared by its slices);
``--target`` is what its deliveries aim at, as in ``benchmarks/hindsight.py``.
Prints a RESULTS.md section and appends it to ``--results-md`` when given.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import sys
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rich.progress import Progress

from benchmarks.common import publish
from simulations.bench.hindsight_bench import simulate
from simulations.hindsight import day_from_result, solve_day
from simulations.hindsight.build import TARGETS, Target
from simulations.hindsight.compare import summarise
from simulations.hindsight.solve import shared_horizon
from simulations.sim.records import SimulationResult


def _horizon(text: str) -> tuple[float, float]:
    slice_min, _, look_min = text.partition(":")
    pair = float(slice_min), float(look_min or 0)
    if not (pair[0] > 0 and pair[1] >= 0 and all(math.isfinite(v) for v in pair)):
        raise argparse.ArgumentTypeError(f"{text!r}: SLICE > 0 and LOOKAHEAD >= 0 minutes")
    return pair


def bound_row(
    result: SimulationResult,
    slice_min: float,
    look_min: float,
    budget_s: float,
    target: Target = "promise",
) -> dict[str, float | int | bool]:
    """The day's bound under one horizon: on-time share, late counts, checks, time."""
    day = day_from_result(result)
    horizon = shared_horizon(day, budget_s, slice_min * 60.0, look_min * 60.0)
    plan = solve_day(day, budget_s, horizon=horizon, target=target)
    row = summarise(result, day, plan)
    return {
        "online": row["online"]["on_time_rate"],
        "bound": row["hindsight"]["on_time_rate"],
        "late": row["late"]["orders"],
        "late_in_hindsight": row["late"]["orders_in_hindsight"],
        "valid": row["check"]["valid"],
        "solve_s": plan.solve_s,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--seeds", type=int, nargs="+", default=[9])
    ap.add_argument("--hours", type=float, default=8.0)
    ap.add_argument("--budget", type=float, default=100.0, help="search seconds per bound")
    ap.add_argument("--no-surge", dest="surge", action="store_false")
    ap.add_argument("--horizon", type=_horizon, action="append", default=None)
    ap.add_argument(
        "--target",
        choices=TARGETS,
        default="promise",
        help="what the bound's deliveries aim at: their promise or their fastest time",
    )
    ap.add_argument("--results-md", type=Path, default=None)
    args = ap.parse_args(argv)
    horizons = args.horizon or [(20.0, 20.0), (20.0, 0.0), (2.0, 0.0), (2.0, 20.0)]
    cmd = "python benchmarks/foresight.py " + " ".join(argv if argv is not None else sys.argv[1:])
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    load = os.getloadavg()[0]
    rows: list[str] = []
    with Progress() as bar:
        task = bar.add_task("days and bounds", total=len(args.seeds) * (1 + len(horizons)))
        for seed in args.seeds:
            result, _ = simulate("optimizer", seed, args.hours, args.surge, True)
            bar.advance(task)
            for slice_min, look_min in horizons:
                r = bound_row(result, slice_min, look_min, args.budget, args.target)
                bar.advance(task)
                rows.append(
                    f"| {seed} | {slice_min:g} | {look_min:g} | {r['online']:.3f} "
                    f"| {r['bound']:.3f} | {r['late']} | {r['late_in_hindsight']} "
                    f"| {'valid' if r['valid'] else 'INVALID'} | {r['solve_s']:.0f} |"
                )
    surge = "on" if args.surge else "off"
    lines = [
        f"### Foresight in the hindsight bound ({stamp})",
        "",
        f"Command: `{cmd.strip()}`  ",
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}; load average {load:.1f} at the start, "
        f"{os.getloadavg()[0]:.1f} at the end.  ",
        f"Default scenario, {args.hours:g} h, surge {surge}; the optimizer's reproducible day, "
        f"its bound solved again per horizon with {args.budget:g} s of search, each delivery "
        f"aiming at its {'promise' if args.target == 'promise' else 'fastest time'}.",
        "",
        "| seed | slice min | look-ahead min | online on time | bound on time | late online "
        "| of them late in the bound | plan | solve s |",
        "|---:|---:|---:|---:|---:|---:|---:|---|---:|",
        *rows,
    ]
    publish(lines, args.results_md)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
