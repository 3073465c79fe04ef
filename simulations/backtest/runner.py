"""Backtests: every variant on the same days, in parallel, compared pair by pair.

A cell is one variant on one seed. Every variant runs on the same seeds, and a
seed draws one world (the same customers, the same acceptance draws, the same
shifts: ``simulations.sim.world``), so only the rules differ within a seed and
the per-seed difference of a KPI measures the rules alone (common random
numbers). Cells run in worker processes (``jobs``); each runs the real engine
through the simulator and returns its KPIs.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dispatch.errors import InvalidInput
from dispatch.policies import POLICIES
from simulations.backtest.stats import compare
from simulations.backtest.variants import Variant
from simulations.sim.demand import build_world
from simulations.sim.kpis import compute_kpis
from simulations.sim.recorded import RecordedDemand, read_recorded_demand
from simulations.sim.runner import reproducible
from simulations.sim.scenario import Scenario, load_scenario
from simulations.sim.simulator import Simulation
from simulations.sim.world import World

log = logging.getLogger(__name__)

#: KPIs a backtest compares, in report order.
BACKTEST_KPIS = (
    "revenue",
    "delivery_fees",
    "order_value",
    "mean_delivery_fee",
    "fees_standard",
    "fees_silver",
    "fees_gold",
    "fees_diamond",
    "quotes_total",
    "quotes_declined",
    "orders_total",
    "orders_delivered",
    "orders_cancelled",
    "on_time_rate",
    "click_to_door_p50_min",
    "click_to_door_p90_min",
    "courier_utilization",
    "courier_earnings_per_hour",
    "mean_surge_multiplier",
    "jobs_total",
)

#: Called after each finished cell with (cells done, cells in all).
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class BacktestOptions:
    """What to compare (``variants``, the first is the baseline) and on which days."""

    variants: tuple[Variant, ...]
    scenario: str | Path | Scenario = "default"
    seeds: int = 8
    first_seed: int = 0
    hours: float | None = None
    policy: str = "optimizer"
    jobs: int = 1
    reproducible: bool = False
    events: Path | None = None  # replay this recorded day's requests instead
    community_id: str | None = None  # which community of the recorded feed

    def __post_init__(self) -> None:
        if not self.variants:
            raise InvalidInput("a backtest needs at least one rule set")
        if not 1 <= self.seeds <= 1000:
            raise InvalidInput("seeds must lie in [1, 1000]")
        if self.first_seed < 0:
            raise InvalidInput("first_seed must be at least 0")
        if not 1 <= self.jobs <= 64:
            raise InvalidInput("jobs must lie in [1, 64]")
        if self.policy not in POLICIES:
            raise InvalidInput(f"unknown policy {self.policy!r} (known: {', '.join(POLICIES)})")
        if self.hours is not None and not 0 < self.hours <= 48:
            raise InvalidInput("hours must lie in (0, 48]")

    @property
    def seed_list(self) -> list[int]:
        return list(range(self.first_seed, self.first_seed + self.seeds))


@dataclass(frozen=True)
class Cell:
    variant: int
    seed: int


@dataclass
class BacktestResult:
    options: BacktestOptions
    scenario: str
    runs: dict[str, list[dict[str, Any]]]  # variant name → KPIs per seed (seed order)
    comparison: dict[str, dict[str, Any]]
    recorded: RecordedDemand | None
    wall_s: float

    def to_json(self) -> dict[str, Any]:
        o = self.options
        return {
            "scenario": self.scenario,
            "policy": o.policy,
            "seeds": o.seed_list,
            "hours": o.hours,
            "reproducible": o.reproducible,
            "events": None
            if self.recorded is None
            else {
                "source": self.recorded.source,
                "community_id": self.recorded.community_id,
                "orders": len(self.recorded.orders),
                "jobs": len(self.recorded.jobs),
            },
            "baseline": o.variants[0].name,
            "variants": [
                {"name": v.name, "source": v.source, "rules": dict(v.identity)} for v in o.variants
            ],
            "paired": identical_days(self.runs),
            "kpis": self.comparison,
            "runs": self.runs,
            "jobs": o.jobs,
            "wall_s": round(self.wall_s, 2),
        }


def _scenario(options: BacktestOptions) -> Scenario:
    s = options.scenario
    scenario = s if isinstance(s, Scenario) else load_scenario(s)
    if options.hours is not None and options.events is None:
        scenario = scenario.with_hours(options.hours)
    return scenario


def world_for(options: BacktestOptions, seed: int, recorded: RecordedDemand | None) -> World:
    """The seed's day (every variant runs on this same world)."""
    world = build_world(_scenario(options), seed, recorded)
    return reproducible(world) if options.reproducible else world


def run_cell(
    options: BacktestOptions, cell: Cell, recorded: RecordedDemand | None
) -> dict[str, Any]:
    """One variant on one seed: the run's KPIs."""
    world = world_for(options, cell.seed, recorded)
    variant = options.variants[cell.variant]
    sim = Simulation(world, policy=options.policy, rules=variant.rule_set(), seed=cell.seed)
    kpis = compute_kpis(sim.run())
    kpis["seed"] = cell.seed
    return kpis


def run_backtest(options: BacktestOptions, progress: Progress | None = None) -> BacktestResult:
    """Run every variant on every seed (``options.jobs`` processes) and compare them."""
    started = time.perf_counter()
    scenario = _scenario(options)  # fails early on a bad scenario
    recorded = None
    if options.events is not None:
        recorded = read_recorded_demand(options.events, options.community_id)
    cells = [Cell(v, s) for s in options.seed_list for v in range(len(options.variants))]
    results: dict[Cell, dict[str, Any]] = {}
    total = len(cells)
    if options.jobs == 1:
        for cell in cells:
            results[cell] = run_cell(options, cell, recorded)
            if progress is not None:
                progress(len(results), total)
    else:
        ctx = mp.get_context("spawn")  # no inherited threads or locks in the workers
        workers = min(options.jobs, total)
        with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
            futures = {pool.submit(run_cell, options, c, recorded): c for c in cells}
            for fut in as_completed(futures):
                results[futures[fut]] = fut.result()
                if progress is not None:
                    progress(len(results), total)
    runs = {
        v.name: [results[Cell(i, s)] for s in options.seed_list]
        for i, v in enumerate(options.variants)
    }
    return BacktestResult(
        options=options,
        scenario=scenario.name,
        runs=runs,
        comparison=compare(runs, BACKTEST_KPIS),
        recorded=recorded,
        wall_s=time.perf_counter() - started,
    )


def identical_days(runs: Mapping[str, list[dict[str, Any]]]) -> bool:
    """Whether every variant saw the same requests on each seed (a sanity check)."""
    names = list(runs)
    return all(
        [k["quotes_total"] for k in runs[n]] == [k["quotes_total"] for k in runs[names[0]]]
        for n in names
    )
