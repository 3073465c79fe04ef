"""What a simulation runs on: a community, merchants, pre-drawn demand and supply.

A ``World`` is built once from a scenario (``simulations.sim.demand``) or from a
Grubhub MDRP instance (``simulations.sim.replay``) and holds every random draw, so
two policies run on the same world see exactly the same customers (common
random numbers) and a run depends only on the world and the engine.
Times inside are seconds after the simulation's start.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Protocol

import geo
from dispatch.community import CommunitySpec
from dispatch.model import LatLng, Priority, ServiceType, Vehicle, WorkerKind
from dispatch.settings import EngineSettings
from solver.routing import RoutingParams


@dataclass(frozen=True)
class Merchant:
    id: str
    location: LatLng
    service: ServiceType
    prep_s: float  # mean preparation time (what the merchant quotes)


@dataclass(frozen=True)
class OrderArrival:
    """One customer asking for a quote; ``accept_u`` decides against the price."""

    t: float
    merchant: int  # index into World.merchants
    dropoff: LatLng
    prep_estimate_s: float
    prep_actual_s: float
    service: ServiceType = ServiceType.TAKEOUT
    priority: Priority = Priority.STANDARD
    size: int = 1
    accept_u: float = 0.0  # accepted when accept_u < probability of accepting the quote
    cancel_after_s: float | None = None  # change of mind (before pickup)
    impatient: bool = False  # cancels if still without a courier after the patience
    ref: str | None = None  # external id (MDRP order id)
    value: float = 0.0  # the basket's value (goods, before the delivery fee)
    report_after_s: float | None = None  # the kitchen reports the real ready time this
    # long after the order (None: it never does)


@dataclass(frozen=True)
class JobArrival:
    t: float
    location: LatLng
    skill: str
    duration_s: float
    window: tuple[float, float] | None = None
    emergency: bool = False
    min_rating: float | None = None
    accept_u: float = 0.0
    cancel_after_s: float | None = None


@dataclass(frozen=True)
class WorkerPlan:
    """A courier or technician shift: who, how they move, when and where they start."""

    id: str
    kind: WorkerKind
    vehicle: Vehicle
    start_s: float
    end_s: float
    home: LatLng
    capacity: int = 3
    skills: frozenset[str] = frozenset()
    rating: float = 5.0
    ref: str | None = None  # external id (MDRP courier id)


class TravelModel(Protocol):
    """How agents move: seconds and metres between two points for a vehicle."""

    def seconds(self, vehicle: Vehicle, a: LatLng, b: LatLng) -> float: ...

    def metres(self, vehicle: Vehicle, a: LatLng, b: LatLng) -> float: ...


class ProfileTravel:
    """Straight lines at the travel profile's door-to-door speed (the engine's own model)."""

    def seconds(self, vehicle: Vehicle, a: LatLng, b: LatLng) -> float:
        return float(geo.eta_s(a.lat, a.lng, b.lat, b.lng, geo.profile(vehicle.value)))

    def metres(self, vehicle: Vehicle, a: LatLng, b: LatLng) -> float:
        d = float(geo.haversine_m(a.lat, a.lng, b.lat, b.lng))
        return d * geo.profile(vehicle.value).circuity


@dataclass(frozen=True)
class Behaviour:
    """Customer reactions and worker habits."""

    order_elasticity: float = 0.8
    job_elasticity: float = 0.4
    patience_s: float = 1200.0
    technician_lead_s: float = 300.0  # technicians leave this long before a window is due
    idle_return_m: float = 0.0  # an idle courier farther than this from every merchant rides
    # back to the nearest one, as riders wait near restaurants (0: it stays where it is)

    def accept_probability(self, multiplier: float, job: bool = False) -> float:
        e = self.job_elasticity if job else self.order_elasticity
        return math.exp(-e * max(0.0, multiplier - 1.0))


@dataclass(frozen=True)
class Economics:
    """Courier pay: ``courier_fee_share`` of each delivered order's fee plus
    ``courier_per_delivery`` per delivery (the earnings-per-hour KPI)."""

    courier_fee_share: float = 0.8
    courier_per_delivery: float = 2.0


@dataclass(frozen=True)
class World:
    """Everything one run needs besides the policy and the surge switch."""

    name: str
    community: CommunitySpec
    t0: float  # epoch seconds of the simulation's start
    horizon_s: float  # demand stops here
    end_s: float  # the run stops here at the latest
    merchants: tuple[Merchant, ...]
    orders: tuple[OrderArrival, ...]
    jobs: tuple[JobArrival, ...]
    workers: tuple[WorkerPlan, ...]
    settings: EngineSettings = field(default_factory=EngineSettings)
    routing: RoutingParams = field(default_factory=lambda: RoutingParams(use_vroom=False))
    travel: TravelModel = field(default_factory=ProfileTravel)
    matrix_provider: geo.MatrixProvider | None = None
    behaviour: Behaviour = field(default_factory=Behaviour)
    position_interval_s: float = 10.0
    sample_interval_s: float = 300.0
    start_hour: float = 0.0  # local hour at t0, for plots
    handover_s: float = 0.0  # part of the service before the hand-over (MDRP: half); the
    # engine is told it (EngineSettings.pickup_handover_s) unless its settings name one
    mdrp: bool = False  # MDRP rules: whole trips, no diversion, pickups before shift end
    tick_when_idle: bool = False
    labels: dict[str, str] = field(default_factory=dict)  # MDRP: merchant id → restaurant id
    economics: Economics = field(default_factory=Economics)
