"""A worker's live route: its committed stops that are still to be done."""

from __future__ import annotations

from dispatch.model import JOB_TERMINAL, ORDER_TERMINAL, OrderState, PlannedStop, StopKind
from dispatch.store.base import Store

__all__ = ["live_route"]


def live_route(store: Store, community_id: str, worker_id: str) -> tuple[PlannedStop, ...]:
    """The plan's stops for the worker, minus work that closed, moved or was picked up."""
    plan = store.get_plan(community_id)
    if plan is None:
        return ()
    out = []
    for stop in plan.routes.get(worker_id, ()):
        if stop.kind == StopKind.JOB:
            j = store.get_job(stop.entity_id)
            if j is None or j.state in JOB_TERMINAL or j.worker_id != worker_id:
                continue
        else:
            o = store.get_order(stop.entity_id)
            if o is None or o.state in ORDER_TERMINAL or o.worker_id != worker_id:
                continue
            if stop.kind == StopKind.PICKUP and o.state == OrderState.PICKED_UP:
                continue
        out.append(stop)
    return tuple(out)
