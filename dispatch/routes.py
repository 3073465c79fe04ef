"""A worker's live route: its committed stops that are still to be done."""

from __future__ import annotations

from collections.abc import Sequence

from dispatch.model import (
    JOB_TERMINAL,
    ORDER_TERMINAL,
    Job,
    Order,
    OrderState,
    PlannedStop,
    StopKind,
)
from dispatch.store.base import Store

__all__ = ["collects_first_here", "live_route", "still_to_do"]


def collects_first_here(route: Sequence[PlannedStop], order: Order) -> bool:
    """Whether the route begins by collecting the order at its counter (possibly after
    other pickups at that same counter): the courier standing there is there for it."""
    for stop in route:
        if stop.kind != StopKind.PICKUP or stop.location != order.pickup:
            return False
        if stop.entity_id == order.id:
            return True
    return False


def still_to_do(stop: PlannedStop, worker_id: str, record: Order | Job | None) -> bool:
    """Whether a planned stop is still the worker's to do, given its order or job as it
    is now (None: gone): not closed, not moved to another worker, not picked up already."""
    if record is None or record.worker_id != worker_id:
        return False
    if isinstance(record, Job):
        return record.state not in JOB_TERMINAL
    if record.state in ORDER_TERMINAL:
        return False
    return not (stop.kind == StopKind.PICKUP and record.state == OrderState.PICKED_UP)


def live_route(store: Store, community_id: str, worker_id: str) -> tuple[PlannedStop, ...]:
    """The plan's stops for the worker, minus work that closed, moved or was picked up."""
    plan = store.get_plan(community_id)
    if plan is None:
        return ()
    out = []
    for stop in plan.routes.get(worker_id, ()):
        record: Order | Job | None = (
            store.get_job(stop.entity_id)
            if stop.kind == StopKind.JOB
            else store.get_order(stop.entity_id)
        )
        if still_to_do(stop, worker_id, record):
            out.append(stop)
    return tuple(out)
