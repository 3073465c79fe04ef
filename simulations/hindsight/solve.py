"""Solve a day offline with perfect knowledge: the hindsight bound.

Both problems (``simulations.hindsight.build``) go to the project's own
``solve_routing`` under a generous budget; each plan is verified twice, by the
solver's independent checker on the integer problem and by the replay on the
simulator's clock, whose times are the plan's delivery and arrival times.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass

import geo
from simulations.hindsight.build import (
    ORDER_LATE_FEE,
    Model,
    Target,
    courier_model,
    technician_model,
)
from simulations.hindsight.day import Day
from simulations.hindsight.replay import Replay, Stop, replay
from simulations.hindsight.rolling import Horizon, solve_rolling
from simulations.sim.world import ProfileTravel, TravelModel
from solver import RoutingParams, RoutingResult, check_routes, evaluate, solve_routing

log = logging.getLogger(__name__)

#: Search used by default: both cores (local search beside ruin-and-recreate), each
#: in a child process stopped at the deadline.
DEFAULT_PARAMS = RoutingParams(metaheuristic="gls", use_vroom=False, workers=2, isolate=True)


@dataclass(frozen=True)
class HindsightPlan:
    """The offline plan: routes per worker, re-timed on the simulator's clock."""

    routes: dict[str, tuple[Stop, ...]]
    timing: Replay
    dropped_orders: tuple[str, ...]
    dropped_jobs: tuple[str, ...]
    checker_violations: tuple[str, ...]  # the solver checker's findings (none expected)
    solve_s: float
    backends: tuple[str, str]  # who made the courier and the technician plan

    @property
    def valid(self) -> bool:
        """Both independent checks pass."""
        return self.timing.valid and not self.checker_violations


def _solve(model: Model, budget_s: float, params: RoutingParams) -> RoutingResult:
    p = model.problem
    if p.num_stops == 0 or p.num_vehicles == 0:
        return solve_routing(p, 0.01, params=params)
    return solve_routing(p, budget_s, params=params)


def _routes(model: Model, result: RoutingResult) -> dict[str, tuple[Stop, ...]]:
    return {
        model.vehicle_worker[v]: tuple((model.stop_kind[s], model.stop_entity[s]) for s in route)
        for v, route in enumerate(result.routes)
        if route
    }


def shared_horizon(
    day: Day,
    budget_s: float,
    slice_s: float = Horizon.slice_s,
    lookahead_s: float = Horizon.lookahead_s,
) -> Horizon:
    """Slices of ``slice_s`` over the day's placements, sharing 85 % of ``budget_s``
    (the rest is the technicians')."""
    created = [o.created_s for o in day.orders]
    span = max(created, default=0.0) - min(created, default=0.0)
    slices = max(1, math.ceil((span + 1.0) / slice_s))
    return Horizon(slice_s, lookahead_s, max(0.05, budget_s * 0.85 / slices))


def solve_day(
    day: Day,
    budget_s: float,
    *,
    params: RoutingParams = DEFAULT_PARAMS,
    travel: TravelModel | None = None,
    provider: geo.MatrixProvider | None = None,
    horizon: Horizon | None = None,
    target: Target = "fastest",
    late_fee: int = ORDER_LATE_FEE,
) -> HindsightPlan:
    """The hindsight plan of a day within about ``budget_s`` of search.

    Technicians (a few dozen jobs) are one whole-day problem given 15 % of the
    budget; couriers are solved as a rolling horizon (``simulations.hindsight.rolling``)
    whose slices share the rest, unless ``horizon`` fixes the slicing and its budget.
    ``target`` and ``late_fee`` price deliveries (``courier_model``).
    """
    started = time.perf_counter()
    couriers = courier_model(day, provider, target, late_fee)
    techs = technician_model(day, provider)
    t_res = _solve(techs, max(0.05, budget_s * 0.15), params)
    if horizon is None:
        horizon = shared_horizon(day, budget_s)
    times = {o.id: o.created_s for o in day.orders}
    c_routes = solve_rolling(couriers, times, horizon, params)
    c_res = evaluate(couriers.problem, c_routes, backend="rolling-horizon")
    violations: list[str] = []
    for name, model, res in (("courier", couriers, c_res), ("technician", techs, t_res)):
        report = check_routes(model.problem, res)
        violations += [f"{name} plan: {v}" for v in report.violations]
    routes = _routes(couriers, c_res) | _routes(techs, t_res)
    timing = replay(day, routes, travel or ProfileTravel())
    dropped_orders = tuple(sorted({couriers.stop_entity[s] for s in c_res.dropped}))
    dropped_jobs = tuple(sorted(techs.stop_entity[s] for s in t_res.dropped))
    if dropped_orders or dropped_jobs:
        log.warning(
            "hindsight plan drops %d orders and %d jobs", len(dropped_orders), len(dropped_jobs)
        )
    return HindsightPlan(
        routes=routes,
        timing=timing,
        dropped_orders=dropped_orders,
        dropped_jobs=dropped_jobs,
        checker_violations=tuple(violations),
        solve_s=time.perf_counter() - started,
        backends=(c_res.backend, t_res.backend),
    )
