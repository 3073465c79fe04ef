"""Small routing problems for solver tests: hand-checkable lines and random instances."""

from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import strategies as st

from solver.problem import NONE, RoutingProblem
from solver.read import Instance


def line_problem(
    positions: list[int],
    *,
    vehicles: int = 1,
    open_routes: bool = False,
    **fields: Any,
) -> RoutingProblem:
    """Depot at 0 on a line, stop s at ``positions[s]``; travel time = |a - b|.

    Location 0 is the depot, location s + 1 holds stop s. Every vehicle starts
    at the depot and returns there unless ``open_routes``. Extra keyword
    arguments are passed to RoutingProblem as they are.
    """
    coords = np.array([0, *positions], dtype=np.int64)
    matrix = np.abs(coords[:, None] - coords[None, :])
    n = len(positions)
    kwargs: dict[str, Any] = {
        "travel_time": matrix,
        "stop_location": np.arange(1, n + 1),
        "vehicle_start": np.zeros(vehicles, dtype=np.int64),
        "vehicle_end": np.full(vehicles, NONE if open_routes else 0, dtype=np.int64),
    }
    kwargs.update(fields)
    return RoutingProblem(**kwargs)


@st.composite
def routing_problems(
    draw: st.DrawFn, max_stops: int = 12, metric: bool | None = None
) -> RoutingProblem:
    """Random small problems with pairs, windows, capacities, skills, commitments.

    ``metric``: Euclidean travel (True), arbitrary asymmetric matrices that break
    the triangle inequality (False), or either (None).
    """
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    n = draw(st.integers(2, max_stops))
    v = draw(st.integers(1, 4))
    dims = draw(st.integers(1, 2))
    n_loc = n + v
    xy = rng.integers(0, 60, size=(n_loc, 2))
    dist = np.sqrt(((xy[:, None, :] - xy[None, :, :]) ** 2).sum(-1))
    profiles = draw(st.integers(1, 2))
    travel = np.stack([np.ceil(dist * (1 + k)).astype(np.int64) for k in range(profiles)])
    if not (draw(st.booleans()) if metric is None else metric):
        travel = rng.integers(0, 80, size=travel.shape)
    order = rng.permutation(n)
    n_pairs = draw(st.integers(0, n // 2))
    pairs = order[: 2 * n_pairs].reshape(-1, 2)
    demand = np.zeros((n, dims), dtype=np.int64)
    for s in range(n):
        demand[s] = rng.integers(0, 4, size=dims)
    for p, d in pairs:
        demand[d] = -demand[p]
    capacity = rng.integers(3, 12, size=(v, dims))
    horizon = int(rng.integers(150, 600))
    tw_start = rng.integers(0, horizon // 2, size=n)
    width = rng.integers(20, horizon, size=n)
    loose = rng.random(n) < 0.4
    tw_end = np.where(loose, horizon * 3, tw_start + width)
    for p, d in pairs:  # a delivery window that can follow its pickup's
        tw_end[d] = max(tw_end[d], tw_start[p] + 40)
    soft = np.where(rng.random(n) < 0.5, tw_start + rng.integers(0, 100, size=n), NONE)
    weight = rng.integers(0, 5, size=n)
    drop = np.where(rng.random(n) < 0.3, NONE, rng.integers(0, 400, size=n))
    for p, d in pairs:
        if drop[p] == NONE or drop[d] == NONE:
            drop[p] = drop[d] = NONE
    allowed: list[frozenset[int] | None] = [None] * n
    for s in range(n):
        if rng.random() < 0.3:
            allowed[s] = frozenset(int(x) for x in rng.choice(v, size=rng.integers(1, v + 1)))
    for p, d in pairs:
        allowed[d] = allowed[p]
    committed = np.full(n, NONE, dtype=np.int64)
    init = np.zeros((v, dims), dtype=np.int64)
    singles = [int(s) for s in order[2 * n_pairs :]]
    if singles and rng.random() < 0.5:
        s = singles[0]  # an order already on board: a committed delivery
        veh = int(rng.integers(0, v))
        committed[s] = veh
        allowed[s] = None
        demand[s] = -np.minimum(rng.integers(0, 3, size=dims), capacity[veh])
        init[veh] = -demand[s]
        tw_end[s] = horizon * 3
    preferred = np.where(rng.random(n) < 0.3, rng.integers(0, v, size=n), NONE)
    ends = np.where(rng.random(v) < 0.5, NONE, rng.integers(0, n_loc, size=v))
    fee_deadline = np.where(rng.random(n) < 0.4, tw_start + rng.integers(0, 150, size=n), NONE)
    return RoutingProblem(
        travel_time=travel,
        travel_cost=np.ceil(dist).astype(np.int64),
        vehicle_profile=rng.integers(0, profiles, size=v),
        stop_location=np.arange(n),
        service_time=rng.integers(0, 15, size=n),
        demand=demand,
        tw_start=tw_start,
        tw_end=tw_end,
        soft_deadline=soft,
        lateness_weight=weight,
        fee_deadline=fee_deadline,
        late_fee=rng.integers(0, 60, size=n),
        drop_penalty=drop,
        allowed_vehicles=tuple(allowed),
        committed_vehicle=committed,
        preferred_vehicle=preferred,
        churn_penalty=rng.integers(0, 30, size=n),
        pairs=pairs if n_pairs else None,
        vehicle_start=np.arange(n, n + v),
        vehicle_end=ends,
        capacity=capacity,
        vehicle_initial_load=init,
        vehicle_start_time=rng.integers(0, 30, size=v),
        vehicle_end_time=np.full(v, horizon * 4) - rng.integers(0, horizon * 3, size=v),
        vehicle_fixed_cost=rng.integers(0, 50, size=v),
    )


def random_instance(
    rng: np.random.Generator, *, customers: int, pdptw: bool, name: str = "T1"
) -> Instance:
    """A benchmark-style instance with generous windows (node 0 is the depot)."""
    if pdptw and customers % 2:
        raise ValueError("a Li & Lim instance pairs every customer: use an even count")
    n = customers + 1
    x = rng.integers(0, 100, size=n).astype(float)
    y = rng.integers(0, 100, size=n).astype(float)
    x[1] += 0.5  # one non-integral coordinate keeps the writers honest
    ready = np.concatenate([[0.0], rng.integers(0, 200, size=customers).astype(float)])
    due = np.concatenate([[1000.0], ready[1:] + rng.integers(100, 400, size=customers)])
    service = np.concatenate([[0.0], np.full(customers, 10.0)])
    demand = np.concatenate([[0], rng.integers(1, 20, size=customers)]).astype(np.int64)
    pairs = np.zeros((0, 2), dtype=np.int64)
    if pdptw:
        nodes = rng.permutation(np.arange(1, n))
        pairs = nodes[: 2 * (customers // 2)].reshape(-1, 2)
        for p, d in pairs:
            demand[d] = -demand[p]
            due[d] = max(due[d], ready[p] + 200.0)
    return Instance(
        name=name,
        kind="pdptw" if pdptw else "vrptw",
        x=x,
        y=y,
        demand=demand,
        ready=ready,
        due=due,
        service=service,
        num_vehicles=max(2, customers // 3),
        capacity=60,
        pairs=pairs,
    )
