"""The hindsight benchmark: each policy's simulated day against its perfect-knowledge bound.

Per seed, the optimizer and the nearest-idle policy each run the default scenario
(two processes at once; with ``reproducible``, every tick's search ends by work, so
the online figures do not depend on the machine's load); then each run's realised
day (its accepted orders and jobs, its fleet) is solved offline by
``simulations.hindsight`` within ``budget_s`` seconds of search, checked twice
(the solver's checker and a replay on the simulator's clock), and every late
delivery and late job of the run is classified. Where both runs met the same
day (surge off), each is measured against the better of the two bounds
(``simulations.hindsight.shared``). Behind ``dispatch bench hindsight`` and
``benchmarks/hindsight.py``.
"""

from __future__ import annotations

import json
import os
import platform
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from simulations.hindsight import day_from_result, solve_day
from simulations.hindsight.build import Target
from simulations.hindsight.compare import markdown, summarise
from simulations.hindsight.day import Day
from simulations.hindsight.realised import realised_routes
from simulations.hindsight.shared import sharper, transfer
from simulations.hindsight.solve import HindsightPlan
from simulations.sim.records import SimulationResult
from simulations.sim.runner import SimulationOptions, run

__all__ = ["POLICIES", "HindsightRun", "run_hindsight", "section", "simulate"]

POLICIES = ("optimizer", "nearest-idle")


@dataclass
class HindsightRun:
    """Rows (one per seed and policy, ``compare.summarise``'s shape) and the run's facts."""

    seeds: list[int]
    hours: float
    budget_s: float
    surge: bool
    started_at: str
    reproducible: bool = False
    from_run: bool = True
    target: Target = "promise"
    share: bool = True
    rows: list[dict[str, Any]] = field(default_factory=list)
    sim_wall_s: dict[tuple[int, str], float] = field(default_factory=dict)
    load_before: float = 0.0
    load_after: float = 0.0


def simulate(
    policy: str, seed: int, hours: float, surge: bool, reproducible: bool
) -> tuple[SimulationResult, float]:
    """One policy's day of the default scenario, and its wall time."""
    started = time.perf_counter()
    options = SimulationOptions(
        policy=policy,
        seed=seed,
        hours=hours,
        surge=surge,
        reproducible=reproducible,
        write_events=False,
        report=False,
    )
    return run(options).result, time.perf_counter() - started


def run_hindsight(
    seeds: Sequence[int],
    *,
    hours: float = 8.0,
    budget_s: float = 100.0,
    surge: bool = True,
    reproducible: bool = False,
    out: Path | None = None,
    advance: Callable[[], None] = lambda: None,
    from_run: bool = True,
    target: Target = "promise",
    share: bool = True,
) -> HindsightRun:
    """Both policies per seed, then each run's bound; ``advance`` after each of the
    ``2 × 2 × len(seeds)`` steps; ``out``: per-run JSON with per-order hindsight times;
    ``reproducible``: the runs' searches end by work (the bounds' stay timed);
    ``from_run``: each bound's search also starts from the run's own routes
    (``simulations.hindsight.realised``), so it is never below the run in the model;
    ``target``: what a bound's delivery aims at (``simulations.hindsight.courier_model``);
    ``share``: where both runs met the same day (surge off), each is measured against the
    better of the two bounds (``simulations.hindsight.shared``)."""
    result = HindsightRun(
        list(seeds),
        hours,
        budget_s,
        surge,
        datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        reproducible=reproducible,
        from_run=from_run,
        target=target,
        share=share,
    )
    result.load_before = os.getloadavg()[0]
    with ProcessPoolExecutor(max_workers=2) as pool:
        for seed in seeds:
            futures = {
                p: pool.submit(simulate, p, seed, hours, surge, reproducible) for p in POLICIES
            }
            solved: dict[str, tuple[SimulationResult, Day, HindsightPlan]] = {}
            for policy, fut in futures.items():
                sim, wall = fut.result()
                result.sim_wall_s[(seed, policy)] = wall
                advance()
                day = day_from_result(sim)
                start = realised_routes(sim, day) if from_run else None
                solved[policy] = (sim, day, solve_day(day, budget_s, start=start, target=target))
                advance()
            for policy, (sim, day, plan) in solved.items():
                borrowed = None
                if share:
                    for other, (_, other_day, other_plan) in solved.items():
                        if other == policy:
                            continue
                        moved = transfer(other_plan, other_day, day)
                        plan, won = sharper(day, plan, moved, target)
                        borrowed = other if won else borrowed
                row = summarise(sim, day, plan)
                row["check"]["bound_of"] = borrowed
                if out is not None:
                    out.mkdir(parents=True, exist_ok=True)
                    path = out / f"hindsight_seed{seed}_{policy}.json"
                    path.write_text(json.dumps(row, indent=1) + "\n", encoding="utf-8")
                row.pop("per_order", None)
                result.rows.append(row)
    result.load_after = os.getloadavg()[0]
    return result


def section(done: HindsightRun, command: str) -> list[str]:
    """The RESULTS.md section of a run: command, machine, the tables."""
    surge = "on" if done.surge else "off"
    walls = ", ".join(f"seed {s} {p} {w:.0f}" for (s, p), w in sorted(done.sim_wall_s.items()))
    searches = (
        "every tick's search ended by work (online figures independent of the load)"
        if done.reproducible
        else "ticks searched against the clock (online figures depend on the load)"
    )
    starts = (
        "the couriers' search runs a rolling horizon and then our LNS from the better of "
        "its plan and the run's own routes"
        if done.from_run
        else "the couriers' search is the rolling horizon alone"
    )
    aims = (
        "each delivery aims at its promise (the plan keeps as many as it can)"
        if done.target == "promise"
        else "each delivery aims at its fastest possible time, with a fee once its promise "
        "is broken (the plan trades a few promises for click-to-door)"
    )
    if done.share:
        aims += (
            "; where both runs met the same day, each is measured against the better of the "
            "two bounds"
        )
    return [
        f"## Hindsight bound ({done.started_at})",
        "",
        f"Command: `{command.strip()}`  ",
        f"Machine: {platform.platform()}, Python {platform.python_version()}, "
        f"{os.cpu_count()} cores (load average {done.load_before:.1f} at the start, "
        f"{done.load_after:.1f} at the end).  ",
        f"Default scenario, {done.hours:g} simulated hours, surge {surge}; each run's bound "
        f"is solved on that run's own accepted orders and jobs, {done.budget_s:g} s of search; "
        f"{searches}; {starts}; {aims}.",
        f"Simulation wall times (s): {walls}.",
        "",
        *markdown(done.rows),
        "",
    ]
