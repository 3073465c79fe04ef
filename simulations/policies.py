"""Dispatch policies the simulator compares.

``optimizer`` is the engine's own tick (greedy insertion, then OR-Tools local
search). ``greedy`` is the classic myopic dispatcher: each waiting order, in
the order it was placed, goes to the nearest *available* courier (one with no
work left), one order per trip; each job to the nearest free technician with
the skills. It assigns through the engine: ``PolicyEngine`` is an ``Engine``
whose tick asks a ``DispatchPolicy`` for the routes instead of the solver, so
lifecycle, events and the plan commit stay the engine's.
"""

from __future__ import annotations

import time
from typing import Any, Protocol

import numpy as np

from dispatch._tick import TickProblem
from dispatch.engine import Engine
from dispatch.model import Community, StopKind, Worker
from solver.problem import NONE, RoutingProblem
from solver.result import RoutingResult, SolveStatus

#: Jobs booked in a window are only handed out this long before the window opens.
JOB_RELEASE_S = 1800


class DispatchPolicy(Protocol):
    """Turns one tick's problem into routes (the engine commits them)."""

    name: str

    @property
    def orders_per_trip(self) -> int | None:
        """Most orders it stacks on one courier; None: the community's bundling rule."""

    def solve(self, tick: TickProblem, budget_s: float) -> RoutingResult: ...


class PolicyEngine(Engine):
    """An Engine whose ticks are planned by a ``DispatchPolicy``."""

    def __init__(self, *args: Any, dispatch_policy: DispatchPolicy, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.dispatch_policy = dispatch_policy

    def _solve(self, tp: TickProblem, budget_s: float) -> RoutingResult:
        return self.dispatch_policy.solve(tp, budget_s)

    def orders_per_trip(self, community: Community, worker: Worker) -> int:
        """The community's rule, or the policy's own when it stacks fewer."""
        most = super().orders_per_trip(community, worker)
        own = self.dispatch_policy.orders_per_trip
        return most if own is None else max(1, min(most, own))


def schedule(problem: RoutingProblem, routes: list[list[int]], backend: str) -> RoutingResult:
    """Earliest schedule of the routes and their cost (travel + lateness + drops)."""
    p = problem
    assert p.tw_start is not None and p.service_time is not None
    assert p.soft_deadline is not None and p.lateness_weight is not None
    assert p.travel_cost is not None and p.drop_penalty is not None
    assert p.vehicle_start_time is not None and p.vehicle_profile is not None
    starts: list[tuple[int, ...]] = []
    travel = lateness = cost = 0
    for v, route in enumerate(routes):
        tt = p.travel_time[int(p.vehicle_profile[v])]
        here = int(p.vehicle_start[v])
        t = int(p.vehicle_start_time[v])
        times = []
        for s in route:
            loc = int(p.stop_location[s])
            travel += int(p.travel_cost[here, loc])
            t = max(t + int(tt[here, loc]), int(p.tw_start[s]))
            times.append(t)
            if p.soft_deadline[s] != NONE and t > p.soft_deadline[s]:
                lateness += t - int(p.soft_deadline[s])
                cost += (t - int(p.soft_deadline[s])) * int(p.lateness_weight[s])
            t += int(p.service_time[s])
            here = loc
        starts.append(tuple(times))
    served = {s for r in routes for s in r}
    dropped = tuple(s for s in range(p.num_stops) if s not in served)
    cost += travel + sum(int(p.drop_penalty[s]) for s in dropped if p.drop_penalty[s] != NONE)
    return RoutingResult(
        routes=tuple(tuple(r) for r in routes),
        start_times=tuple(starts),
        dropped=dropped,
        objective=cost,
        travel_cost=travel,
        lateness=lateness,
        status=SolveStatus.FEASIBLE,
        solve_time_s=0.0,
        backend=backend,
    )


class NearestAvailable:
    """Myopic dispatch: nearest idle worker at order time, one order per trip."""

    name = "greedy"
    orders_per_trip = 1

    def solve(self, tick: TickProblem, budget_s: float) -> RoutingResult:
        started = time.perf_counter()
        p = tick.problem
        n_v = p.num_vehicles
        routes = self._kept_routes(tick)
        served = {s for r in routes for s in r}
        assert p.vehicle_start_time is not None and p.vehicle_end_time is not None
        assert p.vehicle_profile is not None and p.capacity is not None
        assert p.demand is not None and p.tw_start is not None and p.tw_end is not None
        assert p.service_time is not None
        free = np.array([not routes[v] and p.vehicle_start_time[v] == 0 for v in range(n_v)])
        for first, second in self._requests(tick, served):
            best, best_t = NONE, None
            stops = [first] if second == NONE else [first, second]
            for v in (int(k) for k in np.flatnonzero(free)):
                if not all(p.vehicle_may_serve(v, s) for s in stops):
                    continue
                if second != NONE and p.capacity[v, 0] < p.demand[first, 0]:
                    continue
                reach = self._fits(p, v, stops)
                if reach is not None and (best_t is None or reach < best_t):
                    best, best_t = v, reach
            if best != NONE:
                routes[best] = stops
                free[best] = False
        result = schedule(p, routes, "nearest")
        return RoutingResult(**{**result.__dict__, "solve_time_s": time.perf_counter() - started})

    @staticmethod
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

    @staticmethod
    def _requests(tick: TickProblem, served: set[int]) -> list[tuple[int, int]]:
        """Unplanned work as (first stop, second stop or NONE): emergencies, then by age."""
        p = tick.problem
        assert p.tw_start is not None
        created = {o.id: o.created_at for o in tick.orders}
        jobs = {j.id: j for j in tick.jobs}
        partner = p.partner()
        out: list[tuple[float, int, int, int]] = []
        for s, ref in enumerate(tick.stops):
            if s in served:
                continue
            if ref.kind == StopKind.PICKUP:
                out.append((1, created.get(ref.entity_id, 0.0), s, int(partner[s])))  # type: ignore[arg-type]
            elif ref.kind == StopKind.JOB:
                job = jobs[ref.entity_id]
                if job.window_start is not None and p.tw_start[s] > JOB_RELEASE_S:
                    continue  # too early to tie a technician to it
                out.append((0 if job.emergency else 1, job.created_at, s, NONE))  # type: ignore[arg-type]
        out.sort()
        return [(s, second) for _, _, s, second in out]

    @staticmethod
    def _fits(p: RoutingProblem, v: int, stops: list[int]) -> int | None:
        """Arrival at the first stop if the worker can serve the stops within its shift."""
        assert p.vehicle_start_time is not None and p.vehicle_end_time is not None
        assert p.vehicle_profile is not None and p.tw_start is not None
        assert p.tw_end is not None and p.service_time is not None
        tt = p.travel_time[int(p.vehicle_profile[v])]
        here = int(p.vehicle_start[v])
        t = int(p.vehicle_start_time[v])
        first: int | None = None
        for s in stops:
            loc = int(p.stop_location[s])
            arrive = t + int(tt[here, loc])
            if first is None:
                first = arrive
            t = max(arrive, int(p.tw_start[s]))
            if t > p.tw_end[s]:
                return None
            t += int(p.service_time[s])
            here = loc
        if t > p.vehicle_end_time[v]:
            return None
        return first
