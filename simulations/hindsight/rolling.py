"""Solve a whole day of deliveries as a rolling horizon that sees ahead.

One static model of a day's couriers holds over a thousand stops, more than
OR-Tools searches well in minutes (the project's facts: stay under ~1 000).
Orders live about half an hour, so the day is cut into slices by placement
time. Each slice's problem holds the slice's open orders *and* the next
look-ahead's (known in hindsight long before they are placed), with every
courier starting where and when its committed route leaves it. Each courier's
route is committed up to its last delivery of a slice order; look-ahead
orders picked up and delivered inside that prefix are committed with it, the
others go back to the pool. Committed routes only ever grow, so the day's plan
is the concatenation, a plan of the whole-day model (checked on it).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from simulations.hindsight.build import Model
from solver import RoutingParams, RoutingProblem, solve_routing


@dataclass(frozen=True)
class Horizon:
    """How the day is cut: slice length, look-ahead, search time per slice."""

    slice_s: float = 1200.0
    lookahead_s: float = 1200.0
    slice_budget_s: float = 8.0

    def __post_init__(self) -> None:
        if self.slice_s <= 0 or self.lookahead_s < 0 or self.slice_budget_s <= 0:
            raise ValueError("slice_s and slice_budget_s must be positive, lookahead_s >= 0")


def _sub_problem(
    p: RoutingProblem, stops: list[int], at: list[int], free_s: list[int]
) -> RoutingProblem:
    """The whole-day problem restricted to some stops, vehicles starting at (at, free_s)."""
    assert p.service_time is not None and p.demand is not None and p.tw_start is not None
    assert p.tw_end is not None and p.soft_deadline is not None
    assert p.lateness_weight is not None and p.drop_penalty is not None
    index = {s: k for k, s in enumerate(stops)}
    partner = p.partner()
    is_pickup = p.is_pickup()
    pairs = [(index[s], index[int(partner[s])]) for s in stops if is_pickup[s]]
    sel = np.array(stops, dtype=np.int64)
    return RoutingProblem(
        travel_time=p.travel_time,
        travel_cost=p.travel_cost,
        stop_location=p.stop_location[sel],
        service_time=p.service_time[sel],
        demand=p.demand[sel],
        tw_start=p.tw_start[sel],
        tw_end=p.tw_end[sel],
        soft_deadline=p.soft_deadline[sel],
        lateness_weight=p.lateness_weight[sel],
        fee_deadline=p.fee_deadline[sel] if p.fee_deadline is not None else None,
        late_fee=p.late_fee[sel] if p.late_fee is not None else None,
        drop_penalty=p.drop_penalty[sel],
        pairs=np.array(pairs, dtype=np.int64).reshape(-1, 2),
        capacity=p.capacity,
        vehicle_profile=p.vehicle_profile,
        vehicle_start=np.array(at, dtype=np.int64),
        vehicle_start_time=np.array(free_s, dtype=np.int64),
        vehicle_end_time=p.vehicle_end_time,
        vehicle_pickup_end=p.vehicle_pickup_end,
    )


def _prefix(route: Sequence[int], commit: set[int], partner: np.ndarray) -> list[int]:
    """The route up to its last stop of a committed order, without half-kept look-ahead pairs."""
    last = max((k for k, s in enumerate(route) if s in commit), default=-1)
    head = list(route[: last + 1])
    kept = set(head)
    return [s for s in head if s in commit or int(partner[s]) in kept]


def _advance(p: RoutingProblem, v: int, here: int, t: int, stops: list[int]) -> tuple[int, int]:
    """Where and when vehicle v is free after serving ``stops`` in order."""
    assert p.tw_start is not None and p.service_time is not None
    tt = p.vehicle_time_matrix(v)
    for s in stops:
        loc = int(p.stop_location[s])
        t = max(t + int(tt[here, loc]), int(p.tw_start[s])) + int(p.service_time[s])
        here = loc
    return here, t


def solve_rolling(
    model: Model,
    order_times: dict[str, float],
    horizon: Horizon,
    params: RoutingParams,
) -> list[list[int]]:
    """Routes of the whole-day model (one stop list per vehicle), slice by slice.

    ``order_times`` gives each order's placement time (which slice it belongs to).
    """
    p = model.problem
    assert p.vehicle_start_time is not None
    partner = p.partner()
    pickups = [int(s) for s in p.pairs[:, 0]] if p.pairs is not None else []
    placed = {s: order_times[model.stop_entity[s]] for s in pickups}
    routes: list[list[int]] = [[] for _ in range(p.num_vehicles)]
    at = [int(x) for x in p.vehicle_start]
    free_s = [int(x) for x in p.vehicle_start_time]
    pending = sorted(pickups, key=lambda s: placed[s])
    start = min(placed.values(), default=0.0)
    while pending:
        end = start + horizon.slice_s
        commit_pickups = [s for s in pending if placed[s] < end]
        if not commit_pickups:
            start = end
            continue
        peek = [s for s in pending if end <= placed[s] < end + horizon.lookahead_s]
        stops = [x for s in commit_pickups + peek for x in (s, int(partner[s]))]
        sub = _sub_problem(p, stops, at, free_s)
        res = solve_routing(sub, horizon.slice_budget_s, params=params)
        commit = {x for s in commit_pickups for x in (s, int(partner[s]))}
        done: set[int] = set()
        for v, sub_route in enumerate(res.routes):
            route = [stops[k] for k in sub_route]
            head = _prefix(route, commit, partner)
            if not head:
                continue
            at[v], free_s[v] = _advance(p, v, at[v], free_s[v], head)
            routes[v] += head
            done.update(head)
        # Slice orders the search dropped stay in the pool (they will be late, or dropped).
        left = [s for s in pending if s not in done]
        if len(left) == len(pending) and not peek and all(s in commit for s in left):
            break  # nothing more can be placed
        pending = left
        start = end
    return routes
