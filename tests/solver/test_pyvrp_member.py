"""PyVRP as a portfolio member: which problems it takes, and that its plans check and cost alike."""

from __future__ import annotations

import time
from dataclasses import replace

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from solver.checker import check_routes
from solver.instances import to_routing_problem
from solver.objective import evaluate
from solver.problem import NONE, RoutingProblem
from solver.pyvrp_search import PYVRP, PyvrpModel, pseudo_coordinates, pyvrp_applies, solve_pyvrp
from solver.routing import RoutingParams, plan_tasks, solve_routing
from tests.solver.factories import random_instance, routing_problems
from tests.solver.streamed import streamed_plans

Routes = list[list[int]]


def _within_pyvrp(p: RoutingProblem, rng: np.random.Generator) -> RoutingProblem:
    """The same problem with what PyVRP cannot express taken out (hard constraints stay)."""
    assert p.demand is not None and p.vehicle_end is not None and p.drop_penalty is not None
    demand = p.demand.copy()
    single = np.ones(p.num_stops, dtype=bool)
    for a, b in p.pairs_list():
        single[a] = single[b] = False
    demand[single] = np.abs(demand[single])
    ends = np.where(p.vehicle_end == NONE, p.vehicle_start, p.vehicle_end)
    tt = p.travel_time.copy()
    for k in range(tt.shape[0]):
        np.fill_diagonal(tt[k], 0)
    cost = p.travel_cost.copy() if p.travel_cost is not None else tt[0].copy()
    np.fill_diagonal(cost, 0)
    return replace(
        p,
        travel_time=tt,
        travel_cost=cost,
        demand=demand,
        soft_deadline=None,
        lateness_weight=None,
        fee_deadline=None,
        late_fee=None,
        allowed_vehicles=None,
        committed_vehicle=None,
        preferred_vehicle=None,
        churn_penalty=None,
        vehicle_initial_load=None,
        vehicle_end=ends,
        # keep the windows loose enough that a plan exists for most draws
        tw_end=np.maximum(p.tw_end, p.tw_start + int(rng.integers(200, 400))),  # type: ignore[operator]
        vehicle_end_time=None,
        _derived={},
    )


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(routing_problems(max_stops=10), st.integers(0, 2**16))
def test_every_streamed_plan_checks_and_costs_what_pyvrp_says(
    raw: RoutingProblem, seed: int
) -> None:
    """On random problems (pairs, windows, several loads, profiles, depots, fixed costs,
    optional stops), every plan PyVRP streams passes the independent checker, and our
    objective equals PyVRP's own cost of it: the two models agree on what they price."""
    p = _within_pyvrp(raw, np.random.default_rng(seed))
    assert pyvrp_applies(p)
    model = PyvrpModel(p)
    plans: list[Routes] = []
    note = solve_pyvrp(p, time.perf_counter() + 0.15, plans.append, seed=seed)
    if note == "no feasible plan":
        return  # tight windows can leave a required stop unplaceable; nothing was sent
    assert plans, note
    for routes in plans:
        plan = evaluate(p, routes, solve_time_s=0.0, backend=PYVRP)
        report = check_routes(p, plan)
        assert report.feasible, report.violations
        assert p.drop_penalty is not None
        assert all(p.drop_penalty[s] != NONE for s in plan.dropped)
    import pyvrp

    last = plans[-1]
    types = {v: t for t, vs in enumerate(model.vehicles_of_type) for v in vs}
    ours = pyvrp.Solution(
        model.data,
        [pyvrp.Route(model.data, _visits(model, r), types[v]) for v, r in enumerate(last) if r],
    )
    theirs = ours.distance_cost() + ours.fixed_vehicle_cost() + ours.uncollected_prizes()
    assert evaluate(p, last, solve_time_s=0.0, backend="").objective == theirs


def _visits(model: PyvrpModel, route: list[int]) -> list[int]:
    """Our stops as PyVRP's client indices (depots first, then clients, then shipments)."""
    import pyvrp

    acts = []
    client = {s: i for i, s in enumerate(model.clients)}
    pick = {a: i for i, (a, _b) in enumerate(model.shipments)}
    drop = {b: i for i, (_a, b) in enumerate(model.shipments)}
    for s in route:
        if s in client:
            acts.append(pyvrp.Activity(pyvrp.ActivityType.CLIENT, client[s]))
        elif s in pick:
            acts.append(pyvrp.Activity(pyvrp.ActivityType.PICKUP, pick[s]))
        else:
            acts.append(pyvrp.Activity(pyvrp.ActivityType.DELIVERY, drop[s]))
    return acts  # type: ignore[return-value]


def _base() -> RoutingProblem:
    inst = random_instance(np.random.default_rng(3), customers=12, pdptw=True)
    return to_routing_problem(inst)


NOT_EXPRESSIBLE = {
    "open routes": {"vehicle_end": "open"},
    "soft deadlines": {"soft_deadline": 100, "lateness_weight": 1},
    "late fees": {"fee_deadline": 100, "late_fee": 1},
    "trip groups": {"trip_group": "pairs"},
    "commitments": {"committed_vehicle": "first"},
    "churn wishes": {"churn_penalty": 5, "preferred_vehicle": 0},
    "vehicle restrictions": {"allowed_vehicles": "first"},
    "pickup deadlines": {"vehicle_pickup_end": 500},
    "self loops": {"self_loop": 7},
}


@pytest.mark.parametrize("case", sorted(NOT_EXPRESSIBLE))
def test_problems_pyvrp_cannot_express_are_left_to_ortools(case: str) -> None:
    """Each feature outside PyVRP's model makes it decline, and the portfolio keep OR-Tools."""
    p = _base()
    assert pyvrp_applies(p)
    n, v = p.num_stops, p.num_vehicles
    change = NOT_EXPRESSIBLE[case]
    fields: dict[str, object] = {}
    if "vehicle_end" in change:
        fields["vehicle_end"] = np.full(v, NONE)
    if "soft_deadline" in change:
        fields["soft_deadline"] = np.full(n, 100)
        fields["lateness_weight"] = np.ones(n, dtype=np.int64)
    if "fee_deadline" in change:
        fields["fee_deadline"] = np.full(n, 100)
        fields["late_fee"] = np.ones(n, dtype=np.int64)
    if "trip_group" in change:
        group = np.full(n, NONE)
        for i, (a, b) in enumerate(p.pairs_list()):
            group[a] = group[b] = i
        fields["trip_group"] = group
    if "committed_vehicle" in change:
        committed = np.full(n, NONE)
        committed[list(p.pairs_list()[0])] = 0
        fields["committed_vehicle"] = committed
    if "churn_penalty" in change:
        fields["churn_penalty"] = np.full(n, 5)
        fields["preferred_vehicle"] = np.zeros(n, dtype=np.int64)
    if "allowed_vehicles" in change:
        a, b = p.pairs_list()[0]
        allowed: list[frozenset[int] | None] = [None] * n
        allowed[a] = allowed[b] = frozenset({0})
        fields["allowed_vehicles"] = tuple(allowed)
    if "vehicle_pickup_end" in change:
        fields["vehicle_pickup_end"] = np.full(v, 500)
    if "self_loop" in change:
        assert p.travel_cost is not None
        cost = p.travel_cost.copy()
        cost[1, 1] = 7
        fields["travel_cost"] = cost
    q = replace(p, _derived={}, **fields)  # type: ignore[arg-type]
    assert not pyvrp_applies(q)
    assert all(t.engine != PYVRP for t in plan_tasks(q, RoutingParams()))


def test_loads_pyvrp_cannot_express_are_declined() -> None:
    """A load on board at the start, a single stop that unloads, or a pair whose delivery
    does not unload its pickup's load: PyVRP's load model differs, so it declines."""
    p = _base()
    assert p.demand is not None and p.capacity is not None
    a, b = p.pairs_list()[0]
    on_board = replace(p, vehicle_initial_load=np.ones_like(p.capacity), _derived={})
    uneven = p.demand.copy()
    uneven[b] = -uneven[a] + 1
    assert not pyvrp_applies(on_board)
    assert not pyvrp_applies(replace(p, demand=uneven, _derived={}))
    tw = to_routing_problem(random_instance(np.random.default_rng(3), customers=12, pdptw=False))
    assert tw.demand is not None
    unload = tw.demand.copy()
    unload[0] = -1
    assert pyvrp_applies(tw)
    assert not pyvrp_applies(replace(tw, demand=unload, _derived={}))


def test_pyvrp_leads_cold_solves_only() -> None:
    """Cold solves of expressible problems run PyVRP first and the chosen partner second;
    warm solves, searches ended by work and ``pyvrp_partner="off"`` keep OR-Tools."""
    p = _base()
    engines = [(t.engine, t.seed) for t in plan_tasks(p, RoutingParams())]
    assert engines == [(PYVRP, 0), ("ortools", 0)]
    assert plan_tasks(p, RoutingParams())[1].name == "vroom+gls"
    ils = plan_tasks(p, RoutingParams(pyvrp_partner="ils"))
    assert [t.name for t in ils] == [PYVRP, "ils"]
    twice = plan_tasks(p, RoutingParams(pyvrp_partner="pyvrp"))
    assert [(t.engine, t.seed) for t in twice] == [(PYVRP, 0), (PYVRP, 1)]
    warm = [[] for _ in range(p.num_vehicles)]
    for tasks in (
        plan_tasks(p, RoutingParams(), warm),
        plan_tasks(p, RoutingParams(solution_limit=5)),
        plan_tasks(p, RoutingParams(pyvrp_partner="off")),
    ):
        assert all(t.engine != PYVRP for t in tasks)
    assert [t.engine for t in plan_tasks(p, RoutingParams(workers=1))] == [PYVRP]
    with pytest.raises(ValueError, match="pyvrp_partner"):
        RoutingParams(pyvrp_partner="both")  # type: ignore[arg-type]


@pytest.mark.parametrize("pdptw", [False, True])
def test_pyvrp_task_streams_checked_plans_each_cheaper(pdptw: bool) -> None:
    """The member in this process: every plan it reports passes the checker, serves every
    customer, and costs less than the one before."""
    p = to_routing_problem(random_instance(np.random.default_rng(8), customers=40, pdptw=pdptw))
    task = plan_tasks(p, RoutingParams())[0]
    assert task.engine == PYVRP
    stages, plans = streamed_plans(p, task, 0.6)
    assert set(stages) == {PYVRP}
    costs = [evaluate(p, r, solve_time_s=0.0, backend="").objective for r in plans]
    assert costs == sorted(costs, reverse=True) and len(set(costs)) == len(costs)


def test_portfolio_with_pyvrp_answers_with_a_checked_plan() -> None:
    """The whole portfolio on a cold pickup-and-delivery instance: the checker accepts the
    answer, nothing is dropped, and it is no worse than the OR-Tools portfolio alone."""
    p = to_routing_problem(random_instance(np.random.default_rng(9), customers=30, pdptw=True))
    with_pyvrp = solve_routing(p, 1.0)
    without = solve_routing(p, 1.0, params=RoutingParams(pyvrp_partner="off"))
    for result in (with_pyvrp, without):
        report = check_routes(p, result)
        assert report.feasible, report.violations
        assert not result.dropped
    assert with_pyvrp.objective <= without.objective * 1.02


def test_vehicle_types_map_back_to_their_vehicles() -> None:
    """Vehicles with their own depots, windows, profiles and capacities: each plan route
    goes back to a vehicle of the right kind (the checker would catch a wrong depot,
    capacity or profile), and a vehicle never gets two routes."""
    rng = np.random.default_rng(4)
    xy = rng.integers(0, 100, size=(14, 2))
    dist = np.ceil(np.sqrt(((xy[:, None] - xy[None]) ** 2).sum(-1))).astype(np.int64)
    p = RoutingProblem(
        travel_time=np.stack([dist, dist * 2]),
        travel_cost=dist,
        stop_location=np.arange(4, 14),
        service_time=np.full(10, 5),
        demand=np.ones((10, 1), dtype=np.int64),
        vehicle_start=np.array([0, 1, 2, 3]),
        vehicle_end=np.array([0, 1, 0, 3]),
        capacity=np.array([[2], [3], [4], [5]]),
        vehicle_profile=np.array([0, 1, 0, 1]),
        vehicle_start_time=np.array([0, 10, 0, 20]),
        vehicle_end_time=np.array([2000, 1500, 2000, 1800]),
        vehicle_fixed_cost=np.array([0, 30, 0, 10]),
    )
    assert pyvrp_applies(p)
    plans: list[Routes] = []
    solve_pyvrp(p, time.perf_counter() + 0.3, plans.append)
    assert plans
    result = evaluate(p, plans[-1], solve_time_s=0.0, backend=PYVRP)
    report = check_routes(p, result)
    assert report.feasible, report.violations
    assert not result.dropped and len(plans[-1]) == 4


def test_pseudo_coordinates_recover_euclidean_distances() -> None:
    """Classical scaling gives back planar points up to rotation: every distance matches."""
    xy = np.random.default_rng(2).uniform(0, 1000, size=(30, 2))
    d = np.sqrt(((xy[:, None] - xy[None]) ** 2).sum(-1))
    got = pseudo_coordinates(np.round(d).astype(np.int64))
    back = np.sqrt(((got[:, None] - got[None]) ** 2).sum(-1))
    assert np.abs(back - d).max() < 2.0
    assert pseudo_coordinates(np.zeros((2, 2), dtype=np.int64)).shape == (2, 2)
