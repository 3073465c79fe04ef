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
from collections.abc import Mapping, Sequence
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
from solver.lns import LnsParams, solve_lns
from solver.regret_insertion import solve_regret_insertion

log = logging.getLogger(__name__)

#: With the run's own routes as a start, the share of the couriers' budget the rolling
#: horizon gets; the rest improves the better of the two plans (``improve_from_start``).
ROLLING_SHARE = 0.5

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
    #: which start the courier plan grew from: "rolling-horizon" or "realised" (the run's own)
    courier_start: str = "rolling-horizon"

    @property
    def valid(self) -> bool:
        """Both independent checks pass."""
        return self.timing.valid and not self.checker_violations


def _solve(
    model: Model, budget_s: float, params: RoutingParams, initial: list[list[int]] | None = None
) -> RoutingResult:
    p = model.problem
    if p.num_stops == 0 or p.num_vehicles == 0:
        return solve_routing(p, 0.01, params=params)
    return solve_routing(p, budget_s, params=params, initial_routes=initial)


def _routes(model: Model, result: RoutingResult) -> dict[str, tuple[Stop, ...]]:
    return {
        model.vehicle_worker[v]: tuple((model.stop_kind[s], model.stop_entity[s]) for s in route)
        for v, route in enumerate(result.routes)
        if route
    }


def stop_lists(model: Model, routes: Mapping[str, Sequence[Stop]]) -> list[list[int]]:
    """``routes`` as stop lists of ``model``'s vehicles (stops it does not hold left out)."""
    stop = {
        (k, e): s for s, (k, e) in enumerate(zip(model.stop_kind, model.stop_entity, strict=True))
    }
    vehicle = {w: v for v, w in enumerate(model.vehicle_worker)}
    out: list[list[int]] = [[] for _ in model.vehicle_worker]
    for worker, stops in routes.items():
        v = vehicle.get(worker)
        if v is not None:
            out[v] = [stop[x] for x in stops if x in stop]
    return out


def _plan_key(result: RoutingResult) -> tuple[int, int]:
    """(stops left out, objective): smaller is better."""
    return len(result.dropped), result.objective


def improve_from_start(
    model: Model, rolled: RoutingResult, start: Mapping[str, Sequence[Stop]], polish_s: float
) -> tuple[RoutingResult, str]:
    """The better of the rolling plan and the run's own routes (work it left undone
    inserted), improved by our LNS for ``polish_s``; never worse than either."""
    p = model.problem
    own = solve_regret_insertion(p, initial_routes=stop_lists(model, start), time_limit_s=0.0)
    own = evaluate(p, own.routes, backend="realised")
    best, name = min(
        ((rolled, "rolling-horizon"), (own, "realised")), key=lambda c: _plan_key(c[0])
    )
    run = solve_lns(p, best, polish_s, params=LnsParams(patience=None, max_remove=20))
    return evaluate(p, run.result.routes, backend=f"{best.backend}+lns"), name


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
    target: Target = "promise",
    late_fee: int = ORDER_LATE_FEE,
    start: Mapping[str, Sequence[Stop]] | None = None,
) -> HindsightPlan:
    """The hindsight plan of a day within about ``budget_s`` of search.

    Technicians (a few dozen jobs) are one whole-day problem given 15 % of the
    budget; couriers are solved as a rolling horizon (``simulations.hindsight.rolling``)
    whose slices share the rest, unless ``horizon`` fixes the slicing and its budget.
    ``target`` and ``late_fee`` price deliveries (``courier_model``). ``start``, the
    run's own routes (``realised_routes``), is a second start: technicians search from
    it, and the couriers' rolling horizon gets half its share; what is left of
    ``budget_s`` goes to our LNS from the better of the two plans, so the courier plan
    is never worse in the model than the run's own.
    """
    started = time.perf_counter()
    couriers = courier_model(day, provider, target, late_fee)
    techs = technician_model(day, provider)
    t_start = None if start is None else stop_lists(techs, start)
    t_res = _solve(techs, max(0.05, budget_s * 0.15), params, t_start)
    if horizon is None:
        horizon = shared_horizon(day, budget_s * (ROLLING_SHARE if start is not None else 1.0))
    times = {o.id: o.created_s for o in day.orders}
    c_routes = solve_rolling(couriers, times, horizon, params)
    c_res = evaluate(couriers.problem, c_routes, backend="rolling-horizon")
    c_start = "rolling-horizon"
    if start is not None and couriers.problem.num_stops:
        polish_s = max(0.05, budget_s * 0.98 - (time.perf_counter() - started))
        c_res, c_start = improve_from_start(couriers, c_res, start, polish_s)
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
        courier_start=c_start,
    )
