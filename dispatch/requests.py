"""What callers hand to the engine: plain, already-typed requests.

The API builds these from validated pydantic bodies; the simulator builds them
directly. The engine validates the domain rules (geofence, skills, ranges)
and raises ``InvalidInput`` / ``OutsideGeofence`` with clear messages.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from dispatch.community import CommunitySpec
from dispatch.model import (
    LatLng,
    Priority,
    ServiceType,
    Vehicle,
    WorkerKind,
    WorkerStatus,
)

__all__ = [
    "CommunitySpec",
    "JobRequest",
    "LocationBatchResult",
    "LocationUpdate",
    "OrderRequest",
    "Quote",
    "TickResult",
    "WorkerSpec",
]


@dataclass(frozen=True)
class WorkerSpec:
    id: str
    kind: WorkerKind
    community_id: str
    vehicle: Vehicle = Vehicle.BICYCLE
    capacity: int = 3
    skills: frozenset[str] = frozenset()
    rating: float = 5.0
    shift_end: float | None = None
    status: WorkerStatus = WorkerStatus.AVAILABLE


@dataclass(frozen=True)
class LocationUpdate:
    worker_id: str
    lat: float
    lng: float
    ts: float | None = None  # None: now
    status: WorkerStatus | None = None  # None: unchanged


@dataclass(frozen=True)
class LocationBatchResult:
    accepted: int
    errors: tuple[tuple[int, str, str], ...]  # (index in batch, worker id, message)


@dataclass(frozen=True)
class OrderRequest:
    community_id: str
    pickup: LatLng
    dropoff: LatLng
    ready_at: float | None = None  # None: now
    size: int = 1
    priority: Priority = Priority.STANDARD
    service_type: ServiceType = ServiceType.TAKEOUT
    merchant_id: str | None = None
    external_ref: str | None = None  # the order service's own reference, for listing
    notes: str | None = None  # for the courier (gate code, floor)
    quote_id: str | None = None  # charge this held quote's price (dispatch.quotes)


@dataclass(frozen=True)
class JobRequest:
    community_id: str
    location: LatLng
    skills: frozenset[str]
    duration_min: float
    window_start: float | None = None
    window_end: float | None = None
    emergency: bool = False
    min_rating: float | None = None
    service_type: ServiceType | None = None  # None: follows the skills (model.service_for_skills)
    external_ref: str | None = None
    notes: str | None = None
    quote_id: str | None = None  # charge this held quote's price (dispatch.quotes)


@dataclass(frozen=True)
class Quote:
    """A price offer with its reasons; with an ``id``, held until ``expires_at``
    for the order or job that names it (``dispatch.quotes``)."""

    eta_s: float
    base: float
    multiplier: float
    total: float
    rule_version: int
    explanation: Mapping[str, Any] = field(default_factory=dict)
    id: str | None = None
    expires_at: float | None = None
    currency: str = "CNY"
    kind: str = "order"  # or "job"


@dataclass(frozen=True)
class TickResult:
    community_id: str
    assigned: int  # work items newly assigned or moved to another worker this tick
    unassigned: int  # open work items left without a worker
    solve_ms: float
    plan_version: int
    fallback: bool  # the regret-insertion plan was used: the optimiser had nothing better in time
    at_risk: int = 0
    skipped: bool = False  # another dispatcher holds the community's lease
    retries: int = 0  # version races lost to concurrent writes before this commit
