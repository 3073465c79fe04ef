"""The run's own routes as a plan of its day, and the hindsight search that starts from them."""

from __future__ import annotations

import pytest

from simulations.hindsight import day_from_result, replay, solve_day
from simulations.hindsight.build import Target, courier_model
from simulations.hindsight.realised import realised_routes
from simulations.hindsight.solve import improve_from_start, stop_lists
from simulations.sim.records import SimulationResult
from simulations.sim.world import ProfileTravel
from solver import check_routes, evaluate
from tests.simulations.hindsight.days import PARAMS, tiny_run


@pytest.fixture(scope="module")
def run() -> SimulationResult:
    """The tiny day with three couriers under the optimizer, surge off."""
    return tiny_run(3, 5, "optimizer")


def test_realised_routes_are_the_runs_work_in_its_order(run: SimulationResult) -> None:
    """Every delivered order appears once, picked before it is dropped, on its courier's
    route; every reached job on its technician's; the replay finds no broken rule."""
    day = day_from_result(run)
    routes = realised_routes(run, day)
    delivered = {o.id: o for o in run.orders if o.state == "delivered"}
    assert delivered, "the tiny day must deliver something"
    seen: dict[str, str] = {}
    for worker, stops in routes.items():
        for k, (kind, eid) in enumerate(stops):
            if kind == "pickup":
                assert delivered[eid].worker == worker
                assert ("dropoff", eid) in stops[k + 1 :]
                seen[eid] = worker
    assert set(seen) == set(delivered)
    served_jobs = {eid for stops in routes.values() for kind, eid in stops if kind == "job"}
    assert served_jobs == {j.id for j in run.jobs if j.arrived_s is not None and j.worker}
    timing = replay(day, routes, ProfileTravel())
    assert timing.valid, timing.violations
    assert set(timing.delivered_s) == set(delivered)


def test_start_from_the_run_wins_over_a_poor_rolling_plan(run: SimulationResult) -> None:
    """When the rolling plan serves nothing, the run's own routes are the start, and the
    LNS result passes the checker, serves every order the run delivered, and costs no
    more than those routes."""
    day = day_from_result(run)
    model = courier_model(day, target="fastest")
    p = model.problem
    empty = evaluate(p, [[] for _ in range(p.num_vehicles)], backend="rolling-horizon")
    routes = realised_routes(run, day)
    own = evaluate(p, stop_lists(model, routes), backend="realised")
    result, start = improve_from_start(model, empty, routes, 0.5)
    assert start == "realised"
    assert not check_routes(p, result).violations
    served = {model.stop_entity[s] for r in result.routes for s in r}
    assert {o.id for o in run.orders if o.state == "delivered"} <= served
    assert result.objective <= own.objective


@pytest.mark.parametrize("target", ["promise", "fastest"])
def test_hindsight_with_the_run_as_start_is_checked_and_not_worse(
    run: SimulationResult, target: Target
) -> None:
    """The bound with a start passes both checks, and its courier plan costs no more in
    the model it was solved in (either aim) than the run's own routes."""
    day = day_from_result(run)
    routes = realised_routes(run, day)
    plan = solve_day(day, 4.0, params=PARAMS, start=routes, target=target)
    assert plan.valid, (plan.checker_violations, plan.timing.violations)
    assert plan.courier_start in ("rolling-horizon", "realised")
    model = courier_model(day, target=target)
    own = evaluate(model.problem, stop_lists(model, routes), backend="realised")
    mine = evaluate(model.problem, stop_lists(model, plan.routes), backend="bound")
    assert len(mine.dropped) <= len(own.dropped)
    if len(mine.dropped) == len(own.dropped):
        assert mine.objective <= own.objective
