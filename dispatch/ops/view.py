"""What an operator sees of one community now: a pure function of records already read.

``build_view`` takes the community's open work, workers and plan (one market
read), its surge field and its recent deliveries, and returns an immutable
``OpsView``: the geofence outline, every H3 cell with its multiplier, each
worker with a status an operator reads at a glance (idle, busy, stale,
offline), open orders and jobs with their state and at-risk flag, live routes
and the KPI tiles. Nothing here reads a store or a clock.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import geo
from dispatch.model import (
    Community,
    Job,
    LatLng,
    Order,
    Plan,
    PlannedStop,
    StopKind,
    Worker,
    WorkerKind,
    WorkerStatus,
)
from dispatch.ops.kpis import Delivery, percentile
from dispatch.routes import still_to_do
from dispatch.surge import SurgeSnapshot

__all__ = ["CellView", "Kpis", "OpsView", "WorkView", "WorkerView", "build_view", "live_routes"]

#: What a worker is doing, as the console colours it.
IDLE, BUSY, STALE, OFFLINE = "idle", "busy", "stale", "offline"


@dataclass(frozen=True)
class CellView:
    """One H3 cell: its outline and the highest multiplier any service has there."""

    cell: int
    boundary: tuple[LatLng, ...]
    multiplier: float
    demand: float
    supply: float


@dataclass(frozen=True)
class WorkerView:
    id: str
    kind: WorkerKind
    status: str  # IDLE, BUSY, STALE or OFFLINE
    position: LatLng | None
    position_ts: float | None
    stops: tuple[PlannedStop, ...]  # its live route


@dataclass(frozen=True)
class WorkView:
    """An open order (pickup and dropoff) or technician job (its location as dropoff)."""

    id: str
    kind: str  # "order" or "job"
    state: str
    at_risk: bool
    worker_id: str | None
    pickup: LatLng | None
    dropoff: LatLng
    due_by: float | None
    reason: str | None


@dataclass(frozen=True)
class Kpis:
    """The tiles: open work, risk, the last hour's deliveries, workers and surge."""

    open_orders: int
    open_jobs: int
    at_risk: int
    delivered_last_hour: int
    on_time_share: float | None  # None: nothing delivered in the last hour
    click_to_door_p90_s: float | None
    couriers_online: int
    couriers_busy: int
    technicians_online: int
    stale_workers: int
    workers_on_shift: int  # not offline: what the stale share is taken of
    mean_surge: float


@dataclass(frozen=True)
class OpsView:
    community: Community
    fence: tuple[LatLng, ...]
    cells: tuple[CellView, ...]
    workers: tuple[WorkerView, ...]
    work: tuple[WorkView, ...]
    kpis: Kpis
    rule_version: int
    generated_at: float


def live_routes(
    plan: Plan | None, orders: Iterable[Order], jobs: Iterable[Job]
) -> dict[str, tuple[PlannedStop, ...]]:
    """Each worker's planned stops minus work that closed, moved or was picked up
    (``dispatch.routes.live_route`` for a whole community, from open work read once)."""
    if plan is None:
        return {}
    open_orders = {o.id: o for o in orders}
    open_jobs = {j.id: j for j in jobs}
    out: dict[str, tuple[PlannedStop, ...]] = {}
    for worker_id, stops in plan.routes.items():
        kept = [
            stop
            for stop in stops
            if still_to_do(
                stop,
                worker_id,
                open_jobs.get(stop.entity_id)
                if stop.kind == StopKind.JOB
                else open_orders.get(stop.entity_id),
            )
        ]
        if kept:
            out[worker_id] = tuple(kept)
    return out


def worker_status(
    worker: Worker, stops: Sequence[PlannedStop], now: float, staleness_s: float
) -> str:
    """Offline (off or on break), stale (no recent fix), busy (stops to do) or idle."""
    if worker.status in (WorkerStatus.OFFLINE, WorkerStatus.ON_BREAK):
        return OFFLINE
    if worker.position_ts is None or now - worker.position_ts > staleness_s:
        return STALE
    if stops or worker.status == WorkerStatus.BUSY:
        return BUSY
    return IDLE


def _cells(
    fence_cells: Iterable[int], surge: SurgeSnapshot, boundary: Mapping[int, tuple[LatLng, ...]]
) -> tuple[CellView, ...]:
    base = max((d.multiplier for d in surge.neutral.values()), default=1.0)
    out = []
    for cell in sorted(set(fence_cells) | set(surge.cells)):
        c = surge.cells.get(cell)
        m = max(c.multiplier.values(), default=base) if c is not None else base
        outline = boundary.get(cell)
        if outline is None:
            outline = tuple(LatLng(lat, lng) for lat, lng in geo.cell_boundary(cell))
        out.append(
            CellView(
                cell,
                outline,
                float(m),
                float(c.demand) if c else 0.0,
                float(c.supply) if c else 0.0,
            )
        )
    return tuple(out)


def _work(orders: Iterable[Order], jobs: Iterable[Job]) -> tuple[WorkView, ...]:
    out = [
        WorkView(
            o.id,
            "order",
            o.state.value,
            o.at_risk,
            o.worker_id,
            o.pickup,
            o.dropoff,
            o.promised_by,
            o.reason,
        )
        for o in orders
    ]
    out += [
        WorkView(
            j.id,
            "job",
            j.state.value,
            j.at_risk,
            j.worker_id,
            None,
            j.location,
            j.due_by,
            j.reason,
        )
        for j in jobs
    ]
    return tuple(sorted(out, key=lambda w: (w.kind, w.id)))


def build_view(
    community: Community,
    fence: Sequence[LatLng],
    fence_cells: Iterable[int],
    orders: Sequence[Order],
    jobs: Sequence[Job],
    workers: Sequence[Worker],
    plan: Plan | None,
    surge: SurgeSnapshot,
    deliveries: Sequence[Delivery],
    now: float,
    staleness_s: float,
    boundaries: Mapping[int, tuple[LatLng, ...]] | None = None,
) -> OpsView:
    """The view of one community now: ``fence`` its outline, ``fence_cells`` the cells it
    covers, ``boundaries`` the cell outlines already known (the rest are computed)."""
    routes = live_routes(plan, orders, jobs)
    active = [w for w in workers if w.status != WorkerStatus.RETIRED]  # retired: gone for good
    views = tuple(
        WorkerView(
            w.id,
            w.kind,
            worker_status(w, routes.get(w.id, ()), now, staleness_s),
            w.position,
            w.position_ts,
            routes.get(w.id, ()),
        )
        for w in sorted(active, key=lambda w: w.id)
    )
    cells = _cells(fence_cells, surge, boundaries or {})
    couriers = [v for v in views if v.kind == WorkerKind.COURIER]
    online = [v for v in couriers if v.status in (IDLE, BUSY)]
    on_shift = [v for v in views if v.status != OFFLINE]
    kpis = Kpis(
        open_orders=len(orders),
        open_jobs=len(jobs),
        at_risk=sum(o.at_risk for o in orders) + sum(j.at_risk for j in jobs),
        delivered_last_hour=len(deliveries),
        on_time_share=(
            sum(d.on_time for d in deliveries) / len(deliveries) if deliveries else None
        ),
        click_to_door_p90_s=percentile([d.click_to_door_s for d in deliveries], 90),
        couriers_online=len(online),
        couriers_busy=sum(v.status == BUSY for v in online),
        technicians_online=sum(
            v.kind == WorkerKind.TECHNICIAN and v.status in (IDLE, BUSY) for v in views
        ),
        stale_workers=sum(v.status == STALE for v in views),
        workers_on_shift=len(on_shift),
        mean_surge=sum(c.multiplier for c in cells) / len(cells) if cells else 1.0,
    )
    return OpsView(
        community=community,
        fence=tuple(fence),
        cells=cells,
        workers=views,
        work=_work(orders, jobs),
        kpis=kpis,
        rule_version=surge.rule_version,
        generated_at=now,
    )
