"""One bound for two runs of the same day: plans move between days with their ids renamed."""

from __future__ import annotations

from dataclasses import replace

import pytest

from simulations.hindsight import HindsightPlan, day_from_result, solve_day
from simulations.hindsight.build import TARGETS
from simulations.hindsight.day import Day
from simulations.hindsight.facts import hindsight_kpis
from simulations.hindsight.replay import replay
from simulations.hindsight.shared import id_map, sharper, transfer
from simulations.sim.records import SimulationResult
from simulations.sim.world import ProfileTravel
from tests.simulations.hindsight.days import PARAMS, tiny_run


@pytest.fixture(scope="module")
def run() -> SimulationResult:
    return tiny_run(3, 5, "optimizer")


@pytest.fixture(scope="module")
def day(run: SimulationResult) -> Day:
    return day_from_result(run)


@pytest.fixture(scope="module")
def plan(day: Day) -> HindsightPlan:
    return solve_day(day, 30.0, params=PARAMS)


def _renamed(day: Day, drop: int = 0) -> Day:
    """The same day as another run numbers it (ids differ, order of records reversed),
    without its first ``drop`` orders."""
    orders = tuple(replace(o, id=f"x{o.id}") for o in reversed(day.orders[drop:]))
    jobs = tuple(replace(j, id=f"x{j.id}") for j in reversed(day.jobs))
    return replace(day, orders=orders, jobs=jobs)


def test_a_plan_moves_to_the_same_day_under_other_ids(day: Day, plan: HindsightPlan) -> None:
    other = _renamed(day)
    ids = id_map(day, other)
    assert ids == {o.id: f"x{o.id}" for o in day.orders} | {j.id: f"x{j.id}" for j in day.jobs}
    moved = transfer(plan, day, other)
    assert moved is not None and moved.valid, moved and moved.timing.violations
    for o in day.orders:
        assert moved.timing.delivered_s.get(f"x{o.id}") == plan.timing.delivered_s.get(o.id)
    assert hindsight_kpis(other, moved) == hindsight_kpis(day, plan)


def test_orders_the_other_day_lacks_leave_the_plan_and_nothing_gets_later(
    day: Day, plan: HindsightPlan
) -> None:
    """A day with fewer orders (a customer changed their mind in its run) takes the plan
    without them; the replay still passes and no delivery moves later."""
    assert len(day.orders) > 2
    smaller = _renamed(day, drop=2)
    moved = transfer(plan, day, smaller)
    assert moved is not None and moved.valid, moved and moved.timing.violations
    gone = {o.id for o in day.orders[:2]}
    assert not any(e in gone or e[1:] in gone for s in moved.routes.values() for _, e in s)
    for o in day.orders[2:]:
        before = plan.timing.delivered_s.get(o.id)
        after = moved.timing.delivered_s.get(f"x{o.id}")
        assert (before is None) == (after is None)
        if before is not None and after is not None:
            assert after <= before + 1e-6
    # the other way round a plan would miss orders: no transfer
    assert transfer(moved, smaller, day) is None


def test_days_that_differ_share_no_plan(day: Day, plan: HindsightPlan) -> None:
    later = replace(day, orders=(replace(day.orders[0], ready_s=day.orders[0].ready_s + 60.0),))
    assert id_map(day, later) is None  # an order's ready time differs (and the rest is missing)
    fewer_workers = replace(day, workers=day.workers[1:])
    assert transfer(plan, day, fewer_workers) is None
    twins = replace(day, orders=(day.orders[0], replace(day.orders[0], id="twin")))
    assert id_map(twins, twins) is None  # two identical orders cannot be told apart


def test_sharper_keeps_the_better_plan_and_the_own_one_on_ties(
    day: Day, plan: HindsightPlan
) -> None:
    """A plan that leaves an order out is worse for either aim, whichever side it is on."""
    served = [o.id for o in day.orders if o.id in plan.timing.delivered_s]
    assert served
    routes = {w: tuple(s for s in stops if s[1] != served[0]) for w, stops in plan.routes.items()}
    worse = replace(plan, routes=routes, timing=replay(day, routes, ProfileTravel()))
    assert worse.valid and len(worse.timing.delivered_s) == len(plan.timing.delivered_s) - 1
    for target in TARGETS:
        assert sharper(day, worse, plan, target) == (plan, True)
        assert sharper(day, plan, worse, target) == (plan, False)
        assert sharper(day, plan, plan, target) == (plan, False)
        assert sharper(day, worse, None, target) == (worse, False)
