"""When the tick believes an order's food comes out: the kitchen's estimate, until it is late.

An order's ``ready_at`` is the merchant's estimate. Once it has passed while the
order's courier stands at the counter (it reported ``arrived_at_pickup``, or its
position is within ``AT_COUNTER_M`` of the pickup) and the order is still not
picked up, the food is evidently late, and the estimate says nothing more of
when it comes. Planning with "ready now" then keeps a courier waiting at the
counter tick after tick, with other orders' food on board going cold and late,
because every tick expects the wait to end at once (the late deliveries the
hindsight bound blames on dispatch on light days, issue 15). So the tick
expects late food to take as long again as it has been late so far, and at
least ``OVERDUE_MIN_WAIT_S`` more: a long wait weighs against what waits on
it, and a courier with food on board may go and deliver it first.

Only the tick's problem sees the belief: the stored order keeps the merchant's
estimate (``build_believed`` builds from the believed snapshot and hands the
stored orders back to the problem, which ``apply_plan`` writes from).
"""

from __future__ import annotations

import dataclasses

from dispatch.model import Order, OrderState, Worker
from dispatch.settings import EngineSettings
from dispatch.tick.build import TickProblem, build_tick_problem
from dispatch.tick.snapshot import TickSnapshot
from geo import MatrixProvider, distance_m

__all__ = ["AT_COUNTER_M", "OVERDUE_MIN_WAIT_S", "believed", "believed_ready", "build_believed"]

#: A courier this close to an order's pickup is at the counter (metres).
AT_COUNTER_M = 50.0
#: Least further wait expected of food that is late (seconds).
OVERDUE_MIN_WAIT_S = 120.0


def believed_ready(order: Order, courier: Worker | None, now: float) -> float:
    """When the tick expects the order's food out (module docstring)."""
    if order.state != OrderState.ASSIGNED or now <= order.ready_at:
        return order.ready_at
    if courier is None or courier.id != order.worker_id:
        return order.ready_at
    at = courier.position
    waiting = order.arrived_pickup_at is not None or (
        at is not None
        and distance_m(at.lat, at.lng, order.pickup.lat, order.pickup.lng) <= AT_COUNTER_M
    )
    if not waiting:
        return order.ready_at
    return now + max(now - order.ready_at, OVERDUE_MIN_WAIT_S)


def believed(snap: TickSnapshot) -> TickSnapshot:
    """The snapshot with late food's ready times as the tick expects them (same object if none)."""
    workers = {w.id: w for w in snap.workers}
    orders = []
    changed = False
    for o in snap.orders:
        ready = believed_ready(o, workers.get(o.worker_id or ""), snap.now)
        if ready != o.ready_at:
            o = dataclasses.replace(o, ready_at=ready)
            changed = True
        orders.append(o)
    return dataclasses.replace(snap, orders=tuple(orders)) if changed else snap


def build_believed(
    snap: TickSnapshot, settings: EngineSettings, matrices: MatrixProvider
) -> TickProblem:
    """The tick's problem under the belief, carrying the stored orders (to apply the plan to)."""
    seen = believed(snap)
    tp = build_tick_problem(seen, settings, matrices)
    if seen is not snap:
        stored = {o.id: o for o in snap.orders}
        tp.orders = [stored[o.id] for o in tp.orders]
    return tp
