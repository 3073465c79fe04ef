"""Response bodies, built from engine records; times in UTC."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import Field

from api.schemas._common import Out, PointOut, point_out, to_time, utc
from dispatch.model import (
    Community,
    Event,
    Job,
    Order,
    PlannedStop,
    Price,
    Priority,
    Vehicle,
    Worker,
    WorkerKind,
    WorkerStatus,
)
from dispatch.requests import (
    Quote,
    TickResult,
)
from dispatch.surge import SurgeSnapshot


class CommunityOut(Out):
    id: str = Field(description="The community's id.")
    name: str = Field(description="Its display name.")
    center: PointOut = Field(description="The centre of its geofence.")
    radius_m: float = Field(description="The geofence's radius, in metres.")
    h3_resolution: int = Field(description="The H3 resolution of its cells.")
    delivery_sla_min: float = Field(description="The delivery promise, in minutes after the order.")
    emergency_sla_min: float = Field(
        description="How soon an emergency job must be reached, in minutes."
    )
    dispatch_interval_s: float = Field(
        description="Seconds between two dispatch ticks (the batching window)."
    )
    solver_budget_s: float = Field(
        description="Wall time one tick may spend building, solving and committing."
    )
    max_orders_per_trip: int = Field(
        description="Most orders on one courier at once (the bundling rule)."
    )
    single_merchant_trips: bool = Field(
        description="Whether a trip's orders must all come from one merchant."
    )
    skills: list[str] = Field(description="The skills catalogue jobs and technicians may name.")
    cell_count: int = Field(description="H3 cells covering its geofence.")
    version: int = Field(description="Bumped on every change of the community.")
    retired_at: datetime | None = Field(
        default=None, description="When it was retired: it takes no new work (None: active)."
    )

    @classmethod
    def of(cls, c: Community) -> CommunityOut:
        return cls(
            id=c.id,
            name=c.name,
            center=PointOut(lat=c.center.lat, lng=c.center.lng),
            radius_m=c.radius_m,
            h3_resolution=c.h3_resolution,
            delivery_sla_min=c.delivery_sla_s / 60,
            emergency_sla_min=c.emergency_sla_s / 60,
            dispatch_interval_s=c.dispatch_interval_s,
            solver_budget_s=c.solver_budget_s,
            max_orders_per_trip=c.max_orders_per_trip,
            single_merchant_trips=c.single_merchant_trips,
            skills=sorted(c.skills),
            cell_count=c.cell_count,
            version=c.version,
            retired_at=to_time(c.retired_at),
        )


class WorkerOut(Out):
    id: str = Field(description="The worker's id.")
    kind: WorkerKind = Field(description="courier or technician.")
    community_id: str = Field(description="The community it serves.")
    vehicle: Vehicle = Field(description="Its travel profile.")
    capacity: int = Field(description="Orders it carries at once (couriers).")
    skills: list[str] = Field(description="Its skills (technicians).")
    rating: float = Field(description="Its rating from 0 to 5; jobs may set a floor.")
    shift_end: datetime | None = Field(
        description="When its shift ends, if set: no work is planned past it."
    )
    status: WorkerStatus = Field(
        description="What it reported: available, busy, on_break or offline."
    )
    position: PointOut | None = Field(description="Its last position, if any.")
    position_ts: datetime | None = Field(description="When that position was taken.")
    cell: str | None = Field(description="The H3 cell of that position, in hex.")

    @classmethod
    def of(cls, w: Worker) -> WorkerOut:
        return cls(
            id=w.id,
            kind=w.kind,
            community_id=w.community_id,
            vehicle=w.vehicle,
            capacity=w.capacity,
            skills=sorted(w.skills),
            rating=w.rating,
            shift_end=to_time(w.shift_end),
            status=w.status,
            position=point_out(w.position),
            position_ts=to_time(w.position_ts),
            cell=None if w.cell is None else format(w.cell, "x"),
        )


class ItemError(Out):
    index: int = Field(description="The refused item's position in the batch.")
    worker_id: str = Field(description="The worker the item named.")
    detail: str = Field(description="Why it was refused.")


class LocationBatchOut(Out):
    accepted: int = Field(description="Positions stored.")
    errors: list[ItemError] = Field(description="The items refused, each with its reason.")


class PriceOut(Out):
    base: float = Field(description="The price before surge.")
    multiplier: float = Field(description="The surge multiplier applied.")
    total: float = Field(description="What the customer pays: base times multiplier, rounded.")
    rule_version: int = Field(description="The surge rule set that priced it.")
    currency: str = Field(description="ISO 4217 code of base and total.")

    @classmethod
    def of(cls, p: Price) -> PriceOut:
        return cls(
            base=p.base,
            multiplier=p.multiplier,
            total=p.total,
            rule_version=p.rule_version,
            currency=p.currency,
        )


class QuoteOut(Out):
    """A price held until ``expires_at`` for the order or job that names its ``id``."""

    id: str = Field(description="Send as quote_id with the same order or job to pay this price.")
    kind: str = Field(description="What it priced: order or job.")
    expires_at: datetime = Field(description="The price holds until then.")
    currency: str = Field(description="ISO 4217 code of base and total.")
    eta_min: float = Field(
        description="Estimated minutes to the door (orders) or to arrival (jobs)."
    )
    base: float = Field(description="The price before surge.")
    multiplier: float = Field(description="The surge multiplier applied.")
    total: float = Field(description="What the customer pays: base times multiplier, rounded.")
    rule_version: int = Field(description="The surge rule set that priced it.")
    explanation: dict[str, Any] = Field(
        description="How the multiplier came about: cell, demand, supply, curve, bounds."
    )

    @classmethod
    def of(cls, q: Quote) -> QuoteOut:
        if q.id is None or q.expires_at is None:
            raise ValueError("only held quotes (with an id and an expiry) are answered")
        return cls(
            id=q.id,
            kind=q.kind,
            expires_at=utc(q.expires_at),
            currency=q.currency,
            eta_min=round(q.eta_s / 60.0, 1),
            base=q.base,
            multiplier=q.multiplier,
            total=q.total,
            rule_version=q.rule_version,
            explanation=dict(q.explanation),
        )


class _WorkOut(Out):
    """What orders and jobs both answer beyond their own fields."""

    reason: str | None = Field(
        default=None, description="Why it waits or is at risk (see README, Reasons)."
    )
    external_ref: str | None = Field(default=None, description="The order service's reference.")
    notes: str | None = Field(default=None, description="Notes for the worker.")
    quote_id: str | None = Field(default=None, description="The quote whose price it holds.")


class OrderOut(_WorkOut):
    id: str = Field(description="The order's id.")
    community_id: str = Field(description="The community it belongs to.")
    state: str = Field(description="pending, assigned, picked_up, delivered, cancelled or failed.")
    worker_id: str | None = Field(description="The courier it is assigned to, if any.")
    eta: datetime | None = Field(description="Planned arrival at the door, once assigned.")
    eta_pickup: datetime | None = Field(description="Planned arrival at the pickup, once assigned.")
    promised_by: datetime = Field(description="The delivery promise.")
    ready_at: datetime = Field(description="When the merchant has it ready.")
    price: PriceOut = Field(description="The locked price.")
    pickup: PointOut = Field(description="Where it is picked up.")
    dropoff: PointOut = Field(description="Where it is delivered.")
    priority: Priority = Field(description="The member tier: higher tiers weigh lateness more.")
    service_type: str = Field(description="grocery, medicine or takeout.")
    at_risk: bool = Field(description="Planned to arrive close to or past its promise.")
    created_at: datetime = Field(description="When it was accepted.")
    arrived_at_pickup: datetime | None = Field(
        default=None, description="When the courier reported arriving at the merchant."
    )
    arrived_at_dropoff: datetime | None = Field(
        default=None, description="When the courier reported arriving at the door."
    )
    delivered_at: datetime | None = Field(default=None, description="When it was delivered.")
    proof_ref: str | None = Field(default=None, description="The proof-of-delivery reference.")

    @classmethod
    def of(cls, o: Order) -> OrderOut:
        return cls(
            id=o.id,
            community_id=o.community_id,
            state=o.state.value,
            worker_id=o.worker_id,
            eta=to_time(o.eta_dropoff),
            eta_pickup=to_time(o.eta_pickup),
            promised_by=utc(o.promised_by),
            ready_at=utc(o.ready_at),
            price=PriceOut.of(o.price),
            pickup=PointOut(lat=o.pickup.lat, lng=o.pickup.lng),
            dropoff=PointOut(lat=o.dropoff.lat, lng=o.dropoff.lng),
            priority=o.priority,
            service_type=o.service_type.value,
            at_risk=o.at_risk,
            created_at=utc(o.created_at),
            reason=o.reason,
            external_ref=o.external_ref,
            notes=o.notes,
            quote_id=o.quote_id,
            arrived_at_pickup=to_time(o.arrived_pickup_at),
            arrived_at_dropoff=to_time(o.arrived_dropoff_at),
            delivered_at=to_time(o.delivered_at),
            proof_ref=o.proof_ref,
        )


class WindowOut(Out):
    start: datetime = Field(description="The window's start.")
    end: datetime = Field(description="The window's end.")


class JobOut(_WorkOut):
    id: str = Field(description="The job's id.")
    community_id: str = Field(description="The community it belongs to.")
    state: str = Field(
        description="pending, assigned, en_route, in_service, completed, cancelled or failed."
    )
    worker_id: str | None = Field(description="The technician it is assigned to, if any.")
    eta: datetime | None = Field(description="Planned arrival, once assigned.")
    due_by: datetime | None = Field(
        description="The latest arrival: the window's end or the emergency promise."
    )
    location: PointOut = Field(description="The resident's home.")
    skills: list[str] = Field(description="Skills the technician needs (all of them).")
    duration_min: float = Field(description="Expected time on site, in minutes.")
    window: WindowOut | None = Field(description="The booked appointment window, if any.")
    emergency: bool = Field(
        description="A property-management emergency, reached within the emergency SLA."
    )
    min_rating: float | None = Field(description="The lowest technician rating accepted, if any.")
    service_type: str = Field(description="What it is priced as.")
    price: PriceOut = Field(description="The locked price.")
    at_risk: bool = Field(description="Planned to arrive close to or past its due time.")
    created_at: datetime = Field(description="When it was accepted.")

    @classmethod
    def of(cls, j: Job) -> JobOut:
        window = None
        if j.window_start is not None and j.window_end is not None:
            window = WindowOut(start=utc(j.window_start), end=utc(j.window_end))
        return cls(
            id=j.id,
            community_id=j.community_id,
            state=j.state.value,
            worker_id=j.worker_id,
            eta=to_time(j.eta),
            due_by=to_time(j.due_by),
            location=PointOut(lat=j.location.lat, lng=j.location.lng),
            skills=sorted(j.skills),
            duration_min=round(j.duration_s / 60.0, 3),
            window=window,
            emergency=j.emergency,
            min_rating=j.min_rating,
            service_type=j.service_type.value,
            price=PriceOut.of(j.price),
            at_risk=j.at_risk,
            created_at=utc(j.created_at),
            reason=j.reason,
            external_ref=j.external_ref,
            notes=j.notes,
            quote_id=j.quote_id,
        )


class StopOut(Out):
    kind: str = Field(description="pickup, dropoff or job.")
    entity_id: str = Field(description="The order or job served there.")
    location: PointOut = Field(description="Where the stop is.")
    eta: datetime = Field(description="When service there is planned to start.")
    departs: datetime = Field(description="When the worker is planned to leave.")

    @classmethod
    def of(cls, s: PlannedStop) -> StopOut:
        return cls(
            kind=s.kind.value,
            entity_id=s.entity_id,
            location=PointOut(lat=float(s.location.lat), lng=float(s.location.lng)),
            eta=utc(s.eta),
            departs=utc(s.departs),
        )


class RouteOut(Out):
    worker_id: str = Field(description="The worker.")
    stops: list[StopOut] = Field(description="Its committed stops still to do, in order.")


class TickOut(Out):
    """What one dispatch tick did."""

    assigned: int = Field(description="Work newly assigned or moved to another worker.")
    unassigned: int = Field(description="Open work left without a worker.")
    solve_ms: float = Field(description="Wall time of the tick: build, solve and commit.")
    plan_version: int = Field(description="The community's plan version after the tick.")
    fallback: bool = Field(description="The regret-insertion plan was used (optimiser too slow).")
    at_risk: int = Field(description="Work planned to arrive close to or past its promise.")
    skipped: bool = Field(description="Another dispatcher holds the community's lease.")
    retries: int = Field(description="Version races lost to concurrent writes before the commit.")

    @classmethod
    def of(cls, t: TickResult) -> TickOut:
        return cls(
            assigned=t.assigned,
            unassigned=t.unassigned,
            solve_ms=round(t.solve_ms, 1),
            plan_version=t.plan_version,
            fallback=t.fallback,
            at_risk=t.at_risk,
            skipped=t.skipped,
            retries=t.retries,
        )


class EventOut(Out):
    seq: int = Field(description="Global sequence number, strictly increasing.")
    ts: datetime = Field(description="When it happened.")
    community_id: str = Field(description="The community it concerns (* for global events).")
    type: str = Field(description="What happened, e.g. order.assigned or alert.raised.")
    entity_id: str = Field(
        description="The order, job, worker, community or alert kind it concerns."
    )
    data: dict[str, Any] = Field(description="A compact payload: state, worker, at-risk flag, ...")

    @classmethod
    def of(cls, e: Event) -> EventOut:
        return cls(
            seq=e.seq,
            ts=utc(e.ts),
            community_id=e.community_id,
            type=e.type,
            entity_id=e.entity_id,
            data=dict(e.data),
        )


class EventsOut(Out):
    events: list[EventOut] = Field(description="The events after `after`, oldest first.")
    last_seq: int = Field(
        description="The last seq returned (or `after`): pass it as `after` next."
    )


class SurgeCellOut(Out):
    cell: str = Field(description="H3 cell index in hex.")
    demand: float = Field(description="Demand counted over its k-ring.")
    supply: float = Field(description="Supply counted over its k-ring.")
    ratio: float = Field(description="Demand over supply now.")
    smoothed_ratio: float = Field(description="The ratio smoothed over time.")
    multiplier: dict[str, float] = Field(description="The multiplier of each service type.")


class SurgeOut(Out):
    community_id: str = Field(description="The community.")
    rule_version: int = Field(description="The rule set that made the multipliers.")
    ts: datetime = Field(description="When the field was computed.")
    cells: list[SurgeCellOut] = Field(description="Its cells that are not neutral.")

    @classmethod
    def of(cls, snap: SurgeSnapshot) -> SurgeOut:
        cells = [
            SurgeCellOut(
                cell=format(c.cell, "x"),
                demand=c.demand,
                supply=c.supply,
                ratio=round(c.ratio, 4),
                smoothed_ratio=round(c.smoothed_ratio, 4),
                multiplier={str(k): v for k, v in c.multiplier.items()},
            )
            for c in snap.cells.values()
        ]
        return cls(
            community_id=snap.community_id,
            rule_version=snap.rule_version,
            ts=utc(snap.ts),
            cells=cells,
        )


class RulesOut(Out):
    """A surge rule set as the engine reads it; ``version`` 0 means not activated."""

    version: int = Field(description="The rule set's version (0: not activated).")
    rules: dict[str, Any] = Field(description="The rule set, as PUT takes it.")
    community_id: str | None = Field(
        default=None, description="The community whose own set this is (null: the global set)."
    )


class RulesPreviewOut(RulesOut):
    """A validated, not activated rule set beside the active one.

    ``surge``: the proposal's field on current demand; ``active`` and
    ``active_surge``: the set in force there and its field, computed the same way
    (no smoothing), so the two can be read side by side; ``changed``: the paths
    whose values differ.
    """

    surge: SurgeOut | None = Field(
        default=None, description="The proposal's field on current demand (with community_id)."
    )
    active: RulesOut | None = Field(default=None, description="The rule set in force there now.")
    active_surge: SurgeOut | None = Field(
        default=None, description="The active set's field, computed the same way."
    )
    changed: list[str] = Field(
        default_factory=list,
        description="Paths whose values differ between the proposal and the active set.",
    )


class Health(Out):
    status: str = Field(description="ok, ready, or why not.")
    dispatcher_age_s: float | None = Field(
        default=None,
        description="Seconds since a dispatcher last completed a step "
        "(None: no dispatcher seen yet).",
    )
