"""What a merchant reports about an order's food: a revised ready time, or that it is out.

An order is created with the merchant's first estimate of when its food is
ready. Kitchens learn better while they cook (a rush, a missing ingredient,
a dish done early), and a dispatcher that keeps planning with the first guess
sends couriers to wait at counters or arrive after the food has gone cold.
A report replaces the ready time the ticks plan with, and drops the tick's own
expectation of late food (``dispatch.tick.ready``): the kitchen knows better
than a guess made from a courier waiting at its counter.

Reports are taken while the food can still matter to dispatch: before pickup
(pending or assigned). A reported time obeys the rule an order's ready time is
created under (``check_ready_time``, which intake uses too): between an hour ago
and a week ahead.
"""

from __future__ import annotations

import math

from dispatch.errors import Conflict, InvalidInput
from dispatch.lifecycle import ORDER_MOVABLE
from dispatch.model import Order

__all__ = ["READY_AHEAD_S", "READY_PAST_S", "REPORTABLE", "check_ready_time", "reported_ready_at"]

#: States in which the kitchen's word still changes a plan: before pickup, the plan's own.
REPORTABLE = ORDER_MOVABLE
#: An order's ready time, given or reported, lies within [now - READY_PAST_S, now + READY_AHEAD_S].
READY_PAST_S = 3600.0
READY_AHEAD_S = 7 * 86400.0


def check_ready_time(ready_at: float | None, now: float) -> float:
    """An order's ready time as given (``None``: now), if finite and between an hour ago
    and a week ahead; else ``InvalidInput``."""
    value = now if ready_at is None else ready_at
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidInput(f"ready_at must be a finite time, not {ready_at!r}")
    if not now - READY_PAST_S <= value <= now + READY_AHEAD_S:
        raise InvalidInput("ready_at must lie between an hour ago and a week ahead")
    return float(value)


def reported_ready_at(order: Order, ready_at: float | None, now: float) -> float:
    """The ready time a kitchen report sets (``None``: the food is out now).

    Raises ``Conflict`` once the order is picked up or closed, and ``InvalidInput``
    for a time that is not finite or lies outside the allowed range.
    """
    if order.state not in REPORTABLE:
        raise Conflict(
            f"order {order.id} is {order.state.value}; the kitchen reports its food "
            "before pickup only"
        )
    return check_ready_time(ready_at, now)
