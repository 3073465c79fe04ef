"""Old against new solver settings on the same instances, interleaved, in one run.

Run:  .venv/bin/python -m simulations.bench.solver_ab FILES... --time-limit 2
      --old ils_hint=false [--new lns_share=0.5] [--rounds 4] [--json OUT]

Each instance is solved with ``RoutingParams`` overridden by ``--old`` and with
the defaults overridden by ``--new`` (none: the defaults), one right after the
other, so both see the same machine load; with ``--rounds N`` the whole list is
run N times, old first in even rounds and new first in odd ones.
Prints each instance's gaps and the mean gap per instance kind (Solomon VRPTW /
Li & Lim PDPTW), and whether every plan was feasible; over several rounds also
the mean difference new - old per kind with its spread across rounds (on a busy
machine one round's mean moves by tenths of a point by chance).
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


def round_differences(
    rounds: list[dict[str, list[BenchRow]]],
) -> dict[str, dict[str, float | list[float]]]:
    """Per kind: each round's mean gap old and new, and new - old over the rounds
    (mean, standard deviation and standard error; NaN where one round cannot say)."""
    out: dict[str, dict[str, float | list[float]]] = {}
    kinds = sorted({r.kind for rnd in rounds for r in rnd["old"]})
    for kind in kinds:
        means: dict[str, list[float]] = {"old": [], "new": []}
        for rnd in rounds:
            pairs = [
                (o.gap_pct, n.gap_pct)
                for o, n in zip(rnd["old"], rnd["new"], strict=True)
                if o.kind == kind and o.gap_pct is not None and n.gap_pct is not None
            ]
            if pairs:
                means["old"].append(statistics.mean(a for a, _ in pairs))
                means["new"].append(statistics.mean(b for _, b in pairs))
        diffs = [b - a for a, b in zip(means["old"], means["new"], strict=True)]
        sd = statistics.stdev(diffs) if len(diffs) > 1 else float("nan")
        out[kind] = {
            "old_means": [round(x, 3) for x in means["old"]],
            "new_means": [round(x, 3) for x in means["new"]],
            "diff_mean": round(statistics.mean(diffs), 3) if diffs else float("nan"),
            "diff_sd": round(sd, 3),
            "diff_se": round(sd / len(diffs) ** 0.5, 3) if len(diffs) > 1 else float("nan"),
        }
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("files", nargs="+", type=Path)
    ap.add_argument("--time-limit", type=float, default=2.0)
    ap.add_argument("--old", nargs="*", default=[], help="RoutingParams overrides, name=value")
    ap.add_argument("--new", nargs="*", default=[], help="RoutingParams overrides, name=value")
    ap.add_argument("--rounds", type=int, default=1, help="run the whole list this often")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    if args.rounds < 1:
        raise SystemExit("--rounds must be at least 1")
    settings = {
        "old": RoutingParams(**parse_overrides(args.old)),  # type: ignore[arg-type]
        "new": RoutingParams(**parse_overrides(args.new)),  # type: ignore[arg-type]
    }
    rounds: list[dict[str, list[BenchRow]]] = []
    with Progress() as progress:
        bar = progress.add_task("instances", total=len(args.files) * args.rounds)
        for k in range(args.rounds):
            rows: dict[str, list[BenchRow]] = {"old": [], "new": []}
            order = ("old", "new") if k % 2 == 0 else ("new", "old")
            for path in args.files:
                for name in order:
                    rows[name].append(solve_instance(path, args.time_limit, settings[name]))
                o, n = rows["old"][-1], rows["new"][-1]
                progress.console.print(
                    f"{path.stem}: old {o.gap_pct:.2f} % ({o.solve_s:.2f} s, {o.backend}) "
                    f"new {n.gap_pct:.2f} % ({n.solve_s:.2f} s, {n.backend})"
                    if o.gap_pct is not None and n.gap_pct is not None
                    else f"{path.stem}: no gap (feasible old {o.feasible}, new {n.feasible})"
                )
                progress.advance(bar)
            rounds.append(rows)
    everything = {name: [r for rnd in rounds for r in rnd[name]] for name in ("old", "new")}
    report: dict[str, object] = {name: _summary(r) for name, r in everything.items()}
    if args.rounds > 1:
        report["rounds"] = round_differences(rounds)
    print(json.dumps(report, indent=2))
    if args.json is not None:
        per = {
            name: [
                {
                    "round": k,
                    "instance": r.instance,
                    "gap_pct": r.gap_pct,
                    "s": r.solve_s,
                    "ok": r.feasible,
                }
                for k, rnd in enumerate(rounds)
                for r in rnd[name]
            ]
            for name in ("old", "new")
        }
        args.json.write_text(json.dumps({"summary": report, "rows": per}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
