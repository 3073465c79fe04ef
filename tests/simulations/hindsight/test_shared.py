"""One bound for two runs of the same day: plans move between days with their ids renamed."""

from __future__ import annotations

from dataclasses import replace

import pytest

from simulations.hindsight import HindsightPlan, day_from_result, solve_day
from simulations.hindsight.build import TARGETS
from simulations.hindsight.day import Day
from simulations.hindsight.facts import hindsight_kpis
from simulations.hindsight.replay import replay
from simulations.hindsight.shared import (
    MAX_INSERTED,
    id_map,
    sharper,
    transfer,
    with_own_technicians,
)
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
    other = replace(_renamed(day), end_s=day.end_s + 900.0)  # that run stopped later
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


def test_orders_only_the_other_day_holds_are_inserted(day: Day, plan: HindsightPlan) -> None:
    """The plan of a day lacking two orders, moved back, serves them too: each picked up
    by one courier after it is ready and delivered later by the same; the replay passes."""
    smaller = _renamed(day, drop=2)
    back = transfer(transfer(plan, day, smaller), smaller, day)  # type: ignore[arg-type]
    assert back is not None and back.valid, back and back.timing.violations
    assert set(back.timing.delivered_s) | set(back.dropped_orders) == {o.id for o in day.orders}
    for o in day.orders[:2]:
        assert o.id not in back.dropped_orders
        couriers = [w for w, stops in back.routes.items() if ("pickup", o.id) in stops]
        assert len(couriers) == 1
        stops = back.routes[couriers[0]]
        assert stops.index(("pickup", o.id)) < stops.index(("dropoff", o.id))
        assert back.timing.picked_s[o.id] >= o.ready_s
    # too many orders to insert: the days are not the same day
    tiny = replace(day, orders=day.orders[: max(0, len(day.orders) - MAX_INSERTED - 1)])
    assert len(day.orders) > MAX_INSERTED + 1
    assert id_map(tiny, day) is None
    # ... unless the caller allows that many: then every missing order is inserted
    wide = len(day.orders)
    assert id_map(tiny, day, max_inserted=wide) is not None
    shrunk = transfer(plan, day, tiny)
    assert shrunk is not None and transfer(shrunk, tiny, day) is None
    grown = transfer(shrunk, tiny, day, max_inserted=wide)
    assert grown is not None and grown.valid, grown and grown.timing.violations
    assert set(grown.timing.delivered_s) | set(grown.dropped_orders) == {o.id for o in day.orders}
    assert len(grown.timing.delivered_s) > len(tiny.orders)


def test_a_changed_order_is_planned_anew_and_other_jobs_or_fleets_share_nothing(
    day: Day, plan: HindsightPlan
) -> None:
    first = replace(day.orders[0], ready_s=day.orders[0].ready_s + 600.0)
    later = replace(day, orders=(first, *day.orders[1:]))
    ids = id_map(day, later)  # the first order is another order now: the rest match
    assert (
        ids is not None
        and day.orders[0].id not in ids
        and len(ids) == len(day.orders) - 1 + len(day.jobs)
    )
    moved = transfer(plan, day, later)
    assert moved is not None and moved.valid, moved and moved.timing.violations
    assert moved.timing.picked_s[first.id] >= first.ready_s  # planned anew, for its own time
    other_jobs = replace(day, jobs=day.jobs[1:])
    assert day.jobs and id_map(day, other_jobs) is None
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


def test_with_own_technicians_borrows_only_the_couriers_plan_across_other_jobs(
    day: Day, plan: HindsightPlan
) -> None:
    """When the other run accepted other jobs (surge prices jobs too), its plan does not
    transfer as a whole; beside the own technicians' routes, its couriers' plan does, and
    each half keeps its deliveries and arrivals."""
    assert day.jobs and day.technicians() and day.couriers()
    renamed = _renamed(day)
    other = replace(renamed, jobs=renamed.jobs[1:])  # one job fewer there
    other_plan = transfer(plan, day, renamed)
    assert other_plan is not None
    other_plan = replace(
        other_plan,
        routes={
            w: tuple(s for s in r if s[1] != f"x{day.jobs[0].id}")
            for w, r in other_plan.routes.items()
        },
    )
    assert transfer(other_plan, other, day) is None  # the jobs differ
    mixed, mixed_day = with_own_technicians(other_plan, other, plan, day)
    assert mixed_day.jobs == day.jobs and mixed_day.orders == other.orders
    techs = {w.id for w in day.technicians()}
    assert any(other_plan.routes.get(c.id) for c in day.couriers())
    for worker in day.workers:
        source = plan if worker.id in techs else other_plan  # couriers keep the other's x-ids
        assert mixed.routes.get(worker.id, ()) == source.routes.get(worker.id, ())
    moved = transfer(mixed, mixed_day, day)
    assert moved is not None and moved.valid, moved and moved.timing.violations
    for tech in techs:
        assert moved.routes.get(tech, ()) == plan.routes.get(tech, ())
    assert moved.timing.delivered_s == plan.timing.delivered_s
    assert moved.dropped_jobs == plan.dropped_jobs
    assert hindsight_kpis(day, moved) == hindsight_kpis(day, plan)
