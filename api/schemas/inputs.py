"""Request bodies: strict, closed (``extra="forbid"``), and translated to engine requests."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, StrictBool

from api.schemas._common import Center, Id, In, Name, Point, Skill, Time, Whole, to_epoch
from dispatch.model import (
    Priority,
    ServiceType,
    Vehicle,
    WorkerKind,
    WorkerStatus,
)
from dispatch.requests import (
    CommunitySpec,
    JobRequest,
    LocationUpdate,
    OrderRequest,
    WorkerSpec,
)


class CommunityIn(In):
    name: Name
    center: Center
    radius_m: float = Field(strict=True, default=3000.0, ge=100, le=20_000)
    h3_resolution: Whole = Field(default=9, ge=6, le=11)
    delivery_sla_min: float = Field(strict=True, default=30.0, gt=0, le=24 * 60)
    emergency_sla_min: float = Field(strict=True, default=30.0, gt=0, le=24 * 60)
    dispatch_interval_s: float = Field(strict=True, default=10.0, ge=1, le=3600)
    solver_budget_s: float = Field(strict=True, default=2.0, gt=0, le=60)
    max_orders_per_trip: Whole = Field(default=3, ge=1, le=20)
    single_merchant_trips: StrictBool = False

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
        )


class WorkerIn(In):
    kind: WorkerKind
    community_id: Id
    vehicle: Vehicle = Vehicle.BICYCLE
    capacity: Whole = Field(default=3, ge=0, le=50)
    skills: list[Skill] = Field(default_factory=list, max_length=30)
    rating: float = Field(strict=True, default=5.0, ge=0, le=5)
    shift_end: Time | None = None
    status: WorkerStatus = WorkerStatus.AVAILABLE

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
            status=self.status,
        )


class LocationIn(In):
    lat: float = Field(strict=True, ge=-90, le=90)
    lng: float = Field(strict=True, ge=-180, le=180)
    ts: Time | None = None
    status: WorkerStatus | None = None

    def update(self, worker_id: str) -> LocationUpdate:
        return LocationUpdate(worker_id, self.lat, self.lng, to_epoch(self.ts), self.status)


class LocationItem(In):
    worker_id: Id
    lat: float = Field(strict=True)
    lng: float = Field(strict=True)
    ts: Time | None = None

    def update(self) -> LocationUpdate:
        return LocationUpdate(self.worker_id, self.lat, self.lng, to_epoch(self.ts))


class LocationBatchIn(In):
    updates: list[LocationItem] = Field(min_length=1, max_length=5000)


class OrderIn(In):
    community_id: Id
    pickup: Point
    dropoff: Point
    ready_at: Time | None = None
    size: Whole = Field(default=1, ge=1, le=10)
    priority: Priority = Priority.STANDARD
    service_type: Literal["grocery", "medicine", "takeout"] = "takeout"
    merchant_id: Id | None = None

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
        )


class Window(In):
    start: Time
    end: Time


class JobIn(In):
    community_id: Id
    location: Point
    skills: list[Skill] = Field(min_length=1, max_length=10)
    duration_min: float = Field(strict=True, gt=0, le=24 * 60)
    window: Window | None = None
    emergency: StrictBool = False
    min_rating: float | None = Field(strict=True, default=None, ge=0, le=5)
    service_type: Literal["cleaning", "appliance_cleaning", "plumbing", "repair"] = "repair"

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
            service_type=ServiceType(self.service_type),
        )


class OrderEventIn(In):
    """What the courier reports about an order it carries."""

    type: Literal["picked_up", "delivered", "failed"]
    worker_id: Id


class JobEventIn(In):
    """What the technician reports about a job: set off, arrived, done, or failed."""

    type: Literal["started", "arrived", "completed", "failed"]
    worker_id: Id
