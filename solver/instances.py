"""Benchmark instances as RoutingProblems, and checks in double precision.

Inside the solver everything is an integer: Euclidean distances are scaled
by ``scale``; travel *times* are rounded up so that a plan feasible in
integers is feasible with real-valued times, while *costs* are rounded to
nearest. ``check_float`` re-checks a plan with the file's real numbers.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import overload

import numpy as np

from solver.problem import RoutingProblem
from solver.read import FloatArray, Instance

#: Tolerance for comparing real-valued times in double precision.
EPS = 1e-6


def euclidean_matrix(inst: Instance) -> FloatArray:
    """Real-valued distances between all nodes (node 0 is the depot)."""
    dx = inst.x[:, None] - inst.x[None, :]
    dy = inst.y[:, None] - inst.y[None, :]
    return np.sqrt(dx * dx + dy * dy)  # type: ignore[no-any-return]


def to_routing_problem(inst: Instance, scale: int = 1000) -> RoutingProblem:
    """Closed routes from depot 0 with the file's fleet; every customer mandatory.

    Stop ``s`` is node ``s + 1``. Times round up (travel, service, ready) or down
    (due dates), so an integer-feasible plan is feasible with the real numbers.
    """
    if scale <= 0:
        raise ValueError("scale must be positive")
    e = euclidean_matrix(inst)
    time = np.ceil(e * scale - EPS).astype(np.int64)
    np.fill_diagonal(time, 0)
    cost = np.round(e * scale).astype(np.int64)
    n = inst.num_nodes
    stops = np.arange(1, n)
    k = inst.num_vehicles
    return RoutingProblem(
        travel_time=time,
        travel_cost=cost,
        stop_location=stops,
        service_time=np.ceil(inst.service[1:] * scale - EPS).astype(np.int64),
        demand=inst.demand[1:].reshape(-1, 1),
        tw_start=np.ceil(inst.ready[1:] * scale - EPS).astype(np.int64),
        tw_end=np.floor(inst.due[1:] * scale + EPS).astype(np.int64),
        pairs=(inst.pairs - 1) if inst.pairs.size else None,
        vehicle_start=np.zeros(k, dtype=np.int64),
        vehicle_end=np.zeros(k, dtype=np.int64),
        capacity=np.full((k, 1), inst.capacity, dtype=np.int64),
        vehicle_start_time=np.full(k, int(np.ceil(inst.ready[0] * scale - EPS))),
        vehicle_end_time=np.full(k, int(np.floor(inst.due[0] * scale + EPS))),
    )


@overload
def routes_to_ids(inst: Instance, routes: Sequence[Sequence[int]]) -> list[list[int]]: ...
@overload
def routes_to_ids(inst: Sequence[Sequence[int]], routes: None = None) -> list[list[int]]: ...
def routes_to_ids(
    inst: Instance | Sequence[Sequence[int]], routes: Sequence[Sequence[int]] | None = None
) -> list[list[int]]:
    """Stop indices of a problem built by ``to_routing_problem`` → the file's node ids.

    Call as ``routes_to_ids(inst, routes)`` (indices are checked against the
    instance); the older one-argument form ``routes_to_ids(routes)`` still works.
    Empty routes are left out; the depot (node 0) never appears.
    """
    if routes is None:
        assert not isinstance(inst, Instance)
        return [[int(s) + 1 for s in r] for r in inst if len(r)]
    assert isinstance(inst, Instance)
    out = [[int(s) + 1 for s in r] for r in routes if len(r)]
    bad = [node for r in out for node in r if not 0 < node < inst.num_nodes]
    if bad:
        raise ValueError(f"stop indices {bad[:5]} do not belong to instance {inst.name}")
    return out


def euclidean_distance(inst: Instance, id_routes: Sequence[Sequence[int]]) -> float:
    """Total real-valued distance of depot-to-depot routes given in file ids."""
    e = euclidean_matrix(inst)
    total = 0.0
    for route in id_routes:
        if not route:
            continue
        path = [0, *route, 0]
        total += float(sum(e[a, b] for a, b in itertools.pairwise(path)))
    return total


def check_float(inst: Instance, id_routes: Sequence[Sequence[int]]) -> list[str]:
    """Violations of a plan in double precision (empty list: feasible)."""
    e = euclidean_matrix(inst)
    problems: list[str] = []
    routes = [list(r) for r in id_routes if len(r)]
    if len(routes) > inst.num_vehicles:
        problems.append(f"{len(routes)} routes but only {inst.num_vehicles} vehicles")
    seen: dict[int, tuple[int, int]] = {}
    for v, route in enumerate(routes):
        for pos, node in enumerate(route):
            if not 0 < node < inst.num_nodes:
                problems.append(f"route {v} visits unknown node {node}")
                continue
            if node in seen:
                problems.append(f"node {node} visited twice")
            seen[node] = (v, pos)
    missing = sorted(set(range(1, inst.num_nodes)) - set(seen))
    if missing:
        problems.append(f"{len(missing)} customers not visited, e.g. {missing[:5]}")
    for v, route in enumerate(routes):
        t = float(inst.ready[0])
        load = 0
        prev = 0
        for node in route:
            if not 0 < node < inst.num_nodes:
                continue
            t = max(t + float(e[prev, node]), float(inst.ready[node]))
            if t > inst.due[node] + EPS:
                problems.append(f"route {v}: node {node} served at {t:.4f} > due {inst.due[node]}")
            t += float(inst.service[node])
            load += int(inst.demand[node])
            if load > inst.capacity or load < 0:
                problems.append(f"route {v}: load {load} outside [0, {inst.capacity}] at {node}")
            prev = node
        t += float(e[prev, 0])
        if t > inst.due[0] + EPS:
            problems.append(f"route {v}: back at depot at {t:.4f} > {inst.due[0]}")
    for p, d in inst.pairs:
        sp, sd = seen.get(int(p)), seen.get(int(d))
        if sp is None or sd is None:
            continue
        if sp[0] != sd[0]:
            problems.append(f"pair ({p}, {d}) split across routes")
        elif sp[1] > sd[1]:
            problems.append(f"pair ({p}, {d}): delivery before pickup")
    return problems
