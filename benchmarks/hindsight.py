"""Hindsight bound: each policy run of the default scenario against a perfect-knowledge plan.

Run:  .venv/bin/python benchmarks/hindsight.py [--seeds 0 1 2 3] [--budget 100]
          [--no-surge] [--hours 8] [--reproducible] [--no-run-start] [--no-share]
          [--kitchen-start] [--target promise|fastest] [--out DIR] [--results-md PATH]

Per seed, the optimizer and the nearest-idle policy each run the simulated day
(both at once, one process each; ``--reproducible`` ends every tick's search by
work, so the runs' figures do not depend on the machine's load); then each
run's realised day (its accepted orders and jobs, its fleet) is solved offline
by ``simulations.hindsight`` within ``--budget`` seconds of search (both
cores; half of the couriers' share goes to our LNS from the better of the
rolling-horizon plan and the run's own routes, unless ``--no-run-start``),
checked twice (the solver's checker, and a replay on the simulator's clock),
and every late delivery and late job of the run is classified. Where both runs
met the same day (surge off), each is measured against the better of the two
bounds (``simulations.hindsight.shared``) unless ``--no-share``. With
``--kitchen-start`` the optimizer also runs each day told every kitchen's real
ready time at the order, and its bound is offered to both runs (one more day
and bound per seed). Appends
a dated section to RESULTS.md; ``--out`` also writes each run's summary with
per-order hindsight delivery times as JSON. The same benchmark is ``dispatch bench hindsight``
(``simulations.bench.hindsight_bench``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rich.progress import Progress

from benchmarks.common import publish
from simulations.bench.hindsight_bench import run_hindsight, runs_per_seed, section
from simulations.hindsight.build import TARGETS


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3])
    ap.add_argument("--hours", type=float, default=8.0)
    ap.add_argument("--budget", type=float, default=100.0, help="search seconds per bound")
    ap.add_argument("--no-surge", dest="surge", action="store_false")
    ap.add_argument(
        "--reproducible", action="store_true", help="end the runs' tick searches by work"
    )
    ap.add_argument(
        "--no-run-start",
        dest="from_run",
        action="store_false",
        help="search the bound from scratch only, not also from the run's own routes",
    )
    ap.add_argument(
        "--no-share",
        dest="share",
        action="store_false",
        help="measure each run against its own bound even where both runs met the same day",
    )
    ap.add_argument(
        "--kitchen-start",
        action="store_true",
        help="also run the optimizer told every kitchen's real ready time at the order, "
        "and offer its bound to both runs",
    )
    ap.add_argument(
        "--target",
        choices=TARGETS,
        default="promise",
        help="what each delivery of a bound aims at: its promise (default: the best on-time "
        "share) or its fastest time (the best click-to-door)",
    )
    ap.add_argument("--out", type=Path, default=None, help="write per-run JSON here")
    ap.add_argument(
        "--results-md", type=Path, default=Path(__file__).resolve().parent / "RESULTS.md"
    )
    args = ap.parse_args(argv)
    cmd = "python benchmarks/hindsight.py " + " ".join(argv if argv is not None else sys.argv[1:])
    with Progress() as bar:
        steps = len(args.seeds) * runs_per_seed(args.kitchen_start) * 2
        task = bar.add_task("runs and bounds", total=steps)
        done = run_hindsight(
            args.seeds,
            hours=args.hours,
            budget_s=args.budget,
            surge=args.surge,
            reproducible=args.reproducible,
            from_run=args.from_run,
            share=args.share,
            kitchen_start=args.kitchen_start,
            target=args.target,
            out=args.out,
            advance=lambda: bar.advance(task),
        )
    publish(section(done, cmd), args.results_md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
