"""The hindsight benchmark: each policy's simulated day against its perfect-knowledge bound.

Per seed, the optimizer and the nearest-idle policy each run the default scenario
(two processes at once; with ``reproducible``, every tick's search ends by work, so
the online figures do not depend on the machine's load); then each run's realised
day (its accepted orders and jobs, its fleet) is solved offline by
``simulations.hindsight`` within ``budget_s`` seconds of search, checked twice
(the solver's checker and a replay on the simulator's clock), and every late
delivery and late job of the run is classified. Where both runs met the same
day (surge off), each is measured against the better of the two bounds
(``simulations.hindsight.shared``). With ``kitchen_start`` a third run per seed,
the optimizer told every kitchen's real ready time at the order, has its bound
solved too and offered to the other two: on heavy days that online run has
kept more promises than the hindsight search found alone. Behind
``dispatch bench hindsight`` and ``benchmarks/hindsight.py``.
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
from simulations.hindsight.facts import hindsight_kpis
from simulations.hindsight.realised import realised_routes
from simulations.hindsight.shared import MAX_INSERTED, sharper, transfer, with_own_technicians
from simulations.hindsight.solve import HindsightPlan
from simulations.sim.records import SimulationResult
from simulations.sim.runner import SimulationOptions, run
from simulations.sim.scenario import Scenario, load_scenario, parse_scenario

__all__ = [
    "KITCHENS_KNOWN",
    "POLICIES",
    "HindsightRun",
    "kitchens_known_scenario",
    "run_hindsight",
    "runs_per_seed",
    "section",
    "simulate",
]

POLICIES = ("optimizer", "nearest-idle")
#: The run whose bound only serves as a start: the optimizer, every kitchen known at the order.
KITCHENS_KNOWN = "kitchens-known"
#: How long before the food is out its kitchen reports it: longer than any preparation,
#: so every real ready time is known when the order is placed.
KNOWN_LEAD_MIN = 600.0
#: Most orders of a run's day the kitchens-known run may lack for its bound to be offered:
#: with surge on, a few customers meet a slightly different price and decide otherwise.
KITCHEN_MAX_INSERTED = 40


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
    kitchen_start: bool = False
    rows: list[dict[str, Any]] = field(default_factory=list)
    sim_wall_s: dict[tuple[int, str], float] = field(default_factory=dict)
    load_before: float = 0.0
    load_after: float = 0.0


def kitchens_known_scenario() -> Scenario:
    """The default scenario with every kitchen reporting its real ready time at the order."""
    data = load_scenario("default").model_dump()
    for group in data["merchants"]:
        group["ready_reports"] = 1.0
        group["report_lead_min"] = KNOWN_LEAD_MIN
    return parse_scenario(data, source="default (every kitchen known at the order)")


def runs_per_seed(kitchen_start: bool) -> int:
    """Simulated days per seed: both policies, and the kitchens-known run when asked."""
    return len(POLICIES) + int(kitchen_start)


def simulate(
    policy: str,
    seed: int,
    hours: float,
    surge: bool,
    reproducible: bool,
    kitchens_known: bool = False,
) -> tuple[SimulationResult, float]:
    """One policy's day of the default scenario (``kitchens_known``: every real ready time
    reported at the order), and its wall time."""
    started = time.perf_counter()
    options = SimulationOptions(
        scenario=kitchens_known_scenario() if kitchens_known else "default",
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
    kitchen_start: bool = False,
) -> HindsightRun:
    """Both policies per seed, then each run's bound; ``advance`` after each of the
    ``2 × runs_per_seed(kitchen_start) × len(seeds)`` steps; ``out``: per-run JSON with
    per-order hindsight times;
    ``reproducible``: the runs' searches end by work (the bounds' stay timed);
    ``from_run``: each bound's search also starts from the run's own routes
    (``simulations.hindsight.realised``), so it is never below the run in the model;
    ``target``: what a bound's delivery aims at (``simulations.hindsight.courier_model``);
    ``share``: where both runs met the same day (surge off), each is measured against the
    better of the two bounds (``simulations.hindsight.shared``); ``kitchen_start``: the
    optimizer also runs each day told every kitchen's real ready time, and its bound is
    offered to both runs (it has no row of its own)."""
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
        kitchen_start=kitchen_start,
    )
    runs = {p: (p, False) for p in POLICIES}
    if kitchen_start:
        runs[KITCHENS_KNOWN] = ("optimizer", True)
    result.load_before = os.getloadavg()[0]
    with ProcessPoolExecutor(max_workers=2) as pool:
        for seed in seeds:
            futures = {
                label: pool.submit(simulate, policy, seed, hours, surge, reproducible, known)
                for label, (policy, known) in runs.items()
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
            for policy in POLICIES:
                sim, day, plan = solved[policy]
                borrowed = None
                offers: dict[str, dict[str, Any] | None] = {}
                for other, (_, other_day, other_plan) in solved.items():
                    if other == policy or (other in POLICIES and not share):
                        continue
                    inserted = MAX_INSERTED
                    if other == KITCHENS_KNOWN:  # its couriers knew more; its jobs may differ
                        inserted = KITCHEN_MAX_INSERTED
                        other_plan, other_day = with_own_technicians(
                            other_plan, other_day, plan, day
                        )
                    moved = transfer(other_plan, other_day, day, max_inserted=inserted)
                    offers[other] = None if moved is None else _offer(day, moved)
                    plan, won = sharper(day, plan, moved, target)
                    borrowed = other if won else borrowed
                row = summarise(sim, day, plan)
                row["check"]["bound_of"] = borrowed
                row["check"]["offers"] = offers
                if out is not None:
                    out.mkdir(parents=True, exist_ok=True)
                    path = out / f"hindsight_seed{seed}_{policy}.json"
                    path.write_text(json.dumps(row, indent=1) + "\n", encoding="utf-8")
                row.pop("per_order", None)
                result.rows.append(row)
    result.load_after = os.getloadavg()[0]
    return result


def _offer(day: Day, moved: HindsightPlan) -> dict[str, Any]:
    """What another run's bound, moved to ``day``, would give (``None`` above: not the
    same day, so nothing was offered)."""
    k = hindsight_kpis(day, moved)
    return {
        "valid": moved.valid,
        "delivered": k["orders_delivered"],
        "on_time": k["on_time_rate"],
        "dropped_orders": len(moved.dropped_orders),
    }


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
    if done.kitchen_start:
        aims += (
            "; each run is also offered the bound of an optimizer run told every kitchen's "
            f"real ready time at the order ({KITCHENS_KNOWN}), where that run's day is the same "
            "day up to a few orders"
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
