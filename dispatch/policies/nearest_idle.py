"""The classic myopic dispatcher, as a baseline the optimiser must beat.

Each waiting order, in the order it was placed, goes to the nearest idle
courier (one with no work left), one order per trip; each job to the nearest
free technician with the skills. It decides as work arrives.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np

from dispatch.model import StopKind
from solver import NONE, RoutingProblem, RoutingResult, evaluate

if TYPE_CHECKING:
    from dispatch.tick.build import TickProblem

#: Jobs booked in a window are only handed out this long before the window opens.
JOB_RELEASE_S = 1800


@dataclass(frozen=True)
class NearestIdlePolicy:
    """Nearest idle worker at order time, one order per trip."""

    name: str = "nearest-idle"
    orders_per_trip: int | None = 1
    tick_on_arrival: bool = True

    def solve(self, tick: TickProblem, budget_s: float) -> RoutingResult:
        started = time.perf_counter()
        p = tick.problem
        routes = _kept_routes(tick)
        served = {s for r in routes for s in r}
        assert p.vehicle_start_time is not None and p.capacity is not None
        assert p.demand is not None
        free = np.array(
            [not routes[v] and p.vehicle_start_time[v] == 0 for v in range(p.num_vehicles)]
        )
        for first, second in _requests(tick, served):
            best, best_t = NONE, None
            stops = [first] if second == NONE else [first, second]
            for v in (int(k) for k in np.flatnonzero(free)):
                if not all(p.vehicle_may_serve(v, s) for s in stops):
                    continue
                if second != NONE and p.capacity[v, 0] < p.demand[first, 0]:
                    continue
                reach = _fits(p, v, stops)
                if reach is not None and (best_t is None or reach < best_t):
                    best, best_t = v, reach
            if best != NONE:
                routes[best] = stops
                free[best] = False
        result = evaluate(p, routes, backend=self.name)
        return replace(result, solve_time_s=time.perf_counter() - started)


def _kept_routes(tick: TickProblem) -> list[list[int]]:
    """Previous routes (committed stops first on their worker), each stop once."""
    p = tick.problem
    assert p.committed_vehicle is not None
    routes: list[list[int]] = [[] for _ in range(p.num_vehicles)]
    seen: set[int] = set()
    for v, route in enumerate(tick.initial_routes[: p.num_vehicles]):
        for s in route:
            c = int(p.committed_vehicle[s])
            if s not in seen and (c in (NONE, v)):
                routes[v].append(s)
                seen.add(s)
    partner = p.partner()
    for v, route in enumerate(routes):  # a pair needs both halves on one worker
        routes[v] = [s for s in route if partner[s] == NONE or partner[s] in route]
    seen = {s for r in routes for s in r}
    for s in range(p.num_stops):
        c = int(p.committed_vehicle[s])
        if c != NONE and s not in seen:
            routes[c].append(s)
    return routes


def _requests(tick: TickProblem, served: set[int]) -> list[tuple[int, int]]:
    """Unplanned work as (first stop, second stop or NONE): emergencies, then by age."""
    p = tick.problem
    assert p.tw_start is not None
    created = {o.id: o.created_at for o in tick.orders}
    jobs = {j.id: j for j in tick.jobs}
    partner = p.partner()
    out: list[tuple[int, float, int, int]] = []
    for s, ref in enumerate(tick.stops):
        if s in served:
            continue
        if ref.kind == StopKind.PICKUP:
            out.append((1, created.get(ref.entity_id, 0.0), s, int(partner[s])))
        elif ref.kind == StopKind.JOB:
            job = jobs[ref.entity_id]
            if job.window_start is not None and p.tw_start[s] > JOB_RELEASE_S:
                continue  # too early to tie a technician to it
            out.append((0 if job.emergency else 1, job.created_at, s, NONE))
    out.sort()
    return [(s, second) for _, _, s, second in out]


def _fits(p: RoutingProblem, v: int, stops: list[int]) -> int | None:
    """Arrival at the first stop if the worker can serve the stops within its shift."""
    assert p.vehicle_start_time is not None and p.vehicle_end_time is not None
    assert p.vehicle_profile is not None and p.tw_start is not None
    assert p.tw_end is not None and p.service_time is not None
    tt = p.travel_time[int(p.vehicle_profile[v])]
    latest = p.latest_starts(v)  # windows, and pickups by the worker's pickup deadline
    here = int(p.vehicle_start[v])
    t = int(p.vehicle_start_time[v])
    first: int | None = None
    for s in stops:
        loc = int(p.stop_location[s])
        arrive = t + int(tt[here, loc])
        if first is None:
            first = arrive
        t = max(arrive, int(p.tw_start[s]))
        if t > latest[s]:
            return None
        t += int(p.service_time[s])
        here = loc
    if t > p.vehicle_end_time[v]:
        return None
    return first
