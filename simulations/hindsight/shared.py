"""One bound for two runs that met the same day: the better plan serves both.

With surge off every policy meets the same customers, but each run's bound is
searched from that run's own routes, so two bounds of one day differ by the
search's luck and start (seed 7 surge off: 0.862 from the optimizer's routes,
0.836 from nearest-idle's). Either plan is a plan of the other run's day too:
``transfer`` renames its orders and jobs to the other run's ids (the runs number
them independently) and replays it on that day, and ``sharper`` keeps the
better of a run's own bound and the one transferred, so both runs are measured
against the best plan found for their common day.

A plan transfers when its day holds all of the other's demand (every order's
placement, ready time, promise, places, size and priority; every job) with the
same fleet and service rules. It may hold more orders: a customer who changed
their mind before pickup in one run may have been served first in the other.
With surge on each run accepts its own orders and no plan is shared. The
transferred plan is replayed on its new day (the independent check); the
solver checker's verdict is the one of the day it was solved on.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Hashable

from simulations.hindsight.build import Target
from simulations.hindsight.day import Day, DayJob, DayOrder
from simulations.hindsight.facts import hindsight_kpis
from simulations.hindsight.replay import replay
from simulations.hindsight.solve import HindsightPlan
from simulations.sim.world import ProfileTravel, TravelModel

__all__ = ["id_map", "sharper", "transfer"]

#: Times are compared to the millisecond (they are read back from records).
_DIGITS = 3


def _order_key(o: DayOrder) -> Hashable:
    return (
        round(o.created_s, _DIGITS),
        round(o.ready_s, _DIGITS),
        round(o.promised_s, _DIGITS),
        o.pickup,
        o.dropoff,
        o.size,
        o.priority,
    )


def _job_key(j: DayJob) -> Hashable:
    window = None if j.window is None else tuple(round(t, _DIGITS) for t in j.window)
    due = None if j.due_s is None else round(j.due_s, _DIGITS)
    return (
        round(j.created_s, _DIGITS),
        j.location,
        j.skill,
        round(j.duration_s, _DIGITS),
        window,
        due,
        j.emergency,
        j.min_rating,
    )


def id_map(src: Day, dst: Day) -> dict[str, str] | None:
    """``src``'s order and job ids → ``dst``'s ids of the same demand, or ``None`` unless
    ``src`` holds all of ``dst``'s demand with the same fleet and rules (or when two of a
    day's orders cannot be told apart). ``src`` may hold more orders: those that the other
    run's customer kept and this run's cancelled before pickup (a change of mind)."""
    if (src.workers, src.pickup_service_s, src.dropoff_service_s, src.end_s) != (
        dst.workers,
        dst.pickup_service_s,
        dst.dropoff_service_s,
        dst.end_s,
    ):
        return None
    out: dict[str, str] = {}
    for mine, theirs, extra in (
        (
            [(_order_key(o), o.id) for o in src.orders],
            [(_order_key(o), o.id) for o in dst.orders],
            True,
        ),
        ([(_job_key(j), j.id) for j in src.jobs], [(_job_key(j), j.id) for j in dst.jobs], False),
    ):
        a, b = dict(mine), dict(theirs)
        if len(a) != len(mine) or len(b) != len(theirs):
            return None  # twins: which is which cannot be known
        if not b.keys() <= a.keys() or (not extra and a.keys() != b.keys()):
            return None
        out |= {a[k]: b[k] for k in b}
    return out


def transfer(
    plan: HindsightPlan, src: Day, dst: Day, travel: TravelModel | None = None
) -> HindsightPlan | None:
    """``plan`` (of ``src``) as a plan of ``dst``, replayed on ``dst``; ``None`` unless
    ``id_map`` matches the days. Orders ``dst`` lacks leave the routes: a courier skipping
    stops reaches every later one no later (straight-line travel), so the plan stays
    feasible and no delivery becomes later."""
    ids = id_map(src, dst)
    if ids is None:
        return None
    routes = {
        wid: tuple((kind, ids[entity]) for kind, entity in stops if entity in ids)
        for wid, stops in plan.routes.items()
    }
    return dataclasses.replace(
        plan,
        routes=routes,
        timing=replay(dst, routes, travel or ProfileTravel()),
        dropped_orders=tuple(sorted(ids[i] for i in plan.dropped_orders if i in ids)),
        dropped_jobs=tuple(sorted(ids[i] for i in plan.dropped_jobs)),
    )


def _score(day: Day, plan: HindsightPlan, target: Target) -> tuple[float, ...]:
    """Higher is better: valid first, then what the target aims at, then the rest."""
    k = hindsight_kpis(day, plan)
    delivered = k["orders_delivered"]
    on_time = (k["on_time_rate"] or 0.0) * delivered
    jobs = k["jobs_on_time_rate"] or 0.0
    c2d = sum(t - o.created_s for o in day.orders if (t := plan.timing.delivered_s.get(o.id)))
    if target == "promise":
        return (plan.valid, delivered, round(on_time), jobs, -c2d)
    return (plan.valid, delivered, jobs, -c2d)


def sharper(
    day: Day, own: HindsightPlan, other: HindsightPlan | None, target: Target
) -> tuple[HindsightPlan, bool]:
    """The better bound of ``day``: its own plan or ``other`` (already transferred to
    ``day``, or ``None``); and whether ``other`` won. Ties keep the own plan."""
    if other is None or _score(day, other, target) <= _score(day, own, target):
        return own, False
    return other, True
