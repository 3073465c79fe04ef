"""Turn the routes a back-end found into a RoutingResult with its schedule and costs.

Used by every back-end so results are reported the same way. (The checker
in ``checker.py`` deliberately recomputes all of this on its own.)
"""

from __future__ import annotations

from collections.abc import Sequence

from solver.problem import NONE, RoutingProblem
from solver.result import RoutingResult, SolveStatus

__all__ = ["evaluate"]


def evaluate(
    problem: RoutingProblem,
    routes: Sequence[Sequence[int]],
    *,
    backend: str,
    status: SolveStatus = SolveStatus.FEASIBLE,
    solve_time_s: float = 0.0,
    warnings: Sequence[str] = (),
) -> RoutingResult:
    """Schedule each route at its earliest and price the plan: the one objective.

    Travel (plus the ride to a route's end), lateness weighted per stop, late fees, drop
    penalties, fixed vehicle costs and churn. Every back-end and every dispatch
    policy reports its plan through this function, so plans compare alike.
    """
    p = problem
    assert p.tw_start is not None and p.service_time is not None
    assert p.soft_deadline is not None and p.lateness_weight is not None
    assert p.travel_cost is not None and p.vehicle_end is not None
    assert p.drop_penalty is not None and p.vehicle_fixed_cost is not None
    assert p.preferred_vehicle is not None and p.churn_penalty is not None
    assert p.vehicle_start_time is not None and p.vehicle_profile is not None
    assert p.fee_deadline is not None and p.late_fee is not None
    norm = [list(int(s) for s in r) for r in routes]
    norm += [[] for _ in range(p.num_vehicles - len(norm))]
    starts: list[tuple[int, ...]] = []
    travel = lateness = late_cost = fixed = churn = 0
    for v, route in enumerate(norm):
        tt = p.travel_time[int(p.vehicle_profile[v])]
        here = int(p.vehicle_start[v])
        t = int(p.vehicle_start_time[v])
        times: list[int] = []
        for s in route:
            loc = int(p.stop_location[s])
            travel += int(p.travel_cost[here, loc])
            t = max(t + int(tt[here, loc]), int(p.tw_start[s]))
            times.append(t)
            dl = int(p.soft_deadline[s])
            if dl != NONE and t > dl:
                lateness += t - dl
                late_cost += (t - dl) * int(p.lateness_weight[s])
            fee_dl = int(p.fee_deadline[s])
            if fee_dl != NONE and t > fee_dl:
                late_cost += int(p.late_fee[s])
            pref = int(p.preferred_vehicle[s])
            if pref != NONE and pref != v:
                churn += int(p.churn_penalty[s])
            t += int(p.service_time[s])
            here = loc
        end = int(p.vehicle_end[v])
        if route:
            fixed += int(p.vehicle_fixed_cost[v])
            if end != NONE:
                travel += int(p.travel_cost[here, end])
        starts.append(tuple(times))
    served = {s for r in norm for s in r}
    dropped = tuple(s for s in range(p.num_stops) if s not in served)
    drop_cost = sum(int(p.drop_penalty[s]) for s in dropped if p.drop_penalty[s] != NONE)
    return RoutingResult(
        routes=tuple(tuple(r) for r in norm),
        start_times=tuple(starts),
        dropped=dropped,
        objective=travel + late_cost + drop_cost + fixed + churn,
        travel_cost=travel,
        lateness=lateness,
        status=status,
        solve_time_s=solve_time_s,
        backend=backend,
        warnings=tuple(warnings),
    )
