"""One bound for two runs that met the same day: the better plan serves both.

With surge off every policy meets the same customers, but each run's bound is
searched from that run's own routes, so two bounds of one day differ by the
search's luck and start (seed 7 surge off: 0.862 from the optimizer's routes,
0.836 from nearest-idle's). Either plan is a plan of the other run's day too:
``transfer`` renames its orders and jobs to the other run's ids (the runs number
them independently) and replays it on that day, and ``sharper`` keeps the
better of a run's own bound and the one transferred, so both runs are measured
against the best plan found for their common day.

A plan transfers when the days hold the same jobs, fleet and service rules and
their orders (placement, ready time, promise, places, size and priority) differ
by a few changes of mind: a customer who changed their mind before pickup in
one run may have been served first in the other. Orders the new day lacks
leave the plan; the few it alone holds are inserted where they cost least
(at most ``MAX_INSERTED``, or what the caller allows). With surge on the two
policies accept different orders and share no plan; two runs of one policy
that differ only in what they knew may still differ by a few customers. The
transferred plan is replayed on its new day (the independent check); the
solver checker's verdict is the one of the day it was solved on.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Hashable, Mapping, Sequence
from typing import Any, TypeVar

from simulations.hindsight.build import Target
from simulations.hindsight.day import Day, DayJob, DayOrder
from simulations.hindsight.facts import hindsight_kpis
from simulations.hindsight.replay import Stop, replay
from simulations.hindsight.solve import HindsightPlan
from simulations.sim.world import ProfileTravel, TravelModel

__all__ = ["MAX_INSERTED", "id_map", "insert_order", "sharper", "transfer", "with_own_technicians"]

#: Times are compared to the millisecond (they are read back from records).
_DIGITS = 3
#: Most orders a transferred plan may lack (each is inserted, a full search of the
#: couriers' routes): days that differ in a few changes of mind, not surge-on days.
MAX_INSERTED = 10
Entity = TypeVar("Entity", DayOrder, DayJob)
#: The most stops between an inserted order's pickup and its drop-off.
INSERT_SPAN = 6


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


def id_map(src: Day, dst: Day, max_inserted: int = MAX_INSERTED) -> dict[str, str] | None:
    """``src``'s order and job ids → ``dst``'s ids of the same demand, for what the days
    share; ``None`` unless they have the same jobs, fleet and rules, and differ in at most
    ``max_inserted`` of ``dst``'s orders (or when two of a day's orders cannot be told
    apart). ``src`` may hold any number of orders ``dst`` lacks. When each run stopped does
    not matter: a moved plan is judged by ``dst``'s day, its end included."""
    if (src.workers, src.pickup_service_s, src.dropoff_service_s) != (
        dst.workers,
        dst.pickup_service_s,
        dst.dropoff_service_s,
    ):
        return None
    orders = _match(src.orders, dst.orders, _order_key, extra=max_inserted)
    jobs = _match(src.jobs, dst.jobs, _job_key, extra=None)
    return None if orders is None or jobs is None else orders | jobs


def _match(
    mine: Sequence[Entity],
    theirs: Sequence[Entity],
    key: Callable[[Any], Hashable],
    extra: int | None,
) -> dict[str, str] | None:
    """My ids → their ids of what we share, matched by ``key``; ``None`` if either side has
    twins. I may hold any number they lack and they at most ``extra`` I lack; with ``extra``
    None we must hold the same."""
    a = {key(x): x.id for x in mine}
    b = {key(x): x.id for x in theirs}
    if len(a) != len(mine) or len(b) != len(theirs):
        return None  # twins: which is which cannot be known
    if extra is None and a.keys() != b.keys():
        return None
    if extra is not None and len(b.keys() - a.keys()) > extra:
        return None
    return {a[k]: b[k] for k in b.keys() & a.keys()}


def with_own_technicians(
    plan: HindsightPlan, src: Day, own: HindsightPlan, dst: Day
) -> tuple[HindsightPlan, Day]:
    """``plan``'s courier routes beside ``own``'s technician routes, as a plan of ``src``'s
    orders and ``dst``'s jobs: what to ``transfer`` to ``dst`` when the days' jobs differ
    (with surge on jobs are priced too) but only the couriers' plan is worth borrowing.
    Technicians and couriers share no work, so each half stays as feasible as it was."""
    techs = {w.id for w in dst.technicians()}
    routes = {w: r for w, r in plan.routes.items() if w not in techs}
    routes |= {w: r for w, r in own.routes.items() if w in techs}
    mixed = dataclasses.replace(plan, routes=routes, dropped_jobs=own.dropped_jobs)
    return mixed, dataclasses.replace(src, jobs=dst.jobs)


def transfer(
    plan: HindsightPlan,
    src: Day,
    dst: Day,
    travel: TravelModel | None = None,
    max_inserted: int = MAX_INSERTED,
) -> HindsightPlan | None:
    """``plan`` (of ``src``) as a plan of ``dst``, replayed on ``dst``; ``None`` unless
    ``id_map`` matches the days. Orders ``dst`` lacks leave the routes: a courier skipping
    stops reaches every later one no later (straight-line travel), so the plan stays
    feasible and no delivery becomes later. Orders only ``dst`` holds are inserted where
    they cost least (``insert_order``), or dropped when no courier can take them."""
    ids = id_map(src, dst, max_inserted)
    if ids is None:
        return None
    travel = travel or ProfileTravel()
    routes = {
        wid: tuple((kind, ids[entity]) for kind, entity in stops if entity in ids)
        for wid, stops in plan.routes.items()
    }
    known = set(ids.values())
    dropped = [ids[i] for i in plan.dropped_orders if i in ids]
    for order in sorted((o for o in dst.orders if o.id not in known), key=lambda o: o.created_s):
        placed = insert_order(dst, routes, order, travel)
        if placed is None:
            dropped.append(order.id)
        else:
            routes = placed
    return dataclasses.replace(
        plan,
        routes=routes,
        timing=replay(dst, routes, travel),
        dropped_orders=tuple(sorted(dropped)),
        dropped_jobs=tuple(sorted(ids[i] for i in plan.dropped_jobs)),
    )


def _route_cost(
    day: Day, wid: str, stops: tuple[Stop, ...], travel: TravelModel
) -> tuple[int, float] | None:
    """Late deliveries and the sum of delivery times of one route; ``None`` if it breaks a rule."""
    r = replay(day, {wid: stops}, travel)
    if not r.valid:
        return None
    promised = {o.id: o.promised_s for o in day.orders}
    late = sum(t > promised[o] + 1e-6 for o, t in r.delivered_s.items())
    return late, sum(r.delivered_s.values())


def insert_order(
    day: Day,
    routes: Mapping[str, tuple[Stop, ...]],
    order: DayOrder,
    travel: TravelModel,
) -> dict[str, tuple[Stop, ...]] | None:
    """``routes`` with ``order`` picked up and delivered by the courier and at the places
    that add the fewest late deliveries, then the least delivery time (its own included);
    ``None`` when no courier can take it without breaking a rule. The drop-off follows the
    pickup within ``INSERT_SPAN`` stops (an order is not carried through a whole route)."""
    best: tuple[tuple[int, float], str, tuple[Stop, ...]] | None = None
    pick, drop = ("pickup", order.id), ("dropoff", order.id)
    by_id = {o.id: o for o in day.orders}
    for w in day.couriers():
        if w.start_s > order.promised_s or w.end_s < order.ready_s:
            continue
        stops = routes.get(w.id, ())
        # the courier's own day: each trial replays its route, not the whole day's demand
        carried = {e: by_id[e] for kind, e in stops if kind != "job" and e in by_id}
        own = dataclasses.replace(day, orders=(*carried.values(), order), jobs=(), workers=(w,))
        before = _route_cost(own, w.id, stops, travel)
        if before is None:
            continue
        for i in range(len(stops) + 1):
            for j in range(i, min(len(stops), i + INSERT_SPAN) + 1):
                trial = (*stops[:i], pick, *stops[i:j], drop, *stops[j:])
                after = _route_cost(own, w.id, trial, travel)
                if after is None:
                    continue
                delta = (after[0] - before[0], after[1] - before[1])
                if best is None or delta < best[0]:
                    best = (delta, w.id, trial)
    if best is None:
        return None
    return {**routes, best[1]: best[2]}


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
