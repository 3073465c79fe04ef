"""Old against new solver settings on the same instances, interleaved, in one run.

Run:  .venv/bin/python -m simulations.bench.solver_ab FILES... --time-limit 2
      --old ils_hint=false [--new lns_share=0.5] [--json OUT]

Each instance is solved first with ``RoutingParams`` overridden by ``--old`` and
then with the defaults overridden by ``--new`` (none: the defaults), one after the
other, so both see the same machine load.
Prints each instance's gaps and the mean gap per instance kind (Solomon VRPTW /
Li & Lim PDPTW), and whether every plan was feasible.
"""

from __future__ import annotations

import argparse
import json
import statistics
from dataclasses import fields
from pathlib import Path

from rich.progress import Progress

from simulations.bench.solver_bench import BenchRow, solve_instance
from solver.routing import RoutingParams


def parse_overrides(items: list[str]) -> dict[str, object]:
    """``name=value`` pairs for RoutingParams fields (bool, int, float or text values)."""
    known = {f.name for f in fields(RoutingParams)}
    out: dict[str, object] = {}
    for item in items:
        name, _, text = item.partition("=")
        if name not in known:
            raise SystemExit(f"unknown RoutingParams field {name!r}")
        value: object = text
        if text.lower() in ("true", "false"):
            value = text.lower() == "true"
        else:
            for kind in (int, float):
                try:
                    value = kind(text)
                    break
                except ValueError:
                    pass
        out[name] = value
    return out


def _summary(rows: list[BenchRow]) -> dict[str, dict[str, float | int]]:
    by_kind: dict[str, dict[str, float | int]] = {}
    for kind in sorted({r.kind for r in rows}):
        mine = [r for r in rows if r.kind == kind]
        gaps = [r.gap_pct for r in mine if r.gap_pct is not None]
        by_kind[kind] = {
            "instances": len(mine),
            "feasible": sum(r.feasible for r in mine),
            "mean_gap_pct": round(statistics.mean(gaps), 3) if gaps else float("nan"),
            "max_solve_s": round(max(r.solve_s for r in mine), 3),
        }
    return by_kind


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("files", nargs="+", type=Path)
    ap.add_argument("--time-limit", type=float, default=2.0)
    ap.add_argument("--old", nargs="*", default=[], help="RoutingParams overrides, name=value")
    ap.add_argument("--new", nargs="*", default=[], help="RoutingParams overrides, name=value")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    old = RoutingParams(**parse_overrides(args.old))  # type: ignore[arg-type]
    new = RoutingParams(**parse_overrides(args.new))  # type: ignore[arg-type]
    rows: dict[str, list[BenchRow]] = {"old": [], "new": []}
    with Progress() as progress:
        bar = progress.add_task("instances", total=len(args.files))
        for path in args.files:
            for name, prm in (("old", old), ("new", new)):
                rows[name].append(solve_instance(path, args.time_limit, prm))
            o, n = rows["old"][-1], rows["new"][-1]
            progress.console.print(
                f"{path.stem}: old {o.gap_pct:.2f} % ({o.solve_s:.2f} s, {o.backend}) "
                f"new {n.gap_pct:.2f} % ({n.solve_s:.2f} s, {n.backend})"
                if o.gap_pct is not None and n.gap_pct is not None
                else f"{path.stem}: no gap (feasible old {o.feasible}, new {n.feasible})"
            )
            progress.advance(bar)
    report = {name: _summary(r) for name, r in rows.items()}
    print(json.dumps(report, indent=2))
    if args.json is not None:
        per = {
            name: [
                {"instance": r.instance, "gap_pct": r.gap_pct, "s": r.solve_s, "ok": r.feasible}
                for r in rs
            ]
            for name, rs in rows.items()
        }
        args.json.write_text(json.dumps({"summary": report, "rows": per}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
