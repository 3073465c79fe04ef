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
    id: str
    name: str
    center: PointOut
    radius_m: float
    h3_resolution: int
    delivery_sla_min: float
    emergency_sla_min: float
    dispatch_interval_s: float
    solver_budget_s: float
    max_orders_per_trip: int
    single_merchant_trips: bool
    skills: list[str] = Field(description="The skills catalogue jobs and technicians may name.")
    cell_count: int
    version: int
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
    id: str
    kind: WorkerKind
    community_id: str
    vehicle: Vehicle
    capacity: int
    skills: list[str]
    rating: float
    shift_end: datetime | None
    status: WorkerStatus
    position: PointOut | None
    position_ts: datetime | None
    cell: str | None

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
    index: int
    worker_id: str
    detail: str


class LocationBatchOut(Out):
    accepted: int
    errors: list[ItemError]


class PriceOut(Out):
    base: float
    multiplier: float
    total: float
    rule_version: int
    currency: str

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
    eta_min: float
    base: float
    multiplier: float
    total: float
    rule_version: int
    explanation: dict[str, Any]

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


class OrderOut(Out):
    id: str
    community_id: str
    state: str
    worker_id: str | None
    eta: datetime | None
    eta_pickup: datetime | None
    promised_by: datetime
    ready_at: datetime
    price: PriceOut
    pickup: PointOut
    dropoff: PointOut
    priority: Priority
    service_type: str
    at_risk: bool
    created_at: datetime
    reason: str | None = Field(
        default=None, description="Why it waits or is at risk (see README, Reasons)."
    )
    external_ref: str | None = Field(default=None, description="The order service's reference.")
    notes: str | None = Field(default=None, description="Notes for the worker.")
    quote_id: str | None = Field(default=None, description="The quote whose price it holds.")
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
    start: datetime
    end: datetime


class JobOut(Out):
    id: str
    community_id: str
    state: str
    worker_id: str | None
    eta: datetime | None
    due_by: datetime | None
    location: PointOut
    skills: list[str]
    duration_min: float
    window: WindowOut | None
    emergency: bool
    min_rating: float | None
    service_type: str
    price: PriceOut
    at_risk: bool
    created_at: datetime
    reason: str | None = Field(
        default=None, description="Why it waits or is at risk (see README, Reasons)."
    )
    external_ref: str | None = Field(default=None, description="The order service's reference.")
    notes: str | None = Field(default=None, description="Notes for the worker.")
    quote_id: str | None = Field(default=None, description="The quote whose price it holds.")

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
    kind: str
    entity_id: str
    location: PointOut
    eta: datetime
    departs: datetime

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
    worker_id: str
    stops: list[StopOut]


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
    seq: int
    ts: datetime
    community_id: str
    type: str
    entity_id: str
    data: dict[str, Any]

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
    events: list[EventOut]
    last_seq: int


class SurgeCellOut(Out):
    cell: str
    demand: float
    supply: float
    ratio: float
    smoothed_ratio: float
    multiplier: dict[str, float]


class SurgeOut(Out):
    community_id: str
    rule_version: int
    ts: datetime
    cells: list[SurgeCellOut]

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

    version: int
    rules: dict[str, Any]
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

    surge: SurgeOut | None = None
    active: RulesOut | None = None
    active_surge: SurgeOut | None = None
    changed: list[str] = Field(default_factory=list)


class Health(Out):
    status: str = Field(description="ok, ready, or why not.")
    dispatcher_age_s: float | None = Field(
        default=None,
        description="Seconds since a dispatcher last completed a step "
        "(None: no dispatcher seen yet).",
    )
