"""Response schemas of the ops console: a community's live snapshot and its alerts.

Outlines are ``[lat, lng]`` pairs (compact: a community has a few hundred
cells); cells are H3 indexes in hex, as the surge map shows them.
"""

from __future__ import annotations

import hashlib
from datetime import datetime

from pydantic import Field

from api.schemas._common import Out, PointOut, point_out, to_time, utc
from dispatch.model import LatLng, PlannedStop
from dispatch.ops import Alert, CellView, Kpis, OpsView, WorkerView, WorkView

__all__ = [
    "AlertOut",
    "OpsCellOut",
    "OpsCommunityOut",
    "OpsKpisOut",
    "OpsSnapshotOut",
    "OpsStopOut",
    "OpsWorkOut",
    "OpsWorkerOut",
]

Outline = list[tuple[float, float]]


def _pairs(points: tuple[LatLng, ...]) -> Outline:
    return [(round(p.lat, 7), round(p.lng, 7)) for p in points]


class OpsCommunityOut(Out):
    id: str = Field(description="The community's id.")
    name: str = Field(description="Its display name.")
    retired: bool = Field(description="Retired: it takes no new work.")


class OpsCellOut(Out):
    cell: str = Field(description="H3 cell index in hex.")
    boundary: Outline = Field(
        description="The cell's outline as [lat, lng] pairs (empty when asked without outlines)."
    )
    multiplier: float = Field(description="The highest surge multiplier of any service here.")
    demand: float = Field(description="Demand counted over the cell's k-ring.")
    supply: float = Field(description="Supply counted over the cell's k-ring.")

    @classmethod
    def of(cls, c: CellView, outline: bool = True) -> OpsCellOut:
        return cls(
            cell=format(c.cell, "x"),
            boundary=_pairs(c.boundary) if outline else [],
            multiplier=round(c.multiplier, 4),
            demand=round(c.demand, 4),
            supply=round(c.supply, 4),
        )


class OpsStopOut(Out):
    kind: str = Field(description="pickup, dropoff or job.")
    entity_id: str = Field(description="The order or job served at this stop.")
    location: PointOut = Field(description="Where the stop is.")
    eta: datetime = Field(description="When service at the stop is planned to start.")

    @classmethod
    def of(cls, s: PlannedStop) -> OpsStopOut:
        return cls(
            kind=s.kind.value,
            entity_id=s.entity_id,
            location=PointOut(lat=s.location.lat, lng=s.location.lng),
            eta=utc(s.eta),
        )


class OpsWorkerOut(Out):
    id: str = Field(description="The worker's id.")
    kind: str = Field(description="courier or technician.")
    status: str = Field(
        description="idle (fresh fix, nothing to do), busy (stops to do), stale (no fix "
        "within the staleness limit) or offline (off shift or on a break)."
    )
    position: PointOut | None = Field(description="Its last reported position, if any.")
    position_ts: datetime | None = Field(description="When that position was taken.")
    stops: list[OpsStopOut] = Field(description="Its live route: committed stops still to do.")

    @classmethod
    def of(cls, w: WorkerView) -> OpsWorkerOut:
        return cls(
            id=w.id,
            kind=w.kind.value,
            status=w.status,
            position=point_out(w.position),
            position_ts=to_time(w.position_ts),
            stops=[OpsStopOut.of(s) for s in w.stops],
        )


class OpsWorkOut(Out):
    id: str = Field(description="The order's or job's id.")
    kind: str = Field(description="order or job.")
    state: str = Field(description="Its lifecycle state (pending, assigned, picked_up, ...).")
    at_risk: bool = Field(description="Planned to miss, or come close to, its promise.")
    worker_id: str | None = Field(description="The worker it is assigned to, if any.")
    pickup: PointOut | None = Field(description="An order's pickup (none for jobs).")
    dropoff: PointOut = Field(description="An order's dropoff, or a job's location.")
    due_by: datetime | None = Field(description="Its promise or the end of its window.")
    reason: str | None = Field(description="Why it waits or is at risk, when known.")

    @classmethod
    def of(cls, w: WorkView) -> OpsWorkOut:
        return cls(
            id=w.id,
            kind=w.kind,
            state=w.state,
            at_risk=w.at_risk,
            worker_id=w.worker_id,
            pickup=point_out(w.pickup),
            dropoff=PointOut(lat=w.dropoff.lat, lng=w.dropoff.lng),
            due_by=to_time(w.due_by),
            reason=w.reason,
        )


class OpsKpisOut(Out):
    open_orders: int = Field(description="Orders not yet delivered, cancelled or failed.")
    open_jobs: int = Field(description="Technician jobs not yet closed.")
    at_risk: int = Field(description="Open orders and jobs flagged at risk.")
    delivered_last_hour: int = Field(description="Orders delivered in the last hour.")
    on_time_share: float | None = Field(
        description="Share of the last hour's deliveries that kept their promise "
        "(null: none delivered)."
    )
    click_to_door_p90_s: float | None = Field(
        description="90th percentile of the last hour's order-to-door times, in seconds."
    )
    couriers_online: int = Field(description="Couriers on shift with a fresh position.")
    couriers_busy: int = Field(description="Of those, couriers with stops to do.")
    technicians_online: int = Field(description="Technicians on shift with a fresh position.")
    stale_workers: int = Field(description="Workers on shift without a recent position.")
    workers_on_shift: int = Field(description="Workers neither offline nor on a break.")
    mean_surge: float = Field(description="Mean surge multiplier over the community's cells.")

    @classmethod
    def of(cls, k: Kpis) -> OpsKpisOut:
        share = None if k.on_time_share is None else round(k.on_time_share, 4)
        p90 = None if k.click_to_door_p90_s is None else round(k.click_to_door_p90_s, 1)
        return cls(
            open_orders=k.open_orders,
            open_jobs=k.open_jobs,
            at_risk=k.at_risk,
            delivered_last_hour=k.delivered_last_hour,
            on_time_share=share,
            click_to_door_p90_s=p90,
            couriers_online=k.couriers_online,
            couriers_busy=k.couriers_busy,
            technicians_online=k.technicians_online,
            stale_workers=k.stale_workers,
            workers_on_shift=k.workers_on_shift,
            mean_surge=round(k.mean_surge, 4),
        )


class AlertOut(Out):
    kind: str = Field(
        description="on_time_low, at_risk_spike, stale_workers, tick_failing or tick_over_budget."
    )
    severity: str = Field(description="warning or critical.")
    message: str = Field(description="What is wrong, for people.")
    value: float = Field(description="The measured value the rule compared.")
    threshold: float = Field(description="The threshold it crossed.")

    @classmethod
    def of(cls, a: Alert) -> AlertOut:
        return cls(
            kind=a.kind,
            severity=a.severity,
            message=a.message,
            value=round(a.value, 4),
            threshold=a.threshold,
        )


class OpsSnapshotOut(Out):
    """One community as the ops console draws it."""

    community_id: str = Field(description="The community's id.")
    name: str = Field(description="Its display name.")
    community_version: int = Field(
        description="The community's version: its fence and cells change only with it."
    )
    center: PointOut = Field(description="The centre of its geofence.")
    generated_at: datetime = Field(description="When the snapshot was taken (server clock).")
    etag: str = Field(
        description="A digest of everything else but generated_at and the cells' outlines: "
        "pass it as `since` to wait for the next change."
    )
    rule_version: int = Field(description="The surge rule set the multipliers come from.")
    fence: Outline = Field(description="The geofence outline as [lat, lng] pairs.")
    cells: list[OpsCellOut] = Field(description="Every H3 cell of the community.")
    workers: list[OpsWorkerOut] = Field(description="Its couriers and technicians.")
    work: list[OpsWorkOut] = Field(description="Its open orders and jobs.")
    kpis: OpsKpisOut = Field(description="The KPI tiles.")
    alerts: list[AlertOut] = Field(description="The alerts that hold now.")
    tile_url: str | None = Field(
        description="A raster tile URL template ({z}/{x}/{y}) for a basemap, if configured."
    )

    @classmethod
    def of(
        cls,
        view: OpsView,
        alerts: tuple[Alert, ...],
        tile_url: str | None,
        outlines: bool = True,
    ) -> OpsSnapshotOut:
        """The snapshot of a view; ``outlines=False`` leaves the cells' outlines out."""
        c = view.community
        out = cls(
            community_id=c.id,
            name=c.name,
            community_version=c.version,
            center=PointOut(lat=c.center.lat, lng=c.center.lng),
            generated_at=utc(view.generated_at),
            etag="",
            rule_version=view.rule_version,
            fence=_pairs(view.fence),
            cells=[OpsCellOut.of(x, outlines) for x in view.cells],
            workers=[OpsWorkerOut.of(w) for w in view.workers],
            work=[OpsWorkOut.of(w) for w in view.work],
            kpis=OpsKpisOut.of(view.kpis),
            alerts=[AlertOut.of(a) for a in alerts],
            tile_url=tile_url or None,
        )
        # Outlines are left out of the digest: they change only with the community's
        # version (in the digest), so asking with or without them gives one etag.
        body = out.model_dump_json(
            exclude={"generated_at": True, "etag": True, "cells": {"__all__": {"boundary"}}}
        )
        out.etag = hashlib.sha256(body.encode()).hexdigest()[:20]
        return out
