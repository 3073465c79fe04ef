"""An independent feasibility checker for routing plans.

It shares no code with any solver: it recomputes the earliest-start schedule,
the loads and every cost term straight from the problem's arrays, so a bug in
a back-end cannot hide itself. Every solver test runs its plans through it.
Plain Python loops on purpose: obviously right beats fast here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from solver.problem import NONE, RoutingProblem
from solver.result import RoutingResult


@dataclass(frozen=True)
class CheckReport:
    """What the checker found; costs are recomputed from scratch."""

    feasible: bool
    violations: tuple[str, ...]
    travel_cost: int
    lateness: int
    objective: int


def schedule(problem: RoutingProblem, vehicle: int, route: Sequence[int]) -> list[int]:
    """Earliest service-start times along one route (no feasibility judgement)."""
    p = problem
    assert p.tw_start is not None and p.service_time is not None
    assert p.vehicle_start_time is not None
    tt = p.vehicle_time_matrix(vehicle)
    t = int(p.vehicle_start_time[vehicle])
    here = int(p.vehicle_start[vehicle])
    out: list[int] = []
    for s in route:
        loc = int(p.stop_location[s])
        t = max(t + int(tt[here, loc]), int(p.tw_start[s]))
        out.append(t)
        t += int(p.service_time[s])
        here = loc
    return out


@dataclass
class _Tally:
    travel: int = 0
    lateness: int = 0
    late_cost: int = 0
    fixed: int = 0
    churn: int = 0


def _positions(n: int, routes: list[list[int]], bad: list[str]) -> dict[int, tuple[int, int]]:
    """Map each routed stop to (vehicle, position); flag unknown and repeated stops."""
    where: dict[int, tuple[int, int]] = {}
    for v, route in enumerate(routes):
        for pos, s in enumerate(route):
            if not 0 <= s < n:
                bad.append(f"vehicle {v} visits unknown stop {s}")
                continue
            if s in where:
                bad.append(f"stop {s} is visited more than once")
                continue
            where[s] = (v, pos)
    return where


def _check_assignment(p: RoutingProblem, where: dict[int, tuple[int, int]], bad: list[str]) -> None:
    """Committed vehicles, skills (allowed vehicles) and pairing rules."""
    assert p.committed_vehicle is not None
    for s, (v, _) in sorted(where.items()):
        cv = int(p.committed_vehicle[s])
        if cv != NONE and cv != v:
            bad.append(f"stop {s} is committed to vehicle {cv} but served by {v}")
        if p.allowed_vehicles is not None:
            allowed = p.allowed_vehicles[s]
            if allowed is not None and v not in allowed:
                bad.append(f"vehicle {v} is not allowed to serve stop {s}")
    for pick, deliv in p.pairs_list():
        a, b = where.get(pick), where.get(deliv)
        if (a is None) != (b is None):
            bad.append(f"pair ({pick}, {deliv}) is half served")
        elif a is not None and b is not None:
            if a[0] != b[0]:
                bad.append(f"pair ({pick}, {deliv}) is split over vehicles {a[0]} and {b[0]}")
            elif a[1] > b[1]:
                bad.append(f"pair ({pick}, {deliv}): delivery comes before pickup")


def _drop_cost(p: RoutingProblem, unrouted: list[int], bad: list[str]) -> int:
    assert p.drop_penalty is not None and p.committed_vehicle is not None
    cost = 0
    for s in unrouted:
        if p.committed_vehicle[s] != NONE:
            bad.append(f"stop {s} committed to vehicle {p.committed_vehicle[s]} is not served")
        if p.drop_penalty[s] == NONE:
            bad.append(f"mandatory stop {s} is not served")
        else:
            cost += int(p.drop_penalty[s])
    return cost


def _walk(
    p: RoutingProblem,
    v: int,
    route: list[int],
    tally: _Tally,
    bad: list[str],
    pickups: set[int],
) -> list[int]:
    """Drive one route: windows, pickup deadline, shift end, capacity and costs.

    Returns start times."""
    assert p.tw_start is not None and p.tw_end is not None and p.service_time is not None
    assert p.demand is not None and p.capacity is not None
    assert p.vehicle_initial_load is not None and p.vehicle_start_time is not None
    assert p.soft_deadline is not None and p.lateness_weight is not None
    assert p.vehicle_end is not None and p.vehicle_end_time is not None
    assert p.travel_cost is not None and p.vehicle_fixed_cost is not None
    assert p.preferred_vehicle is not None and p.churn_penalty is not None
    assert p.vehicle_pickup_end is not None
    assert p.fee_deadline is not None and p.late_fee is not None
    tt = p.vehicle_time_matrix(v)
    here = int(p.vehicle_start[v])
    t = int(p.vehicle_start_time[v])
    load = [int(x) for x in p.vehicle_initial_load[v]]
    cap = [int(x) for x in p.capacity[v]]
    starts: list[int] = []
    if route:
        tally.fixed += int(p.vehicle_fixed_cost[v])
    for s in route:
        loc = int(p.stop_location[s])
        tally.travel += int(p.travel_cost[here, loc])
        t = max(t + int(tt[here, loc]), int(p.tw_start[s]))
        starts.append(t)
        if t > p.tw_end[s]:
            bad.append(f"vehicle {v} starts stop {s} at {t}, after its window ends {p.tw_end[s]}")
        if s in pickups and t > p.vehicle_pickup_end[v]:
            bad.append(
                f"vehicle {v} picks up stop {s} at {t}, after its pickup deadline "
                f"{p.vehicle_pickup_end[v]}"
            )
        deadline = int(p.soft_deadline[s])
        if deadline != NONE and t > deadline:
            tally.lateness += t - deadline
            tally.late_cost += (t - deadline) * int(p.lateness_weight[s])
        if p.fee_deadline[s] != NONE and t > p.fee_deadline[s]:
            tally.late_cost += int(p.late_fee[s])
        pref = int(p.preferred_vehicle[s])
        if pref != NONE and pref != v:
            tally.churn += int(p.churn_penalty[s])
        t += int(p.service_time[s])
        for d in range(len(load)):
            load[d] += int(p.demand[s, d])
            if not 0 <= load[d] <= cap[d]:
                bad.append(
                    f"vehicle {v} carries {load[d]} after stop {s} "
                    f"(capacity {cap[d]}, dimension {d})"
                )
        here = loc
    if not route:
        return starts
    end = int(p.vehicle_end[v])
    if end != NONE:
        tally.travel += int(p.travel_cost[here, end])
        t += int(tt[here, end])
        if t > p.vehicle_end_time[v]:
            bad.append(
                f"vehicle {v} reaches its end at {t}, after its shift {p.vehicle_end_time[v]}"
            )
    elif t > p.vehicle_end_time[v]:
        bad.append(f"vehicle {v} finishes at {t}, after its shift ends {p.vehicle_end_time[v]}")
    return starts


def _check_trip_groups(p: RoutingProblem, v: int, route: list[int], bad: list[str]) -> None:
    """One group per trip: at each grouped pickup, every grouped order on board shares it."""
    assert p.trip_group is not None
    group = p.trip_group
    partner = p.partner()
    pickups = set(int(x) for x in p.pairs[:, 0]) if p.pairs is not None else set()
    # Orders on board at the start: grouped deliveries on this route without a pickup.
    on_board = {s: int(group[s]) for s in route if group[s] != NONE and partner[s] == NONE}
    for s in route:
        if s in pickups:
            g = int(group[s])
            if g != NONE:
                others = sorted({h for h in on_board.values() if h != g})
                if others:
                    bad.append(
                        f"vehicle {v} picks up stop {s} of trip group {g} "
                        f"with orders of group(s) {others[:3]} on board"
                    )
                on_board[int(partner[s])] = g
        else:
            on_board.pop(s, None)


def check_routes(
    problem: RoutingProblem,
    result: RoutingResult | Sequence[Sequence[int]],
    dropped: Sequence[int] | None = None,
) -> CheckReport:
    """Check a plan against every rule of the problem and recompute its objective.

    ``result`` is a RoutingResult or plain routes (one stop list per vehicle).
    With a RoutingResult, its dropped list, start times and claimed objective
    are checked too (a claimed objective *below* the recomputed one is a violation).
    """
    p = problem
    claimed = result if isinstance(result, RoutingResult) else None
    raw = claimed.routes if claimed is not None else result
    assert not isinstance(raw, RoutingResult)
    routes = [[int(s) for s in r] for r in raw]
    bad: list[str] = []
    n, v_count = p.num_stops, p.num_vehicles
    if len(routes) > v_count:
        extra = [s for r in routes[v_count:] for s in r]
        bad.append(f"{len(routes)} routes for {v_count} vehicles")
        if extra:
            bad.append(f"stops {extra[:5]} are on routes of vehicles that do not exist")
    routes = routes[:v_count] + [[] for _ in range(v_count - len(routes))]

    where = _positions(n, routes, bad)
    unrouted = [s for s in range(n) if s not in where]
    if dropped is None and claimed is not None:
        dropped = claimed.dropped
    if dropped is not None:
        listed = [int(s) for s in dropped]
        if len(set(listed)) != len(listed):
            bad.append("a stop is listed as dropped twice")
        both = sorted(set(listed) & set(where))
        if both:
            bad.append(f"stops both routed and dropped: {both[:5]}")
        if sorted(set(listed)) != unrouted:
            bad.append("the dropped list differs from the stops left unrouted")
    drop_cost = _drop_cost(p, unrouted, bad)
    _check_assignment(p, where, bad)

    tally = _Tally()
    assert p.pairs is not None
    pickups = {int(pair[0]) for pair in p.pairs}  # the first stop of each pair
    for v, route in enumerate(routes):
        valid = [s for s in route if 0 <= s < n]
        starts = _walk(p, v, valid, tally, bad, pickups)
        _check_trip_groups(p, v, valid, bad)
        claimed_starts = (
            claimed.start_times[v]
            if claimed is not None and claimed.has_plan and v < len(claimed.start_times)
            else None
        )
        if claimed_starts is not None and list(claimed_starts) != starts:
            bad.append(f"vehicle {v}: claimed start times differ from the earliest schedule")

    objective = tally.travel + tally.late_cost + drop_cost + tally.fixed + tally.churn
    if claimed is not None and claimed.has_plan and claimed.objective < objective:
        bad.append(f"claimed objective {claimed.objective} is below the recomputed {objective}")
    return CheckReport(
        feasible=not bad,
        violations=tuple(bad),
        travel_cost=tally.travel,
        lateness=tally.lateness,
        objective=objective,
    )
