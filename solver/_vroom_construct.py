"""A fast construction with VROOM (pyvroom) that OR-Tools then improves.

VROOM builds good plans for time-windowed pickup-and-delivery in a fraction
of a second, which is exactly what OR-Tools lacks on long routes (its first
solution is slow and poor there). Only hard constraints are passed: soft
deadlines, churn and drop penalties are left to OR-Tools. Problems VROOM
cannot express (values past 32 bits, per-vehicle pickup deadlines; several
capacity-free dimensions are fine) are declined with ``None``.
"""

from __future__ import annotations

from datetime import timedelta

import numpy as np

from solver.problem import HORIZON_MAX, NONE, RoutingProblem

_U32 = 2**32 - 1
_PROFILE = "p{}"


def _fits(problem: RoutingProblem) -> bool:
    p = problem
    assert p.tw_start is not None and p.tw_end is not None and p.service_time is not None
    assert p.vehicle_end_time is not None and p.travel_cost is not None
    finite_end = p.tw_end[p.tw_end < HORIZON_MAX]
    values = [
        int(p.travel_time.max(initial=0)),
        int(p.travel_cost.max(initial=0)),
        int(p.tw_start.max(initial=0)),
        int(finite_end.max(initial=0)),
        int(p.service_time.max(initial=0)),
        int(p.vehicle_end_time[p.vehicle_end_time < HORIZON_MAX].max(initial=0)),
    ]
    return max(values) < _U32 // 4


def construct_vroom(
    problem: RoutingProblem, timeout_s: float, *, level: int = 3, threads: int = 1
) -> list[list[int]] | None:
    """Routes (stop indices per vehicle) from VROOM, or None when not applicable."""
    p = problem
    if p.num_stops == 0 or p.num_vehicles == 0 or not _fits(p):
        return None
    if p.has_pickup_deadlines():
        # VROOM's time windows belong to a job, not to a (job, vehicle): a pickup
        # deadline per vehicle has no exact VROOM form, and a plan that breaks it is
        # no start at all.
        return None
    try:
        import vroom
    except ImportError:  # pragma: no cover - pyvroom is a default dependency
        return None
    assert p.tw_start is not None and p.tw_end is not None and p.service_time is not None
    assert p.demand is not None and p.capacity is not None and p.vehicle_end is not None
    assert p.vehicle_start_time is not None and p.vehicle_end_time is not None
    assert p.vehicle_profile is not None and p.committed_vehicle is not None
    assert p.travel_cost is not None and p.vehicle_initial_load is not None

    inp = vroom.Input()
    for k in range(p.travel_time.shape[0]):
        inp.set_durations_matrix(_PROFILE.format(k), p.travel_time[k].tolist())
        inp.set_costs_matrix(_PROFILE.format(k), p.travel_cost.tolist())

    # Skills: one skill per distinct allowed-vehicle set.
    skill_of: dict[frozenset[int], int] = {}
    stop_skill: dict[int, int] = {}
    for s in range(p.num_stops):
        allowed = frozenset(k for k in range(p.num_vehicles) if p.vehicle_may_serve(k, s))
        if len(allowed) < p.num_vehicles:
            stop_skill[s] = skill_of.setdefault(allowed, len(skill_of) + 1)
    vehicle_skills: list[set[int]] = [set() for _ in range(p.num_vehicles)]
    for allowed, skill in skill_of.items():
        for k in allowed:
            vehicle_skills[k].add(skill)

    committed_load = np.zeros_like(p.vehicle_initial_load)
    for s in range(p.num_stops):
        cv = int(p.committed_vehicle[s])
        if cv != NONE and p.partner()[s] == NONE:
            committed_load[cv] += np.maximum(-p.demand[s], 0)
    if np.any(committed_load != p.vehicle_initial_load):
        return None  # on-board goods that are not single committed deliveries

    for k in range(p.num_vehicles):
        end = int(p.vehicle_end[k])
        shift_end = int(p.vehicle_end_time[k])
        inp.add_vehicle(
            vroom.Vehicle(
                k + 1,
                start=int(p.vehicle_start[k]),
                end=None if end == NONE else end,
                profile=_PROFILE.format(int(p.vehicle_profile[k])),
                capacity=[int(c) for c in np.minimum(p.capacity[k], _U32 // 4)],
                skills=vehicle_skills[k] or None,
                time_window=vroom.TimeWindow(
                    int(p.vehicle_start_time[k]), min(shift_end, _U32 // 4)
                ),
            )
        )

    starts, ends = p.tw_start, p.tw_end

    def window(s: int) -> list[vroom.TimeWindow]:
        hi = int(ends[s])
        if hi >= HORIZON_MAX:
            return [vroom.TimeWindow(int(starts[s]), _U32 // 4)]
        return [vroom.TimeWindow(int(starts[s]), hi)]

    def skills(s: int) -> set[int] | None:
        return {stop_skill[s]} if s in stop_skill else None

    paired: set[int] = set()
    for pick, deliv in p.pairs_list():
        paired.update((pick, deliv))
        inp.add_job(
            vroom.Shipment(
                vroom.ShipmentStep(
                    pick + 1,
                    location=int(p.stop_location[pick]),
                    default_service=int(p.service_time[pick]),
                    time_windows=window(pick),
                ),
                vroom.ShipmentStep(
                    deliv + 1,
                    location=int(p.stop_location[deliv]),
                    default_service=int(p.service_time[deliv]),
                    time_windows=window(deliv),
                ),
                amount=[int(a) for a in np.maximum(p.demand[pick], 0)],
                skills=skills(pick),
            )
        )
    for s in range(p.num_stops):
        if s in paired:
            continue
        d = p.demand[s]
        inp.add_job(
            vroom.Job(
                s + 1,
                location=int(p.stop_location[s]),
                default_service=int(p.service_time[s]),
                delivery=[int(a) for a in np.maximum(-d, 0)],
                pickup=[int(a) for a in np.maximum(d, 0)],
                skills=skills(s),
                time_windows=window(s),
            )
        )
    try:
        solution = inp.solve(
            exploration_level=level,
            nb_threads=threads,
            timeout=timedelta(seconds=max(0.01, timeout_s)),
        )
    except Exception:  # VROOM rejects some inputs; the caller falls back
        return None
    rows = np.asarray(solution._routes_numpy())
    routes: list[list[int]] = [[] for _ in range(p.num_vehicles)]
    for row in rows:
        kind = row["type"]
        kind = kind.decode() if isinstance(kind, bytes) else str(kind)
        if kind in ("job", "pickup", "delivery"):
            routes[int(row["vehicle_id"]) - 1].append(int(row["id"]) - 1)
    return routes
