"""Demand and supply per H3 cell: what surge pricing and quote ETAs read.

``MarketView`` is the narrow snapshot the pricer sees (never the engine or
its store): open work, workers and the committed plan of one community. The
counting itself is a pure function of that view.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

import geo
from dispatch.model import (
    Community,
    Job,
    LatLng,
    Order,
    OrderState,
    Plan,
    StopKind,
    Worker,
    WorkerKind,
    WorkerStatus,
)
from dispatch.store.base import Store

__all__ = [
    "MarketSource",
    "MarketView",
    "Placed",
    "StoreMarket",
    "SupplyIndex",
    "count_demand_supply",
    "is_fresh",
    "late_deliveries",
]

#: Most orders a dispatcher stacks on a courier: (community, worker) → orders per trip.
TripRule = Callable[[Community, Worker], int]


@dataclass(frozen=True)
class MarketView:
    """A community's open work, workers and plan at ``now``."""

    community: Community
    orders: Sequence[Order]
    jobs: Sequence[Job]
    workers: Sequence[Worker]
    plan: Plan | None
    now: float


class MarketSource(Protocol):
    """Where a pricer reads its view of a community from."""

    def view(self, community: Community, now: float) -> MarketView: ...


@dataclass(frozen=True)
class StoreMarket:
    """Reads the view from a store (one pass over the community's records)."""

    store: Store

    def view(self, community: Community, now: float) -> MarketView:
        cid = community.id
        return MarketView(
            community=community,
            orders=self.store.list_open_orders(cid),
            jobs=self.store.list_open_jobs(cid),
            workers=self.store.list_workers(cid),
            plan=self.store.get_plan(cid),
            now=now,
        )


def is_fresh(worker: Worker, now: float, staleness_s: float) -> bool:
    """Whether the worker's last fix is recent enough to count on it."""
    return worker.position_ts is not None and now - worker.position_ts <= staleness_s


def count_demand_supply(
    view: MarketView,
    *,
    demand_window_s: float,
    soon_free_s: float,
    staleness_s: float,
    orders_per_trip: TripRule,
    late_weight: float = 0.0,
) -> tuple[dict[int, float], dict[int, float]]:
    """Demand and supply per cell (before k-ring smoothing).

    Demand: open, unpicked work plus everything placed within the demand
    window, at its origin's cell; each open delivery the committed plan brings
    after its promise counts ``late_weight`` more there (a fleet that already
    breaks promises nearby has less to offer than its free room says). Supply:
    fresh, working workers, each counted by the room left in its trip under the
    dispatcher's bundling rule (room a dispatcher never uses is no supply), or
    fully when soon free.
    """
    community, now = view.community, view.now
    res = community.h3_resolution
    recent = now - demand_window_s
    late = late_deliveries(view) if late_weight > 0 else frozenset()
    demand: dict[int, float] = {}
    for o in view.orders:
        weight = late_weight if o.id in late else 0.0
        if o.state in (OrderState.PENDING, OrderState.ASSIGNED) or o.created_at >= recent:
            weight += 1.0
        if weight:
            c = geo.cell_of(o.pickup.lat, o.pickup.lng, res)
            demand[c] = demand.get(c, 0.0) + weight
    for j in view.jobs:
        c = geo.cell_of(j.location.lat, j.location.lng, res)
        demand[c] = demand.get(c, 0.0) + 1.0
    supply: dict[int, float] = {}
    soon = now + soon_free_s
    for w in view.workers:
        if w.cell is None or not is_fresh(w, now, staleness_s):
            continue
        if w.status not in (WorkerStatus.AVAILABLE, WorkerStatus.BUSY):
            continue
        stops = view.plan.routes.get(w.id, ()) if view.plan else ()
        if w.kind == WorkerKind.TECHNICIAN:
            free = 1.0 if not stops or stops[-1].departs <= soon else 0.0
        else:  # a trip's room: each order is two stops until picked up
            room = 2.0 * orders_per_trip(community, w)
            free = max(0.0, 1.0 - len(stops) / room)
            if stops and stops[-1].departs <= soon:
                free = 1.0
        supply[w.cell] = supply.get(w.cell, 0.0) + free
    return demand, supply


def late_deliveries(view: MarketView) -> frozenset[str]:
    """Open orders whose drop-off the committed plan brings after their promise."""
    if view.plan is None:
        return frozenset()
    promised = {o.id: o.promised_by for o in view.orders}
    return frozenset(
        s.entity_id
        for stops in view.plan.routes.values()
        for s in stops
        if s.kind == StopKind.DROPOFF and s.eta > promised.get(s.entity_id, float("inf"))
    )


@dataclass(frozen=True)
class Placed:
    """A fresh worker where it was last seen."""

    id: str
    vehicle: str
    position: LatLng
    cell: int


class SupplyIndex:
    """Fresh, working workers by kind and H3 cell: nearest-worker lookups whose cost
    does not grow with the community's size (they walk rings of cells outwards from
    the origin and stop once enough workers are found).

    ``visited`` counts the cells and workers the lookups examined (tests count it).
    """

    def __init__(self, workers: Sequence[Worker], now: float, staleness_s: float) -> None:
        self._cells: dict[WorkerKind, dict[int, list[Placed]]] = {}
        self._all: dict[WorkerKind, list[Placed]] = {}
        for w in workers:
            if w.position is None or w.cell is None or not is_fresh(w, now, staleness_s):
                continue
            if w.status not in (WorkerStatus.AVAILABLE, WorkerStatus.BUSY):
                continue
            placed = Placed(w.id, w.vehicle.value, w.position, w.cell)
            self._cells.setdefault(w.kind, {}).setdefault(w.cell, []).append(placed)
            self._all.setdefault(w.kind, []).append(placed)
        self.visited = 0

    def count(self, kind: WorkerKind) -> int:
        return len(self._all.get(kind, ()))

    def nearest(self, kind: WorkerKind, cell: int, want: int, max_rings: int = 64) -> list[Placed]:
        """At least ``want`` workers of ``kind`` near ``cell`` (all of them when fewer):
        rings are walked until ``want`` are found, then one ring more, since a worker
        in the next ring may be nearer than one found at a corner of this one."""
        everyone = self._all.get(kind, [])
        if len(everyone) <= want:
            self.visited += len(everyone)
            return list(everyone)
        cells = self._cells[kind]
        found: list[Placed] = []
        extra = None
        for k in range(max_rings + 1):
            for c in geo.ring(cell, k):
                self.visited += 1
                found.extend(cells.get(c, ()))
            if extra is None and len(found) >= want:
                extra = k + 1
            if extra is not None and k >= extra:
                break
        self.visited += len(found)
        return found
