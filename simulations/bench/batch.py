"""A generated dispatch batch in one 3 km community, solved two ways (``dispatch bench batch``).

Random merchants, orders and couriers inside a community, turned into one
RoutingProblem (pickup-delivery pairs, the 30-minute promise as a soft deadline
weighted by member tier, courier capacity with orders already on board,
bicycles and scooters), then solved by regret insertion alone and by
``solve_routing``; both plans are checked.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from geo import Geofence, HaversineMatrixProvider
from solver.checker import check_routes
from solver.problem import NONE, RoutingProblem
from solver.regret_insertion import solve_regret_insertion
from solver.result import RoutingResult
from solver.routing import solve_routing

CENTER = (31.2304, 121.4737)
PROMISE_S = 30 * 60
PICKUP_SERVICE_S = 120
DROPOFF_SERVICE_S = 60
TIER_WEIGHTS = np.array([1, 2, 3, 5])
TIER_SHARE = np.array([0.7, 0.15, 0.1, 0.05])
DROP_PENALTY = 50_000_000


@dataclass(frozen=True)
class DemoBatch:
    problem: RoutingProblem
    orders: int
    couriers: int
    on_board: int
    distance_m: np.ndarray


@dataclass(frozen=True)
class PlanSummary:
    policy: str
    assigned: int
    dropped: int
    on_time_pct: float
    mean_door_min: float
    km: float
    couriers_used: int
    solve_s: float
    feasible: bool
    backend: str


def make_batch(orders: int, couriers: int, seed: int) -> DemoBatch:
    """Random merchants, orders (some already picked up) and couriers inside the fence."""
    rng = np.random.default_rng(seed)
    fence = Geofence.circle(*CENTER, 3000.0)
    n_merchants = max(3, orders // 5)
    m_lat, m_lng = fence.random_points(n_merchants, rng)
    c_lat, c_lng = fence.random_points(couriers, rng)
    d_lat, d_lng = fence.random_points(orders, rng)
    merchant = rng.integers(0, n_merchants, orders)
    lats = np.concatenate([c_lat, m_lat, d_lat])
    lngs = np.concatenate([c_lng, m_lng, d_lng])
    profiles = ["bicycle", "scooter"]
    vehicle_profile = rng.choice(2, couriers, p=[0.6, 0.4])
    dist, times = HaversineMatrixProvider().matrices(lats, lngs, profiles)

    age = rng.uniform(0, 300, orders)  # seconds since the order was placed
    ready = np.maximum(0, rng.uniform(-300, 600, orders)).astype(np.int64)
    deadline = (PROMISE_S - age).astype(np.int64)
    tier = rng.choice(4, orders, p=TIER_SHARE)
    on_board = rng.random(orders) < 0.1
    carrier = np.full(orders, NONE)
    load = np.zeros(couriers, dtype=np.int64)
    for o in np.flatnonzero(on_board).tolist():
        c = int(rng.integers(0, couriers))
        if load[c] < 2:
            carrier[o] = c
            load[c] += 1
        else:
            on_board[o] = False

    stop_loc: list[int] = []
    demand: list[int] = []
    tw_start: list[int] = []
    soft: list[int] = []
    weight: list[int] = []
    service: list[int] = []
    committed: list[int] = []
    drop: list[int] = []
    pairs: list[tuple[int, int]] = []
    for o in range(orders):
        dropoff_loc = int(couriers + n_merchants + o)
        if not on_board[o]:
            pairs.append((len(stop_loc), len(stop_loc) + 1))
            stop_loc.append(couriers + int(merchant[o]))
            demand.append(1)
            tw_start.append(int(ready[o]))
            soft.append(NONE)
            weight.append(0)
            service.append(PICKUP_SERVICE_S)
            committed.append(NONE)
            drop.append(DROP_PENALTY)
        stop_loc.append(dropoff_loc)
        demand.append(-1)
        tw_start.append(0)
        soft.append(int(max(deadline[o], 0)))
        weight.append(int(TIER_WEIGHTS[tier[o]]))
        service.append(DROPOFF_SERVICE_S)
        committed.append(int(carrier[o]))
        drop.append(DROP_PENALTY)
    problem = RoutingProblem(
        travel_time=times,
        travel_cost=dist,
        stop_location=np.array(stop_loc),
        service_time=np.array(service),
        demand=np.array(demand).reshape(-1, 1),
        tw_start=np.array(tw_start),
        soft_deadline=np.array(soft),
        lateness_weight=np.array(weight),
        drop_penalty=np.array(drop),
        committed_vehicle=np.array(committed),
        pairs=np.array(pairs),
        vehicle_start=np.arange(couriers),
        vehicle_profile=vehicle_profile,
        capacity=np.full((couriers, 1), 3),
        vehicle_initial_load=load.reshape(-1, 1),
    )
    return DemoBatch(problem, orders, couriers, int(on_board.sum()), dist)


def summarise(policy: str, batch: DemoBatch, result: RoutingResult) -> PlanSummary:
    p = batch.problem
    report = check_routes(p, result)
    assert p.soft_deadline is not None and p.demand is not None
    dropoffs = [s for s in range(p.num_stops) if p.demand[s, 0] < 0]
    starts = {
        s: t
        for r, ts in zip(result.routes, result.start_times, strict=True)
        for s, t in zip(r, ts, strict=True)
    }
    served = [s for s in dropoffs if s in starts]
    on_time = sum(starts[s] <= p.soft_deadline[s] for s in served)
    door = [(starts[s] + (PROMISE_S - int(p.soft_deadline[s]))) / 60.0 for s in served]
    return PlanSummary(
        policy=policy,
        assigned=len(served),
        dropped=len(dropoffs) - len(served),
        on_time_pct=100.0 * on_time / max(1, len(served)),
        mean_door_min=float(np.mean(door)) if door else 0.0,
        km=report.travel_cost / 1000.0,
        couriers_used=result.vehicles_used,
        solve_s=result.solve_time_s,
        feasible=report.feasible,
        backend=result.backend,
    )


def run_batch(
    orders: int, couriers: int, seed: int, time_limit: float
) -> tuple[DemoBatch, list[PlanSummary]]:
    """The batch and its two checked plans: regret insertion, then the optimizer."""
    batch = make_batch(orders, couriers, seed)
    start = solve_regret_insertion(batch.problem)
    best = solve_routing(batch.problem, time_limit)
    return batch, [
        summarise("regret-insertion", batch, start),
        summarise("optimizer", batch, best),
    ]
