"""Solver benchmark on every public Solomon and Li & Lim instance, appended to RESULTS.md.

Run:  .venv/bin/python benchmarks/solver.py [--data ../shared/data] [--time-limit 2]
      [--results-md benchmarks/RESULTS.md] [--no-baseline] [--no-peers]

One command produces the table: it runs ``dispatch bench solver`` on
``<data>/solomon_vrptw_100/instances/*.txt`` and ``<data>/lilim_pdptw_100/instances/*.txt``
with the baseline and the peers, and appends the table, the command and the
machine facts (CPU, cores, load, versions) under a "Solver" heading.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from typer.main import get_command  # noqa: E402

from api.cli_bench import bench_app  # noqa: E402

HEADING = "## Solver: Solomon VRPTW and Li & Lim PDPTW (100 customers)"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--time-limit", type=float, default=2.0)
    ap.add_argument("--results-md", type=Path, default=ROOT / "benchmarks" / "RESULTS.md")
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--no-baseline", action="store_true")
    ap.add_argument("--no-peers", action="store_true")
    args = ap.parse_args()
    files = sorted((args.data / "solomon_vrptw_100" / "instances").glob("*.txt"))
    files += sorted((args.data / "lilim_pdptw_100" / "instances").glob("*.txt"))
    if not files:
        print(f"no instances under {args.data}", file=sys.stderr)
        return 2
    md: Path = args.results_md
    if not md.exists() or HEADING not in md.read_text():
        with md.open("a") as fh:
            fh.write(("" if not md.exists() else "\n") + HEADING + "\n")
    argv = ["solver", *map(str, files), "--time-limit", f"{args.time_limit:g}"]
    argv += ["--results-md", str(md)]
    argv += [] if args.json is None else ["--json", str(args.json)]
    argv += [] if args.no_baseline else ["--baseline"]
    argv += [] if args.no_peers else ["--peers"]
    get_command(bench_app).main(args=argv, prog_name="dispatch bench", standalone_mode=False)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
