"""Peer solvers measured beside ours: PyVRP and VROOM, same instance, same limit.

Each peer returns its routes in the file's node ids (or None when it found no
feasible plan) and its wall time, so the benchmark certifies every peer plan
with the same double-precision check as ours. A missing package raises
``PeerMissing`` with the install hint.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from datetime import timedelta

import numpy as np

from solver.instances import to_routing_problem
from solver.read import Instance

IdRoutes = list[list[int]]
Peer = Callable[[Instance, float, int], tuple[IdRoutes | None, float]]


class PeerMissing(RuntimeError):
    """A peer's package is not installed."""


def _window(inst: Instance, node: int, scale: int) -> tuple[int, int]:
    return math.ceil(inst.ready[node] * scale - 1e-6), math.floor(inst.due[node] * scale + 1e-6)


def vroom_peer(inst: Instance, time_limit_s: float, scale: int) -> tuple[IdRoutes | None, float]:
    """VROOM at its default exploration level (5) on both cores, stopped at the limit."""
    try:
        import vroom
    except ImportError as exc:
        raise PeerMissing("VROOM peer skipped: pip install pyvroom") from exc
    t0 = time.perf_counter()
    problem = to_routing_problem(inst, scale)
    assert problem.travel_cost is not None and problem.service_time is not None
    inp = vroom.Input()
    inp.set_durations_matrix("car", problem.travel_time[0].tolist())
    inp.set_costs_matrix("car", problem.travel_cost.tolist())
    depot_tw = vroom.TimeWindow(*_window(inst, 0, scale))
    for k in range(inst.num_vehicles):
        inp.add_vehicle(
            vroom.Vehicle(k + 1, start=0, end=0, capacity=[inst.capacity], time_window=depot_tw)
        )
    service = problem.service_time

    def step(node: int) -> vroom.ShipmentStep:
        return vroom.ShipmentStep(
            node,
            location=node,
            default_service=int(service[node - 1]),
            time_windows=[vroom.TimeWindow(*_window(inst, node, scale))],
        )

    if inst.kind == "pdptw":
        for p, d in inst.pairs.tolist():
            inp.add_job(vroom.Shipment(step(p), step(d), amount=[int(inst.demand[p])]))
    else:
        for j in range(1, inst.num_nodes):
            inp.add_job(
                vroom.Job(
                    j,
                    location=j,
                    default_service=int(service[j - 1]),
                    delivery=[int(inst.demand[j])],
                    time_windows=[vroom.TimeWindow(*_window(inst, j, scale))],
                )
            )
    sol = inp.solve(exploration_level=5, nb_threads=2, timeout=timedelta(seconds=time_limit_s))
    routes: dict[int, list[int]] = {}
    for row in np.asarray(sol._routes_numpy()):
        kind = row["type"]
        kind = kind.decode() if isinstance(kind, bytes) else str(kind)
        if kind in ("job", "pickup", "delivery"):
            routes.setdefault(int(row["vehicle_id"]), []).append(int(row["id"]))
    return list(routes.values()), time.perf_counter() - t0


def pyvrp_peer(inst: Instance, time_limit_s: float, scale: int) -> tuple[IdRoutes | None, float]:
    """PyVRP's iterated local search with the same limit (model building included)."""
    try:
        import pyvrp
        from pyvrp.stop import MaxRuntime
    except ImportError as exc:
        raise PeerMissing("PyVRP peer skipped: pip install pyvrp") from exc
    t0 = time.perf_counter()
    problem = to_routing_problem(inst, scale)
    tt, cost = problem.travel_time[0], problem.travel_cost
    assert cost is not None
    m = pyvrp.Model()
    locs = [m.add_location(float(inst.x[i]), float(inst.y[i])) for i in range(inst.num_nodes)]
    lo, hi = zip(*(_window(inst, i, scale) for i in range(inst.num_nodes)), strict=True)
    depot = m.add_depot(locs[0], tw_early=lo[0], tw_late=hi[0])
    m.add_vehicle_type(
        inst.num_vehicles,
        capacity=inst.capacity,
        start_depot=depot,
        end_depot=depot,
        tw_early=lo[0],
        tw_late=hi[0],
    )
    svc = [0, *(int(s) for s in problem.service_time)]  # type: ignore[union-attr]
    clients: list[int] = []
    shipments: list[tuple[int, int]] = []
    if inst.kind == "pdptw":
        for p, d in inst.pairs.tolist():
            m.add_shipment(
                locs[p], locs[d], lo[p], hi[p], svc[p], lo[d], hi[d], svc[d],
                amount=int(inst.demand[p]),
            )  # fmt: skip
            shipments.append((p, d))
    else:
        for j in range(1, inst.num_nodes):
            m.add_client(
                locs[j],
                delivery=int(inst.demand[j]),
                service_duration=svc[j],
                tw_early=lo[j],
                tw_late=hi[j],
            )
            clients.append(j)
    for i in range(inst.num_nodes):
        for j in range(inst.num_nodes):
            if i != j:
                m.add_edge(locs[i], locs[j], distance=int(cost[i, j]), duration=int(tt[i, j]))
    build = time.perf_counter() - t0
    res = m.solve(stop=MaxRuntime(max(0.05, time_limit_s - build)), display=False)
    wall = time.perf_counter() - t0
    if not res.is_feasible():
        return None, wall
    routes: IdRoutes = []
    for route in res.best.routes():
        ids: list[int] = []
        for act in route.schedule():
            if act.is_client():
                ids.append(clients[act.idx])
            elif act.is_pickup():
                ids.append(shipments[act.idx][0])
            elif act.is_delivery():
                ids.append(shipments[act.idx][1])
        if ids:
            routes.append(ids)
    return routes, wall


PEERS: dict[str, Peer] = {"pyvrp": pyvrp_peer, "vroom": vroom_peer}
