"""MDRP overloaded days: the optimizer against one-order-per-trip nearest-idle (issue 15).

Run:  .venv/bin/python benchmarks/mdrp_overloaded.py [--instances NAME ...]
          [--keep-couriers 1.0 0.75] [--jobs 2] [--mdrp-dir DIR] [--results-md PATH]

Each public instance is replayed as given and, with ``--keep-couriers F`` below 1,
as a derived day keeping a share F of its courier shifts (evenly spread over the
file's order, every instance the same way, no choice by result): fewer couriers for the same
orders is an overloaded day. Both policies replay each day; the independent
checker (``simulations.mdrp.check``) judges every solution.

Targets (issue 15): every replay FEASIBLE; on overloaded days the optimizer
delivers at least 98 % of the orders and its mean click-to-door is at least 15 %
below nearest-idle's on the same day.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import sys
import tempfile
from concurrent.futures import ProcessPoolExecutor, as_completed
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.progress import Progress

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import checked_replay, publish
from simulations.mdrp.instance import read_instance
from simulations.sim.kpis import kpi_cell

MDRP_DIR = Path(__file__).resolve().parents[2] / "shared/data/grubhub_mdrp/public_instances"
#: The public days with the fewest courier hours per order (seed 1, full travel times).
DEFAULT_INSTANCES = ("1o100t100s2p125", "1o100t100s1p125")
POLICIES = ("optimizer", "nearest-idle")
MIN_DELIVERED = 0.98
MIN_C2D_CUT = 0.15


def thinned(folder: Path, keep: float, into: Path) -> Path:
    """A copy of the instance keeping a share ``keep`` of its courier shifts, evenly spread."""
    out = into / f"{folder.name}-c{round(keep * 100)}"
    out.mkdir(parents=True, exist_ok=True)
    for f in folder.glob("*.txt"):
        if f.name != "couriers.txt":
            shutil.copy(f, out / f.name)
    header, *rows = (folder / "couriers.txt").read_text().splitlines()
    rows = [r for r in rows if r.strip()]
    # evenly spread over the file (shifts are listed by start): every hour keeps couriers
    kept = [r for i, r in enumerate(rows) if int((i + 1) * keep) > int(i * keep)] or rows[:1]
    (out / "couriers.txt").write_text("\n".join([header, *kept]) + "\n")
    return out


def replay(policy: str, folder: Path) -> dict[str, Any]:
    """One replay, its metrics and the checker's verdict."""
    done = checked_replay(policy, folder)
    return {
        "day": folder.name,
        "policy": policy,
        "wall_s": done.wall_s,
        "metrics": done.metrics,
        "verdict": done.report.verdict,
        "couriers": len(read_instance(folder).couriers),
    }


def verdicts(runs: list[dict[str, Any]]) -> list[str]:
    """Per day: the optimizer's delivered share and its click-to-door cut against the baseline."""
    by_day: dict[str, dict[str, dict[str, Any]]] = {}
    for r in runs:
        by_day.setdefault(r["day"], {})[r["policy"]] = r["metrics"]
    lines = []
    for day, pol in sorted(by_day.items()):
        o, b = pol["optimizer"], pol["nearest-idle"]
        share = o["orders_delivered"] / o["orders_total"]
        cut = 1.0 - o["click_to_door_mean_min"] / b["click_to_door_mean_min"]
        ok = share >= MIN_DELIVERED and cut >= MIN_C2D_CUT
        lines.append(
            f"- {day}: optimizer delivers {share:.1%} (nearest-idle "
            f"{b['orders_delivered'] / b['orders_total']:.1%}); mean click-to-door "
            f"{cut:.1%} below nearest-idle: **{'met' if ok else 'NOT met'}**"
        )
    return lines


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--instances", nargs="+", default=list(DEFAULT_INSTANCES))
    ap.add_argument("--keep-couriers", nargs="+", type=float, default=[1.0, 0.75])
    ap.add_argument("--jobs", type=int, default=2, help="replays in parallel (processes)")
    ap.add_argument("--mdrp-dir", type=Path, default=MDRP_DIR)
    ap.add_argument("--results-md", type=Path, default=None, help="append the section here")
    args = ap.parse_args(argv)
    cmd = "python benchmarks/mdrp_overloaded.py " + " ".join(
        argv if argv is not None else sys.argv[1:]
    )
    with tempfile.TemporaryDirectory() as tmp:
        days = []
        for name in args.instances:
            for keep in args.keep_couriers:
                src = args.mdrp_dir / name
                days.append(src if keep >= 1.0 else thinned(src, keep, Path(tmp)))
        runs: list[dict[str, Any]] = []
        with (
            ProcessPoolExecutor(max_workers=max(1, args.jobs)) as pool,
            Progress() as bar,
        ):
            task = bar.add_task("MDRP replays", total=len(days) * len(POLICIES))
            futures = [pool.submit(replay, p, d) for d in days for p in POLICIES]
            for f in as_completed(futures):
                runs.append(f.result())
                bar.advance(task)
    runs.sort(key=lambda r: (r["day"], r["policy"]))
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        f"Command: `{cmd.strip()}` ({now})  ",
        f"Machine: {platform.platform()}, Python {platform.python_version()}, "
        f"{os.cpu_count()} cores (shared), {args.jobs} replay(s) at a time.",
        "",
        "| day | couriers | policy | delivered | c2d mean | c2d p90 | ready→pickup mean "
        "| bundle size | verdict | wall s |",
        "|---|---:|---|---:|---:|---:|---:|---:|---|---:|",
    ]
    for r in runs:
        m = r["metrics"]
        lines.append(
            f"| {r['day']} | {r['couriers']} | {r['policy']} "
            f"| {m['orders_delivered']}/{m['orders_total']} "
            f"| {kpi_cell(m['click_to_door_mean_min'])} | {kpi_cell(m['click_to_door_p90_min'])} "
            f"| {kpi_cell(m['ready_to_pickup_mean_min'])} | {kpi_cell(m['bundle_size_mean'])} "
            f"| {r['verdict']} | {r['wall_s']:.0f} |"
        )
    lines += ["", *verdicts(runs), ""]
    publish(lines, args.results_md)
    return 0 if all(r["verdict"] == "FEASIBLE" for r in runs) else 1


if __name__ == "__main__":
    raise SystemExit(main())
