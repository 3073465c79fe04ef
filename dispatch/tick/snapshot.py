"""The first step of a tick: one read of everything the tick needs, frozen."""

from __future__ import annotations

from dataclasses import dataclass

from dispatch.model import Community, Job, Order, Plan, StopKind, Worker
from dispatch.store.base import Store

__all__ = ["TickSnapshot", "read_snapshot"]


@dataclass(frozen=True)
class TickSnapshot:
    """A community's state at ``now``: the plan it had, its workers and open work."""

    community: Community
    plan: Plan | None
    workers: tuple[Worker, ...]
    orders: tuple[Order, ...]
    jobs: tuple[Job, ...]
    now: float

    @property
    def plan_version(self) -> int:
        return self.plan.version if self.plan is not None else 0

    def previous_routes(self) -> dict[str, list[tuple[StopKind, str]]]:
        """The committed plan as (kind, entity id) per worker: the warm start."""
        if self.plan is None:
            return {}
        return {
            wid: [(s.kind, s.entity_id) for s in stops] for wid, stops in self.plan.routes.items()
        }


def read_snapshot(store: Store, community: Community, now: float) -> TickSnapshot:
    """Read the plan first: a change after it makes the commit's version guard fail."""
    plan = store.get_plan(community.id)
    return TickSnapshot(
        community=community,
        plan=plan,
        workers=tuple(store.list_workers(community.id)),
        orders=tuple(store.list_open_orders(community.id)),
        jobs=tuple(store.list_open_jobs(community.id)),
        now=now,
    )
