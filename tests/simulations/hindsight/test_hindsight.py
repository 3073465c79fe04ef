"""The hindsight bound on a tiny simulated day: a checked plan, a true bound, tallies."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest

from simulations.hindsight import HindsightPlan, day_from_result, replay, solve_day
from simulations.hindsight.build import courier_model, technician_model
from simulations.hindsight.decompose import decompose
from simulations.hindsight.facts import hindsight_kpis, late_jobs, late_orders
from simulations.sim.kpis import compute_kpis
from simulations.sim.records import SimulationResult
from simulations.sim.world import ProfileTravel
from solver import NONE, check_routes
from tests.simulations.hindsight.days import PARAMS, tiny_run


@pytest.fixture(scope="module")
def run() -> SimulationResult:
    """The tiny day with four couriers, under nearest-idle, surge off."""
    return tiny_run(4, 3, "nearest-idle")


@pytest.fixture(scope="module")
def plan(run: SimulationResult) -> HindsightPlan:
    """The tiny day's hindsight plan: the search ends by work (~1 s) long before its budget."""
    return solve_day(day_from_result(run), 30.0, params=PARAMS)


def test_the_day_holds_the_runs_orders_but_changes_of_mind(run: SimulationResult) -> None:
    """Orders cancelled by a change of mind leave; every other accepted order stays."""
    day = day_from_result(run)
    kept = {o.id for o in day.orders}
    assert kept <= {o.id for o in run.orders}
    for rec in run.orders:
        if rec.state == "delivered":
            assert rec.id in kept
    assert len(day.jobs) == sum(j.state != "cancelled" for j in run.jobs)
    assert all(o.ready_s >= o.created_s for o in day.orders)


def test_hindsight_plan_passes_both_checks_and_beats_the_run(
    run: SimulationResult, plan: HindsightPlan
) -> None:
    """Checker and replay find nothing; every order the run delivered is served; on time
    at least as often."""
    day = day_from_result(run)
    assert plan.valid, (plan.checker_violations, plan.timing.violations)
    delivered = {o.id for o in run.orders if o.state == "delivered"}
    assert delivered <= set(plan.timing.delivered_s)
    assert set(plan.timing.delivered_s) | set(plan.dropped_orders) == {o.id for o in day.orders}
    for o in day.orders:
        if o.id in plan.dropped_orders:
            continue
        assert plan.timing.picked_s[o.id] >= o.ready_s
        assert plan.timing.delivered_s[o.id] > plan.timing.picked_s[o.id]
    bound = hindsight_kpis(day, plan)
    online = compute_kpis(run)
    assert bound["orders_delivered"] >= online["orders_delivered"]
    assert bound["on_time_rate"] >= online["on_time_rate"]
    if online["jobs_on_time_rate"] is not None:
        assert bound["jobs_on_time_rate"] >= online["jobs_on_time_rate"]


def test_integer_models_pass_the_solver_checker(run: SimulationResult, plan: HindsightPlan) -> None:
    """The plans' integer problems check clean with the independent solver checker."""
    day = day_from_result(run)
    for model in (courier_model(day), technician_model(day)):
        routes = [
            [
                s
                for stop in plan.routes.get(w, ())
                for s in range(model.problem.num_stops)
                if (model.stop_kind[s], model.stop_entity[s]) == stop
            ]
            for w in model.vehicle_worker
        ]
        assert check_routes(model.problem, routes).feasible


def test_replay_flags_broken_plans(run: SimulationResult) -> None:
    """A delivery before its pickup, an overloaded courier and an unqualified technician."""
    day = day_from_result(run)
    courier = day.couriers()[0]
    o = day.orders[0]
    wrong_order = replay(day, {courier.id: [("dropoff", o.id), ("pickup", o.id)]}, ProfileTravel())
    assert not wrong_order.valid
    small = replace(day, workers=(replace(courier, capacity=1), *day.workers[1:]))
    two = [("pickup", day.orders[0].id), ("pickup", day.orders[1].id)]
    two += [("dropoff", day.orders[0].id), ("dropoff", day.orders[1].id)]
    overload = replay(small, {courier.id: two}, ProfileTravel())
    assert any("carries" in v for v in overload.violations)
    job = day.jobs[0]
    unqualified = replace(day.technicians()[0], skills=frozenset({"nothing"}))
    others = tuple(w for w in day.workers if w.id != unqualified.id)
    bad_tech = replay(
        replace(day, workers=(*others, unqualified)),
        {unqualified.id: [("job", job.id)]},
        ProfileTravel(),
    )
    assert any("not qualified" in v for v in bad_tech.violations)


def test_a_courier_delivers_after_its_shift_but_never_picks_up_after_it(
    run: SimulationResult,
) -> None:
    """The simulator's rule, in the replay and in the courier model: a shift's end is
    its last pickup; what the courier carries still goes to the door."""
    day = day_from_result(run)
    courier, o = day.couriers()[0], day.orders[0]
    trip = [("pickup", o.id), ("dropoff", o.id)]
    walked = replay(day, {courier.id: trip}, ProfileTravel())
    assert walked.valid, walked.violations
    picked, done = walked.picked_s[o.id], walked.delivered_s[o.id]
    # the shift ends between pickup and delivery: still a valid plan
    between = replace(courier, end_s=(picked + done) / 2)
    others = tuple(w for w in day.workers if w.id != courier.id)
    late_door = replay(
        replace(day, workers=(between, *others)), {courier.id: trip}, ProfileTravel()
    )
    assert late_door.valid, late_door.violations
    # the shift ends before the pickup: refused
    before = replace(courier, end_s=picked - 60)
    late_pickup = replay(
        replace(day, workers=(before, *others)), {courier.id: trip}, ProfileTravel()
    )
    assert any("after its shift ends" in v for v in late_pickup.violations)
    model = courier_model(day)
    p = model.problem
    assert p.vehicle_pickup_end is not None and p.vehicle_end_time is not None
    assert (p.vehicle_pickup_end < p.vehicle_end_time).all()
    k = model.vehicle_worker.index(courier.id)
    assert p.vehicle_pickup_end[k] == math.floor(courier.end_s + 1e-9)


def test_decomposition_adds_up_on_the_run(run: SimulationResult, plan: HindsightPlan) -> None:
    """Late deliveries and jobs split into hindsight and dispatch; counts match the run."""
    day = day_from_result(run)
    orders, jobs = late_orders(run, day, plan), late_jobs(run, day, plan)
    d = decompose(orders, jobs)
    assert d.consistent
    late_delivered = sum(1 for o in run.orders if o.state == "delivered" and not o.on_time)
    assert d.late_orders == late_delivered
    due = [j for j in run.jobs if j.due_s is not None and j.state != "cancelled"]
    on_time = [j for j in due if j.arrived_s is not None and j.arrived_s <= j.due_s + 1e-6]  # type: ignore[operator]
    assert d.late_jobs == len(due) - len(on_time)


def test_each_delivery_past_its_promise_pays_the_late_fee_once(run: SimulationResult) -> None:
    """The bound counts promises kept: a dropoff's fee deadline is its promise (rounded
    down, never kinder than the simulator), pickups pay none, and ``late_fee=0`` is off."""
    day = day_from_result(run)
    p = courier_model(day, late_fee=7_000).problem
    assert p.fee_deadline is not None and p.late_fee is not None
    for k, o in enumerate(day.orders):
        pick, drop = 2 * k, 2 * k + 1
        assert p.fee_deadline[pick] == NONE and p.late_fee[pick] == 0
        assert p.fee_deadline[drop] == math.floor(o.promised_s + 1e-9)
        assert p.late_fee[drop] == 7_000
    assert not courier_model(day, late_fee=0).problem.has_late_fees()
