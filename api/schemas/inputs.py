"""Request bodies: strict, closed (``extra="forbid"``), and translated to engine requests.

A community's defaults and limits are not repeated here: they come from
``dispatch.community`` (``community_default`` and ``COMMUNITY_LIMITS``), so the
API, scenario files and code share one specification and OpenAPI shows it.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, StrictBool

from api.schemas._common import (
    Center,
    ExternalRef,
    Id,
    In,
    Name,
    Notes,
    Point,
    Skill,
    Time,
    Whole,
    to_epoch,
)
from dispatch.community import COMMUNITY_LIMITS, CommunitySpec, community_default
from dispatch.model import (
    Priority,
    ServiceType,
    Vehicle,
    WorkerKind,
    WorkerStatus,
)
from dispatch.requests import (
    JobRequest,
    LocationUpdate,
    OrderRequest,
    WorkerSpec,
)

#: Statuses a worker or its app reports; ``retired`` comes from retiring the worker only.
ReportedStatus = Literal["offline", "available", "busy", "on_break"]
ProofRef = Annotated[str, Field(min_length=1, max_length=256, pattern=r"^[\x20-\x7e]+$")]


def _spec_field(name: str, description: str, *, strict: bool = True) -> Any:
    """A ``CommunitySpec`` field at the edge: its default and limits from the one spec."""
    bounds: dict[str, Any] = COMMUNITY_LIMITS[name].pydantic()
    return Field(default=community_default(name), description=description, strict=strict, **bounds)


class CommunityIn(In):
    """A community: where it is, its grid, its promises and its dispatch rhythm."""

    name: Name = Field(description="A name for people.")
    center: Center = Field(description="The centre of the geofence.")
    radius_m: float = _spec_field("radius_m", "Radius of the geofence around the centre, metres.")
    h3_resolution: Whole = _spec_field(
        "h3_resolution", "H3 resolution of the grid workers and surge live on.", strict=False
    )
    delivery_sla_min: float = _spec_field("delivery_sla_min", "The delivery promise, minutes.")
    emergency_sla_min: float = _spec_field(
        "emergency_sla_min", "How soon an emergency job is answered, minutes."
    )
    dispatch_interval_s: float = _spec_field(
        "dispatch_interval_s", "Seconds between two dispatch ticks (the batching window)."
    )
    solver_budget_s: float = _spec_field(
        "solver_budget_s", "Wall time one tick may spend building, solving and committing."
    )
    max_orders_per_trip: Whole = _spec_field(
        "max_orders_per_trip", "Most orders one courier carries on a trip.", strict=False
    )
    single_merchant_trips: StrictBool = Field(
        default=community_default("single_merchant_trips"),
        description="A trip picks up at one merchant only.",
    )
    skills: list[Skill] | None = Field(
        default=None,
        min_length=1,
        max_length=100,
        description="The skills catalogue jobs and technicians may name (default: the "
        "community's current one, or the product's home services for a new community).",
    )

    def spec(self, community_id: str) -> CommunitySpec:
        return CommunitySpec(
            id=community_id,
            name=self.name,
            center=self.center.model(),
            radius_m=self.radius_m,
            h3_resolution=self.h3_resolution,
            delivery_sla_min=self.delivery_sla_min,
            emergency_sla_min=self.emergency_sla_min,
            dispatch_interval_s=self.dispatch_interval_s,
            solver_budget_s=self.solver_budget_s,
            max_orders_per_trip=self.max_orders_per_trip,
            single_merchant_trips=self.single_merchant_trips,
            skills=None if self.skills is None else frozenset(self.skills),
        )


class WorkerIn(In):
    """A courier or a technician of one community."""

    kind: WorkerKind = Field(description="courier or technician.")
    community_id: Id = Field(description="The community the worker serves.")
    vehicle: Vehicle = Field(default=Vehicle.BICYCLE, description="How the worker travels.")
    capacity: Whole = Field(default=3, ge=0, le=50, description="Order size units carried.")
    skills: list[Skill] = Field(
        default_factory=list, max_length=30, description="Job skills (technicians)."
    )
    rating: float = Field(
        strict=True, default=5.0, ge=0, le=5, description="Rating, for jobs' rating floors."
    )
    shift_end: Time | None = Field(default=None, description="No work planned past this time.")
    status: ReportedStatus = Field(default="available", description="Availability.")

    def spec(self, worker_id: str) -> WorkerSpec:
        return WorkerSpec(
            id=worker_id,
            kind=self.kind,
            community_id=self.community_id,
            vehicle=self.vehicle,
            capacity=self.capacity,
            skills=frozenset(self.skills),
            rating=self.rating,
            shift_end=to_epoch(self.shift_end),
            status=WorkerStatus(self.status),
        )


class LocationIn(In):
    """One position fix of the calling worker."""

    lat: float = Field(strict=True, ge=-90, le=90, description="Latitude, degrees.")
    lng: float = Field(strict=True, ge=-180, le=180, description="Longitude, degrees.")
    ts: Time | None = Field(default=None, description="When the fix was taken (default: now).")
    status: ReportedStatus | None = Field(default=None, description="A new availability, if any.")

    def update(self, worker_id: str) -> LocationUpdate:
        status = None if self.status is None else WorkerStatus(self.status)
        return LocationUpdate(worker_id, self.lat, self.lng, to_epoch(self.ts), status)


class LocationItem(In):
    """One fix in a batch (checked one by one: a bad item does not spoil the others)."""

    worker_id: Id = Field(description="Whose fix it is.")
    lat: float = Field(strict=True, description="Latitude, degrees.")
    lng: float = Field(strict=True, description="Longitude, degrees.")
    ts: Time | None = Field(default=None, description="When the fix was taken (default: now).")

    def update(self) -> LocationUpdate:
        return LocationUpdate(self.worker_id, self.lat, self.lng, to_epoch(self.ts))


class LocationBatchIn(In):
    updates: list[LocationItem] = Field(
        min_length=1, max_length=5000, description="Position fixes of several workers."
    )


class OrderIn(In):
    """A delivery from a merchant to a resident."""

    community_id: Id = Field(description="The community both points lie in.")
    pickup: Point = Field(description="Where the courier collects the order.")
    dropoff: Point = Field(description="Where the courier delivers it.")
    ready_at: Time | None = Field(
        default=None, description="When it can be collected (default: now)."
    )
    size: Whole = Field(default=1, ge=1, le=10, description="Capacity units it takes.")
    priority: Priority = Field(
        default=Priority.STANDARD, description="Member tier: higher tiers weigh lateness more."
    )
    service_type: Literal["grocery", "medicine", "takeout"] = Field(
        default="takeout", description="Priced by this service's surge curve."
    )
    merchant_id: Id | None = Field(default=None, description="The merchant, for trip rules.")
    external_ref: ExternalRef | None = Field(
        default=None, description="The order service's own reference (listing filters on it)."
    )
    notes: Notes | None = Field(default=None, description="For the courier: gate code, floor.")
    quote_id: Id | None = Field(
        default=None,
        description="Charge this quote's held price (409 expired or used, 422 unknown or "
        "not this request).",
    )

    def request(self) -> OrderRequest:
        return OrderRequest(
            community_id=self.community_id,
            pickup=self.pickup.model(),
            dropoff=self.dropoff.model(),
            ready_at=to_epoch(self.ready_at),
            size=self.size,
            priority=self.priority,
            service_type=ServiceType(self.service_type),
            merchant_id=self.merchant_id,
            external_ref=self.external_ref,
            notes=self.notes,
            quote_id=self.quote_id,
        )


class Window(In):
    """An appointment window."""

    start: Time = Field(description="Earliest arrival.")
    end: Time = Field(description="Latest arrival.")


class JobIn(In):
    """A home-service job for a technician."""

    community_id: Id = Field(description="The community the job lies in.")
    location: Point = Field(description="Where the job is done.")
    skills: list[Skill] = Field(
        min_length=1, max_length=10, description="Skills the technician needs, all of them."
    )
    duration_min: float = Field(strict=True, gt=0, le=24 * 60, description="Time on site.")
    window: Window | None = Field(default=None, description="The appointment window, if any.")
    emergency: StrictBool = Field(
        default=False, description="A property-management emergency (answered first)."
    )
    min_rating: float | None = Field(
        strict=True, default=None, ge=0, le=5, description="Lowest technician rating accepted."
    )
    service_type: Literal["cleaning", "appliance_cleaning", "plumbing", "repair"] | None = Field(
        default=None,
        description="Priced by this service's surge curve (default: follows the skills).",
    )
    external_ref: ExternalRef | None = Field(
        default=None, description="The order service's own reference (listing filters on it)."
    )
    notes: Notes | None = Field(default=None, description="For the technician.")
    quote_id: Id | None = Field(
        default=None,
        description="Charge this quote's held price (409 expired or used, 422 unknown or "
        "not this request).",
    )

    def request(self) -> JobRequest:
        return JobRequest(
            community_id=self.community_id,
            location=self.location.model(),
            skills=frozenset(self.skills),
            duration_min=self.duration_min,
            window_start=to_epoch(self.window.start) if self.window else None,
            window_end=to_epoch(self.window.end) if self.window else None,
            emergency=self.emergency,
            min_rating=self.min_rating,
            service_type=None if self.service_type is None else ServiceType(self.service_type),
            external_ref=self.external_ref,
            notes=self.notes,
            quote_id=self.quote_id,
        )


class OrderEventIn(In):
    """What the courier reports about an order it carries (arrivals change no state)."""

    type: Literal["arrived_at_pickup", "picked_up", "arrived_at_dropoff", "delivered", "failed"] = (
        Field(description="What happened.")
    )
    worker_id: Id = Field(description="The courier reporting it.")
    proof_ref: ProofRef | None = Field(
        default=None,
        description="With delivered: a reference to the proof of delivery (a photo or "
        "signature the app stored), kept on the order.",
    )


class ReadyIn(In):
    """The kitchen's word on an order's food, before pickup."""

    ready_at: Time | None = Field(
        default=None,
        description="When the food will be ready, as the kitchen now knows it (between an "
        "hour ago and a week ahead); left out: it is ready now.",
    )

    def ready_epoch(self) -> float | None:
        return to_epoch(self.ready_at)


class JobEventIn(In):
    """What the technician reports about a job: set off, arrived, done, or failed."""

    type: Literal["started", "arrived", "completed", "failed"] = Field(description="What happened.")
    worker_id: Id = Field(description="The technician reporting it.")
