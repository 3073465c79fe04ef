"""When the tick believes an order's food comes out: the kitchen's estimate, until it is late.

An order's ``ready_at`` is the merchant's estimate. Planning with it once it
has passed ("ready now") keeps a courier waiting at a counter tick after tick,
with other orders' food on board going cold and late, whenever the food is
really late (issue 15: most late-by-dispatch deliveries on light days).

Food is *known* late only when its hand-over should already have happened:
its courier reported ``arrived_at_pickup`` (a stamp that belongs to this
courier's current stay at the counter: ``dispatch.tick.apply`` clears it on
reassignment and when a plan sends the courier elsewhere first), the
committed plan still has the courier collecting it there, and

    now > max(ready_at, arrival) + hand-over

and it is still not picked up, and the courier is still there to be handed
it (dispatchable: a courier past its shift end, offline or silent may have
left the food on the counter); the hand-over is how far into the pickup
service the food changes hands (``EngineSettings.pickup_handover_s``; the
whole service when unknown). A courier collecting several orders at one
counter (its route's leading pickups there) is handed them one service after
another, and a bundle leaves only when all of it is out, so for such a run of
n orders the bound is ``max(arrival, every ready_at) + (n - 1) * pickup
service + hand-over``. A courier who reached the counter after the food was
ready and stands through the hand-over is therefore never taken for one
waiting on late food (the mistake of the position-based belief reverted in
64cd39c, which lost MDRP orders).

Late food is expected out ``LATE_FOOD_WAIT_S`` from now, however late it
already is: a wait weighs against what waits on it, and a courier with food
on board may go and deliver it first. (Expecting it "as late again as it
already is" grows with the lateness and overstates it: real preparation times
spread around the estimate, and food late by 30 s or by 8 min is about as far
from coming out; on the simulated days it lost on-time share, RESULTS.md
09:45.) The expectation is kept on the order (``late_food_ready_at``) and holds
after the courier leaves the counter, until it passes or a courier there sees
the food still not out: without it the next tick would plan the food "ready
now" again and call the courier back, to stand at the counter once more.

The problem sees the belief as the pickup's ready time; the stored order keeps
the merchant's estimate (``build_believed`` hands the stored orders, with the
new expectation, back to the problem, which ``apply_plan`` writes from).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence

from dispatch.model import Order, OrderState, PlannedStop, StopKind
from dispatch.settings import EngineSettings
from dispatch.tick.build import TickProblem, build_tick_problem, dispatchable
from dispatch.tick.snapshot import TickSnapshot
from geo import MatrixProvider

__all__ = [
    "LATE_FOOD_WAIT_S",
    "believed",
    "believed_ready",
    "build_believed",
    "counter_run",
    "late_food",
]

#: Further wait expected of food that is late, from when it is seen late (seconds).
LATE_FOOD_WAIT_S = 120.0


def counter_run(
    worker_id: str, route: Sequence[PlannedStop], orders: Mapping[str, Order]
) -> list[Order]:
    """The orders the worker's committed route collects first, all at one counter.

    Stops of work already done (picked up, closed, given to someone else) are
    skipped; the run ends at the first stop that is not a pickup at that counter.
    """
    run: list[Order] = []
    for stop in route:
        o = orders.get(stop.entity_id) if stop.kind == StopKind.PICKUP else None
        if stop.kind == StopKind.PICKUP and (
            o is None or o.state != OrderState.ASSIGNED or o.worker_id != worker_id
        ):
            continue  # done or moved since the plan was committed
        if o is None or (run and o.pickup != run[0].pickup):
            break
        run.append(o)
    return run


def late_food(
    run: Sequence[Order], now: float, service_s: float, handover_s: float
) -> dict[str, float]:
    """Believed ready times of a counter run's food, when its hand-over is overdue (else none)."""
    arrivals = [o.arrived_pickup_at for o in run if o.arrived_pickup_at is not None]
    if not arrivals:
        return {}
    out = max(min(arrivals), *(o.ready_at for o in run))
    if now <= out + (len(run) - 1) * service_s + handover_s:
        return {}
    return {o.id: now + LATE_FOOD_WAIT_S for o in run}


def believed_ready(snap: TickSnapshot, settings: EngineSettings) -> dict[str, float]:
    """Orders whose food the tick takes as late, and when it expects it out: seen late
    at the counter now (``late_food``), else a still future expectation kept on the order."""
    ready = {
        o.id: o.late_food_ready_at
        for o in snap.orders
        if o.late_food_ready_at is not None
        and o.late_food_ready_at > snap.now
        and o.state in (OrderState.PENDING, OrderState.ASSIGNED)
    }
    if snap.plan is None:
        return ready
    orders = {o.id: o for o in snap.orders}
    present = {w.id for w in snap.workers if dispatchable(w, snap.now, settings)}
    for wid, route in snap.plan.routes.items():
        if wid not in present:
            continue  # gone (off shift, offline, silent): it says nothing of the food now
        run = counter_run(wid, route, orders)
        ready.update(late_food(run, snap.now, settings.pickup_service_s, settings.handover_s))
    return ready


def believed(snap: TickSnapshot, settings: EngineSettings) -> TickSnapshot:
    """The snapshot with late food's ready times as the tick expects them (same object if none)."""
    ready = believed_ready(snap, settings)
    if not ready:
        return snap
    seen = tuple(
        dataclasses.replace(o, ready_at=max(o.ready_at, ready[o.id])) if o.id in ready else o
        for o in snap.orders
    )
    return dataclasses.replace(snap, orders=seen)


def build_believed(
    snap: TickSnapshot, settings: EngineSettings, matrices: MatrixProvider
) -> TickProblem:
    """The tick's problem under the belief, carrying the stored orders (to apply the plan to)
    with the expectation each late one is planned by."""
    seen = believed(snap, settings)
    tp = build_tick_problem(seen, settings, matrices)
    if seen is not snap:
        stored = {o.id: o for o in snap.orders}
        planned = {o.id: o.ready_at for o in seen.orders}
        tp.orders = [
            dataclasses.replace(stored[o.id], late_food_ready_at=planned[o.id])
            if planned[o.id] != stored[o.id].ready_at
            else stored[o.id]
            for o in tp.orders
        ]
    return tp
