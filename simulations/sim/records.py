"""What a run leaves behind: per-order and per-job outcomes, quotes, ticks, samples.

Times are seconds after the simulation's start; ``None`` means "did not happen".
Outcomes are read back from the engine at the end of the run, so the engine
stays the single source of truth for states.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from dispatch.model import LatLng
from simulations.mdrp.solution import Move, Trip
from simulations.sim.agents import Agent
from simulations.sim.world import World


@dataclass
class OrderRecord:
    id: str
    arrival: int  # index into World.orders
    created_s: float
    ready_s: float  # when the merchant really had it ready
    promised_s: float
    multiplier: float
    service: str
    merchant: str
    pickup: LatLng
    dropoff: LatLng
    ref: str | None = None
    fee: float = 0.0  # the delivery fee locked at order time (base × multiplier)
    value: float = 0.0  # the basket's value
    priority: str = "standard"  # member tier
    state: str = "pending"
    worker: str | None = None
    assigned_s: float | None = None
    picked_s: float | None = None
    delivered_s: float | None = None
    closed_s: float | None = None

    @property
    def click_to_door_s(self) -> float | None:
        return None if self.delivered_s is None else self.delivered_s - self.created_s

    @property
    def on_time(self) -> bool:
        return self.delivered_s is not None and self.delivered_s <= self.promised_s + 1e-6


@dataclass
class JobRecord:
    id: str
    created_s: float
    skill: str
    emergency: bool
    window: tuple[float, float] | None
    due_s: float | None
    multiplier: float
    state: str = "pending"
    worker: str | None = None
    started_s: float | None = None
    arrived_s: float | None = None
    completed_s: float | None = None
    closed_s: float | None = None


@dataclass(frozen=True)
class QuoteRecord:
    t_s: float
    kind: str  # "order" | "job"
    multiplier: float
    accepted: bool
    cell: int


@dataclass(frozen=True)
class TickRecord:
    t_s: float
    solve_ms: float
    assigned: int
    unassigned: int
    fallback: bool


@dataclass(frozen=True)
class Sample:
    """The state of the community at one moment, for the report's time series."""

    t_s: float
    open_orders: int
    unassigned: int
    couriers_on: int
    couriers_idle: int
    technicians_on: int
    created: int  # orders created since the previous sample
    delivered: int  # orders delivered since the previous sample
    delivered_on_time: int
    quote_multiplier: float | None  # mean multiplier quoted since the previous sample
    cell_multiplier_mean: float  # mean takeout multiplier over the community's busy cells
    cell_multiplier_max: float


@dataclass
class SimulationResult:
    """A finished run: the world, the switches, and everything recorded."""

    world: World
    policy: str
    surge: bool
    seed: int
    orders: list[OrderRecord]
    jobs: list[JobRecord]
    quotes: list[QuoteRecord]
    ticks: list[TickRecord]
    samples: list[Sample]
    agents: list[Agent]
    trips: list[Trip]
    moves: list[Move]
    cell_demand: dict[int, int]
    cell_multiplier: dict[int, tuple[float, int]]  # cell → (sum of multipliers, samples)
    events: list[dict[str, Any]]
    end_s: float
    wall_s: float
    ticks_skipped: int = 0
    conflicts: int = 0
    trip_rule_overrides: int = 0  # MDRP: times the plan's next stop broke the trip rule
    rule_version: int = 0
    rules: dict[str, Any] = field(default_factory=dict)  # name, hash, version of the rule set
    notes: list[str] = field(default_factory=list)
