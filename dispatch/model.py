"""Domain records of the engine: communities, workers, orders, jobs, plans, events.

Records are frozen dataclasses; the engine changes state by storing a new
record (``dataclasses.replace``) with a bumped ``version``. Times are float
seconds since the Unix epoch (UTC); distances are metres. ``to_dict`` /
``from_dict`` give a JSON-safe form used by the stores and the event feed.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

# ---- enums ------------------------------------------------------------------


class WorkerKind(enum.StrEnum):
    COURIER = "courier"
    TECHNICIAN = "technician"


class WorkerStatus(enum.StrEnum):
    OFFLINE = "offline"
    AVAILABLE = "available"
    BUSY = "busy"
    ON_BREAK = "on_break"
    RETIRED = "retired"  # set by retiring the worker, never reported (dispatch.retire)


class Vehicle(enum.StrEnum):
    """Travel profiles known to geo.travel.PROFILES."""

    WALK = "walk"
    BICYCLE = "bicycle"
    SCOOTER = "scooter"
    CAR = "car"


class ServiceType(enum.StrEnum):
    """What an order or job is; surge rules are written per service type."""

    GROCERY = "grocery"
    MEDICINE = "medicine"
    TAKEOUT = "takeout"
    CLEANING = "cleaning"
    APPLIANCE_CLEANING = "appliance_cleaning"
    PLUMBING = "plumbing"
    REPAIR = "repair"


DELIVERY_SERVICES = frozenset({ServiceType.GROCERY, ServiceType.MEDICINE, ServiceType.TAKEOUT})
TECHNICIAN_SERVICES = frozenset(set(ServiceType) - DELIVERY_SERVICES)


class Priority(enum.StrEnum):
    """Member tiers: higher tiers weigh lateness more."""

    STANDARD = "standard"
    SILVER = "silver"
    GOLD = "gold"
    DIAMOND = "diamond"


#: Lateness weight per tier (cost units per second late, relative).
PRIORITY_WEIGHT: Mapping[Priority, int] = {
    Priority.STANDARD: 1,
    Priority.SILVER: 2,
    Priority.GOLD: 3,
    Priority.DIAMOND: 5,
}


class OrderState(enum.StrEnum):
    PENDING = "pending"
    ASSIGNED = "assigned"
    PICKED_UP = "picked_up"
    DELIVERED = "delivered"
    CANCELLED = "cancelled"
    FAILED = "failed"


class JobState(enum.StrEnum):
    PENDING = "pending"
    ASSIGNED = "assigned"
    EN_ROUTE = "en_route"
    IN_SERVICE = "in_service"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    FAILED = "failed"


ORDER_TERMINAL = frozenset({OrderState.DELIVERED, OrderState.CANCELLED, OrderState.FAILED})
JOB_TERMINAL = frozenset({JobState.COMPLETED, JobState.CANCELLED, JobState.FAILED})


class StopKind(enum.StrEnum):
    PICKUP = "pickup"
    DROPOFF = "dropoff"
    JOB = "job"


#: The home services the product offers, by skill: a community's default catalogue.
SKILL_SERVICE: Mapping[str, ServiceType] = {
    "cleaning": ServiceType.CLEANING,
    "deep_cleaning": ServiceType.CLEANING,
    "appliance_cleaning": ServiceType.APPLIANCE_CLEANING,
    "ac_cleaning": ServiceType.APPLIANCE_CLEANING,
    "plumbing": ServiceType.PLUMBING,
    "drain_unblocking": ServiceType.PLUMBING,
    "repair": ServiceType.REPAIR,
    "electrical": ServiceType.REPAIR,
    "appliance_repair": ServiceType.REPAIR,
    "locksmith": ServiceType.REPAIR,
    "handyman": ServiceType.REPAIR,
}
DEFAULT_SKILLS: frozenset[str] = frozenset(SKILL_SERVICE)


def service_for_skills(skills: frozenset[str]) -> ServiceType:
    """The service a job needing ``skills`` is priced as: the most specific service
    among its skills (cleaning, appliance cleaning and plumbing before repair)."""
    kinds = {SKILL_SERVICE.get(s, ServiceType.REPAIR) for s in skills}
    for kind in (ServiceType.PLUMBING, ServiceType.APPLIANCE_CLEANING, ServiceType.CLEANING):
        if kind in kinds:
            return kind
    return ServiceType.REPAIR


# ---- value records ------------------------------------------------------------


@dataclass(frozen=True)
class LatLng:
    lat: float
    lng: float


@dataclass(frozen=True)
class Price:
    """A locked price: what the customer was quoted and accepted."""

    base: float
    multiplier: float
    total: float
    rule_version: int
    currency: str = "CNY"


# ---- entities -----------------------------------------------------------------


@dataclass(frozen=True)
class Community:
    id: str
    name: str
    center: LatLng
    radius_m: float = 3000.0
    h3_resolution: int = 9
    delivery_sla_s: float = 1800.0
    emergency_sla_s: float = 1800.0
    dispatch_interval_s: float = 10.0
    solver_budget_s: float = 2.0
    max_orders_per_trip: int = 3  # bundling rule: most orders on one courier at once
    single_merchant_trips: bool = False  # bundling rule: a trip's orders share one merchant
    skills: frozenset[str] = DEFAULT_SKILLS  # the skills catalogue jobs and technicians use
    cell_count: int = 0
    retired_at: float | None = None  # takes no new work (dispatch.retire)
    version: int = 1

    def orders_per_trip(self, courier_capacity: int) -> int:
        """Most orders a courier of this capacity carries at once here (the bundling rule)."""
        return min(courier_capacity, self.max_orders_per_trip)


@dataclass(frozen=True)
class Worker:
    id: str
    kind: WorkerKind
    community_id: str
    vehicle: Vehicle = Vehicle.BICYCLE
    capacity: int = 3
    skills: frozenset[str] = frozenset()
    rating: float = 5.0
    shift_end: float | None = None
    status: WorkerStatus = WorkerStatus.AVAILABLE
    position: LatLng | None = None
    position_ts: float | None = None
    cell: int | None = None
    version: int = 1


@dataclass(frozen=True)
class Order:
    """An instant delivery from a merchant to a resident."""

    id: str
    community_id: str
    pickup: LatLng
    dropoff: LatLng
    created_at: float
    ready_at: float
    promised_by: float
    price: Price
    service_type: ServiceType = ServiceType.TAKEOUT
    merchant_id: str | None = None
    size: int = 1
    priority: Priority = Priority.STANDARD
    state: OrderState = OrderState.PENDING
    worker_id: str | None = None
    assigned_at: float | None = None
    picked_up_at: float | None = None
    delivered_at: float | None = None
    closed_at: float | None = None  # cancelled or failed
    eta_pickup: float | None = None
    eta_dropoff: float | None = None
    at_risk: bool = False
    reason: str | None = None  # why it waits or is at risk (dispatch.reasons.Reason)
    external_ref: str | None = None  # the order service's own reference
    notes: str | None = None
    quote_id: str | None = None  # the held quote it was charged (dispatch.quotes)
    arrived_pickup_at: float | None = None  # the courier reported arriving at the merchant
    arrived_dropoff_at: float | None = None  # ... and at the door
    late_food_ready_at: float | None = None  # when the tick last expected late food out
    proof_ref: str | None = None  # proof of delivery (a photo or signature reference)
    version: int = 1


@dataclass(frozen=True)
class Job:
    """A technician visit at a resident's home."""

    id: str
    community_id: str
    location: LatLng
    skills: frozenset[str]
    duration_s: float
    created_at: float
    price: Price
    service_type: ServiceType = ServiceType.REPAIR
    window_start: float | None = None
    window_end: float | None = None
    emergency: bool = False
    min_rating: float | None = None
    due_by: float | None = None  # window end, or created_at + emergency SLA
    state: JobState = JobState.PENDING
    worker_id: str | None = None
    assigned_at: float | None = None
    started_at: float | None = None  # en route
    arrived_at: float | None = None  # in service
    completed_at: float | None = None
    closed_at: float | None = None
    eta: float | None = None
    at_risk: bool = False
    reason: str | None = None  # why it waits or is at risk (dispatch.reasons.Reason)
    external_ref: str | None = None  # the order service's own reference
    notes: str | None = None
    quote_id: str | None = None  # the held quote it was charged (dispatch.quotes)
    version: int = 1


@dataclass(frozen=True)
class PlannedStop:
    kind: StopKind
    entity_id: str  # order id or job id
    location: LatLng
    eta: float  # when service is planned to start
    departs: float


@dataclass(frozen=True)
class Plan:
    """The committed routes of one community; version guards concurrent commits."""

    community_id: str
    version: int
    created_at: float
    routes: Mapping[str, tuple[PlannedStop, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class Event:
    """One state change; seq is global and strictly increasing per store."""

    seq: int
    ts: float
    community_id: str
    type: str  # e.g. "order.created", "order.assigned", "job.completed", "plan.committed"
    entity_id: str
    data: Mapping[str, Any] = field(default_factory=dict)


# ---- JSON codec -----------------------------------------------------------------

T = TypeVar("T")

_NESTED: dict[str, type] = {
    "center": LatLng,
    "position": LatLng,
    "pickup": LatLng,
    "dropoff": LatLng,
    "location": LatLng,
    "price": Price,
}


_FIELD_NAMES: dict[type, tuple[str, ...]] = {}
_PRIMITIVES = (str, int, float, bool, type(None))


def _names(cls: type) -> tuple[str, ...]:
    names = _FIELD_NAMES.get(cls)
    if names is None:
        names = tuple(f.name for f in dataclasses.fields(cls))
        _FIELD_NAMES[cls] = names
    return names


def to_dict(record: Any) -> dict[str, Any]:
    """A JSON-safe dict of a record (frozensets become sorted lists)."""
    return {name: _encode(getattr(record, name)) for name in _names(type(record))}


def _encode(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, _PRIMITIVES):
        return value
    if isinstance(value, enum.Enum):
        return value.value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return to_dict(value)
    if isinstance(value, frozenset | set):
        return sorted(_encode(v) for v in value)
    if isinstance(value, tuple | list):
        return [_encode(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _encode(v) for k, v in value.items()}
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    return value


def from_dict(cls: type[T], data: Mapping[str, Any]) -> T:
    """Rebuild a record written by ``to_dict``."""
    names = _names(cls)
    kwargs = {name: _decode(cls, name, data[name]) for name in names if name in data}
    return cls(**kwargs)


_ENUM_FIELDS: dict[tuple[str, str], type[enum.Enum]] = {
    ("Worker", "kind"): WorkerKind,
    ("Worker", "status"): WorkerStatus,
    ("Worker", "vehicle"): Vehicle,
    ("Order", "service_type"): ServiceType,
    ("Order", "priority"): Priority,
    ("Order", "state"): OrderState,
    ("Job", "service_type"): ServiceType,
    ("Job", "state"): JobState,
    ("PlannedStop", "kind"): StopKind,
}


def _decode(cls: type, name: str, value: Any) -> Any:
    if value is None:
        return None
    enum_cls = _ENUM_FIELDS.get((cls.__name__, name))
    if enum_cls is not None:
        return enum_cls(value)
    if name in _NESTED and isinstance(value, Mapping):
        return from_dict(_NESTED[name], value)
    if name == "skills":
        return frozenset(value)
    if cls is Plan and name == "routes":
        return {
            wid: tuple(from_dict(PlannedStop, s) for s in stops) for wid, stops in value.items()
        }
    return value


# ---- fast codec for the location hot path ---------------------------------------------


def worker_to_dict(w: Worker) -> dict[str, Any]:
    """``to_dict`` for workers without reflection (location batches write thousands)."""
    pos = w.position
    return {
        "id": w.id,
        "kind": w.kind.value,
        "community_id": w.community_id,
        "vehicle": w.vehicle.value,
        "capacity": w.capacity,
        "skills": sorted(w.skills),
        "rating": w.rating,
        "shift_end": w.shift_end,
        "status": w.status.value,
        "position": None if pos is None else {"lat": float(pos.lat), "lng": float(pos.lng)},
        "position_ts": w.position_ts,
        "cell": w.cell,
        "version": w.version,
    }


def worker_from_dict(d: Mapping[str, Any]) -> Worker:
    """Inverse of ``worker_to_dict``."""
    pos = d.get("position")
    return Worker(
        id=d["id"],
        kind=WorkerKind(d["kind"]),
        community_id=d["community_id"],
        vehicle=Vehicle(d.get("vehicle", "bicycle")),
        capacity=d.get("capacity", 3),
        skills=frozenset(d.get("skills", ())),
        rating=d.get("rating", 5.0),
        shift_end=d.get("shift_end"),
        status=WorkerStatus(d.get("status", "available")),
        position=None if pos is None else LatLng(pos["lat"], pos["lng"]),
        position_ts=d.get("position_ts"),
        cell=d.get("cell"),
        version=d.get("version", 1),
    )
