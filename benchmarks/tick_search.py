"""Tick search benchmark: does a tick's search beat its regret-insertion start?

Run:
  .venv/bin/python benchmarks/tick_search.py record [--hours 8] [--seed 0] [--keep 40]
      Runs the default scenario (surge on, then off) under the optimizer policy, saves
      every tick that has work and workers, and keeps ``--keep`` of them spread over
      the range of sizes in ``benchmarks/data/tick_corpus/`` (replacing what is there).
  .venv/bin/python benchmarks/tick_search.py simulate [--hours 8] [--seed 0] [--jobs 2]
      [--results-md PATH]
      The default scenario under the old and the new optimizer policy, surge on and off:
      on-time share, click-to-door p90, improved ticks (ticks minus solver fallbacks).
  .venv/bin/python benchmarks/tick_search.py bench [--budget S] [--results-md PATH]
      Solves every corpus tick with the old policy (regret insertion, then OR-Tools)
      and the new one (regret insertion, then our LNS), each at the tick's recorded
      budget (or ``--budget``), and reports per policy the share of ticks improved over
      the regret-insertion start and the objective gained per tick (start / final,
      mean and median), plus which stage found the final plan. Every plan is checked
      with ``solver.check_routes``.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]  # benchmarks/http.py
sys.path.insert(0, str(_HERE.parent))

from rich.progress import Progress  # noqa: E402

from benchmarks.common import publish  # noqa: E402
from benchmarks.tick_corpus import CorpusTick, load_corpus, save_tick  # noqa: E402
from dispatch.policies import DispatchPolicy, OptimizerPolicy  # noqa: E402
from simulations.sim.kpis import kpi_cell  # noqa: E402
from simulations.sim.runner import SimulationOptions, run  # noqa: E402
from simulations.sim.scenario import load_scenario  # noqa: E402
from solver import (  # noqa: E402
    RoutingParams,
    RoutingResult,
    check_routes,
    solve_regret_insertion,
)

if TYPE_CHECKING:
    from dispatch.tick.build import TickProblem

CORPUS = _HERE / "data" / "tick_corpus"


@dataclass
class RecordingPolicy:
    """Delegates to another policy and saves each tick it sees (with work and workers)."""

    inner: DispatchPolicy
    folder: Path
    label: str
    saved: list[Path] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.inner.name

    @property
    def orders_per_trip(self) -> int | None:
        return self.inner.orders_per_trip

    @property
    def tick_on_arrival(self) -> bool:
        return self.inner.tick_on_arrival

    def solve(self, tick: TickProblem, budget_s: float) -> RoutingResult:
        p = tick.problem
        if p.num_stops and p.num_vehicles:
            path = self.folder / f"{self.label}-{len(self.saved):04d}.npz"
            meta = {"source": self.label, "stops": p.num_stops, "vehicles": p.num_vehicles}
            save_tick(path, p, [list(r) for r in tick.initial_routes], budget_s, meta)
            self.saved.append(path)
        return self.inner.solve(tick, budget_s)


def record(args: argparse.Namespace) -> int:
    """Run the default day under the optimizer and keep a spread of its ticks."""
    params = load_scenario("default").solver
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        saved: list[Path] = []
        for surge in (True, False):
            label = f"s{args.seed}-{'surge' if surge else 'nosurge'}"
            policy = RecordingPolicy(OptimizerPolicy(params), folder, label)
            with Progress() as bar:
                task = bar.add_task(f"simulating {label}", total=1.0)

                def show(now_s: float, end_s: float, task: Any = task, bar: Any = bar) -> None:
                    bar.update(task, completed=now_s / end_s if end_s else 1.0)

                options = SimulationOptions(
                    policy=policy,
                    hours=args.hours,
                    seed=args.seed,
                    surge=surge,
                    write_events=False,
                    report=False,
                )
                run(options, show)
            saved += policy.saved
        chosen = _spread(saved, args.keep)
        if CORPUS.exists():
            shutil.rmtree(CORPUS)
        CORPUS.mkdir(parents=True)
        for path in chosen:
            shutil.copy(path, CORPUS / path.name)
    size = sum(p.stat().st_size for p in CORPUS.glob("*.npz"))
    print(f"saved {len(saved)} ticks; kept {len(chosen)} in {CORPUS} ({size / 1e6:.2f} MB)")
    return 0


def _spread(paths: list[Path], keep: int) -> list[Path]:
    """``keep`` ticks evenly spaced over the sizes seen (stops), each source alike."""
    import numpy as np

    sizes = []
    for p in paths:
        with np.load(p) as data:
            sizes.append(int(data["stop_location"].shape[0]))
    order = sorted(range(len(paths)), key=lambda k: (sizes[k], paths[k].name))
    if len(order) <= keep:
        return [paths[k] for k in order]
    picks = {order[round(i * (len(order) - 1) / (keep - 1))] for i in range(keep)}
    return [paths[k] for k in sorted(picks)]


# ---- the benchmark ------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    """One policy on one tick: start and final objectives, who found it, checker verdict.

    The ``*_service`` figures leave out drop penalties: a tick with an order no
    courier can take carries 10^7 per such order, which would hide every other gain.
    """

    start: int
    final: int
    start_service: int
    final_service: int
    backend: str
    feasible: bool
    wall_s: float


def _solve(policy: DispatchPolicy, tick: CorpusTick, budget_s: float) -> Outcome:
    from dispatch.tick.build import TickProblem

    tp = TickProblem(
        problem=tick.problem,
        stops=[],
        workers=[],
        orders=[],
        jobs=[],
        initial_routes=tick.initial_routes,
    )
    start = solve_regret_insertion(tick.problem, initial_routes=tick.initial_routes)
    t0 = time.perf_counter()
    result = policy.solve(tp, budget_s)
    wall = time.perf_counter() - t0
    report = check_routes(tick.problem, result.routes)
    return Outcome(
        start.objective,
        result.objective,
        _service(tick, start),
        _service(tick, result),
        result.backend,
        report.feasible and report.objective == result.objective,
        wall,
    )


def _service(tick: CorpusTick, result: RoutingResult) -> int:
    drop = tick.problem.drop_penalty
    assert drop is not None
    return result.objective - sum(int(drop[s]) for s in result.dropped if drop[s] > 0)


def _summary(outcomes: list[Outcome]) -> dict[str, Any]:
    ratios = [o.start / o.final if o.final else 1.0 for o in outcomes]
    service = [o.start_service / o.final_service if o.final_service else 1.0 for o in outcomes]
    return {
        "service_mean": statistics.fmean(service),
        "service_median": statistics.median(service),
        "improved": sum(1 for o in outcomes if o.final < o.start),
        "worse": sum(1 for o in outcomes if o.final > o.start),
        "mean_ratio": statistics.fmean(ratios),
        "median_ratio": statistics.median(ratios),
        "gain_mean": statistics.fmean(o.start - o.final for o in outcomes),
        "infeasible": sum(1 for o in outcomes if not o.feasible),
        "wall_max": max(o.wall_s for o in outcomes),
        "stages": Counter(o.backend for o in outcomes),
    }


def bench(args: argparse.Namespace) -> int:
    ticks = load_corpus(args.corpus)
    if not ticks:
        print(f"no ticks in {args.corpus}; run `record` first", file=sys.stderr)
        return 1
    params = load_scenario("default").solver if args.solver == "scenario" else RoutingParams()
    params = replace(params, use_vroom=False)
    policies: dict[str, DispatchPolicy] = {
        "old: OR-Tools": OptimizerPolicy(params, lns=None),
        "new: LNS": OptimizerPolicy(params),
        "LNS without the cold start": OptimizerPolicy(params, cold_start=False),
        "LNS, then OR-Tools (half the time)": OptimizerPolicy(params, ortools_share=0.5),
    }
    results: dict[str, list[Outcome]] = {name: [] for name in policies}
    over: Counter[str] = Counter()
    with Progress() as bar:
        task = bar.add_task("ticks", total=len(ticks) * len(policies))
        for tick in ticks:
            budget = args.budget if args.budget is not None else tick.budget_s
            for name, policy in policies.items():
                out = _solve(policy, tick, budget)
                results[name].append(out)
                if out.wall_s > budget:
                    over[name] += 1
                bar.advance(task)
    publish(_section(args, ticks, results, over), args.results_md)
    return 0


def _section(
    args: argparse.Namespace,
    ticks: list[CorpusTick],
    results: dict[str, list[Outcome]],
    over: Counter[str],
) -> list[str]:
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    cmd = "python benchmarks/tick_search.py " + " ".join(sys.argv[1:])
    sizes = sorted(t.problem.num_stops for t in ticks)
    budgets = sorted({round(t.budget_s, 3) for t in ticks})
    lines = [
        f"## Tick search on the tick corpus ({now})",
        "",
        f"Command: `{cmd.strip()}`  ",
        f"Machine: {platform.platform()}, Python {platform.python_version()}, "
        f"{os.cpu_count()} cores, shared with other engineers' runs (timings are noisy).  ",
        f"Corpus: {len(ticks)} ticks of the default scenario (seed 0, surge on and off), "
        f"{sizes[0]}-{sizes[-1]} stops (median {statistics.median(sizes):g}); OR-Tools "
        f"settings: {args.solver}'s; budget "
        + (
            f"{args.budget} s"
            if args.budget is not None
            else f"as recorded ({budgets[0]}-{budgets[-1]} s)"
        )
        + ".",
        "",
        "| policy | ticks improved | worse | start/final mean | median | "
        "without drop penalties: mean | median | mean gain | over budget | slowest s "
        "| infeasible | final plan from |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for name, outs in results.items():
        s = _summary(outs)
        stages = ", ".join(f"{k} {v}" for k, v in s["stages"].most_common())
        lines.append(
            f"| {name} | {s['improved']}/{len(outs)} ({s['improved'] / len(outs):.0%}) "
            f"| {s['worse']} | {s['mean_ratio']:.4f} | {s['median_ratio']:.4f} "
            f"| {s['service_mean']:.4f} | {s['service_median']:.4f} "
            f"| {s['gain_mean']:.0f} | {over[name]} | {s['wall_max']:.3f} | {s['infeasible']} "
            f"| {stages} |"
        )
    lines += [
        "",
        "start/final: the regret-insertion start's objective over the final plan's "
        '(`solver.evaluate`); above 1 is a gain; "without drop penalties" compares '
        "the same plans with the 10^7-per-order drop penalties taken out (ticks with an "
        "order no courier can take). Mean gain: objective units per tick. Over budget: "
        "ticks whose policy call took longer than its budget (wall clock, the "
        "regret-insertion start included).",
    ]
    return lines


# ---- the day before and after ---------------------------------------------------------

DAY_KPIS = [
    "orders_total",
    "orders_delivered",
    "on_time_rate",
    "click_to_door_p50_min",
    "click_to_door_p90_min",
    "km_per_order",
    "unassigned_at_end",
    "ticks",
    "solver_fallbacks",
    "tick_p95_ms",
]


def _day(lns: bool, surge: bool, hours: float, seed: int) -> dict[str, Any]:
    params = load_scenario("default").solver
    policy = OptimizerPolicy(params) if lns else OptimizerPolicy(params, lns=None)
    started = time.perf_counter()
    options = SimulationOptions(
        policy=policy, hours=hours, seed=seed, surge=surge, write_events=False, report=False
    )
    kpis = run(options).kpis
    return {"kpis": kpis, "wall_s": time.perf_counter() - started}


def simulate(args: argparse.Namespace) -> int:
    """Old vs new policy on the default day, surge on and off (runs in parallel)."""
    from concurrent.futures import ProcessPoolExecutor

    combos = [(lns, surge) for surge in (True, False) for lns in (False, True)]
    with Progress() as bar, ProcessPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        task = bar.add_task("simulated days", total=len(combos))
        futures = [pool.submit(_day, lns, surge, args.hours, args.seed) for lns, surge in combos]
        for f in futures:
            f.add_done_callback(lambda _f: bar.advance(task))
        runs = [f.result() for f in futures]
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    cmd = "python benchmarks/tick_search.py " + " ".join(sys.argv[1:])
    heads = [
        f"{'new (LNS)' if lns else 'old (OR-Tools)'}, surge {'on' if surge else 'off'}"
        for lns, surge in combos
    ]
    lines = [
        f"### Default day, old vs new tick search ({now})",
        "",
        f"Command: `{cmd.strip()}`  ",
        f"Machine: {platform.platform()}, Python {platform.python_version()}, "
        f"{os.cpu_count()} cores, shared with other engineers' runs; {args.jobs} run(s) at a "
        f"time. Default scenario, {args.hours:g} h, seed {args.seed}, the scenario's budget "
        "(wall clock: a busy machine gives the searches less).",
        "",
        "| KPI | " + " | ".join(heads) + " |",
        "|---|" + "---:|" * len(heads),
    ]
    for key in DAY_KPIS:
        vals = [r["kpis"].get(key) for r in runs]
        lines.append(f"| {key} | " + " | ".join(kpi_cell(v) for v in vals) + " |")
    improved = [r["kpis"]["ticks"] - r["kpis"]["solver_fallbacks"] for r in runs]
    lines.append("| ticks improved over the start | " + " | ".join(map(str, improved)) + " |")
    lines.append("| wall s | " + " | ".join(f"{r['wall_s']:.0f}" for r in runs) + " |")
    publish(lines, args.results_md)
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    sub = ap.add_subparsers(dest="command", required=True)
    rec = sub.add_parser("record", help="run the default day and save a spread of its ticks")
    rec.add_argument("--hours", type=float, default=8.0)
    rec.add_argument("--seed", type=int, default=0)
    rec.add_argument("--keep", type=int, default=40)
    b = sub.add_parser("bench", help="old vs new policy on the corpus")
    b.add_argument("--corpus", type=Path, default=CORPUS)
    b.add_argument("--budget", type=float, default=None)
    b.add_argument("--results-md", type=Path, default=None)
    b.add_argument(
        "--solver",
        choices=("scenario", "engine"),
        default="scenario",
        help="OR-Tools settings: the default scenario's (greedy descent in this process) "
        "or the engine's defaults (GLS and ILS in two child processes)",
    )
    day = sub.add_parser("simulate", help="the default day under the old and the new policy")
    day.add_argument("--hours", type=float, default=8.0)
    day.add_argument("--seed", type=int, default=0)
    day.add_argument("--jobs", type=int, default=2)
    day.add_argument("--results-md", type=Path, default=None)
    args = ap.parse_args(argv)
    commands = {"record": record, "bench": bench, "simulate": simulate}
    return commands[args.command](args)


if __name__ == "__main__":
    raise SystemExit(main())
