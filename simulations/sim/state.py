"""What the event handlers work on: the state of one run, handed to them explicitly.

``Simulation`` builds one ``SimState`` and passes it to the event handlers
(``simulations.sim._handlers``) and to what workers do (``simulations.sim._workers``).
They reach the world, the engine and the clock through it, schedule events on
its queue and write what happened into its records and tallies; neither module
knows the simulator, which only runs the loop and collects the result.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import geo
from dispatch.clock import ManualClock
from dispatch.engine import Engine
from dispatch.errors import Conflict
from dispatch.model import Community
from dispatch.policies import DispatchPolicy
from simulations.mdrp.solution import Move, Trip
from simulations.sim._events import EventQueue
from simulations.sim.agents import Agent
from simulations.sim.records import JobRecord, OrderRecord, QuoteRecord, Sample, TickRecord
from simulations.sim.world import World

log = logging.getLogger(__name__)


@dataclass
class Records:
    """Everything the run leaves behind besides the engine's own state."""

    orders: dict[str, OrderRecord] = field(default_factory=dict)
    by_arrival: dict[int, str] = field(default_factory=dict)  # World.orders index → order id
    jobs: dict[str, JobRecord] = field(default_factory=dict)
    quotes: list[QuoteRecord] = field(default_factory=list)
    ticks: list[TickRecord] = field(default_factory=list)
    samples: list[Sample] = field(default_factory=list)
    trips: list[Trip] = field(default_factory=list)
    moves: list[Move] = field(default_factory=list)
    cell_demand: dict[int, int] = field(default_factory=dict)
    cell_multiplier: dict[int, tuple[float, int]] = field(default_factory=dict)
    trip_rule_flags: set[tuple[str, float]] = field(default_factory=set)  # (courier, pickup)


@dataclass
class Tallies:
    """Counters of the run, and whether anything changed since the last tick."""

    dirty: bool = True  # work or workers changed since the last tick
    last_unassigned: int = 0
    ticks_skipped: int = 0
    conflicts: int = 0


@dataclass
class Window:
    """What happened since the previous sample (the report's time series)."""

    created: int = 0
    delivered: int = 0
    on_time: int = 0
    multiplier_sum: float = 0.0
    quotes: int = 0


@dataclass
class SimState:
    """One run's world, engine, clock, policy, agents, event queue, records and tallies."""

    world: World
    engine: Engine
    clock: ManualClock
    community: Community
    policy: DispatchPolicy
    agents: dict[str, Agent]
    queue: EventQueue = field(default_factory=EventQueue)
    records: Records = field(default_factory=Records)
    tallies: Tallies = field(default_factory=Tallies)
    window: Window = field(default_factory=Window)

    @property
    def cid(self) -> str:
        return self.community.id

    def now_s(self) -> float:
        """Seconds since the simulation's start."""
        return self.clock.now() - self.world.t0

    def at(self, t_s: float, priority: int, kind: str, *data: Any) -> None:
        """Schedule an event at ``t_s`` seconds after the start."""
        self.queue.at(t_s, priority, kind, *data)

    def cell_of(self, lat: float, lng: float) -> int:
        return geo.cell_of(lat, lng, self.community.h3_resolution)

    def note_quote(self, kind: str, multiplier: float, accepted: bool, cell: int) -> None:
        self.records.quotes.append(QuoteRecord(self.now_s(), kind, multiplier, accepted, cell))
        self.window.multiplier_sum += multiplier
        self.window.quotes += 1
        if kind == "order":
            self.records.cell_demand[cell] = self.records.cell_demand.get(cell, 0) + 1

    def note_created(self) -> None:
        self.window.created += 1

    def note_delivery(self, rec: OrderRecord) -> None:
        self.window.delivered += 1
        self.window.on_time += int(rec.on_time)

    def conflict(self, what: str, exc: Conflict) -> None:
        """An engine refusal the simulated world ran into (counted, not fatal)."""
        self.tallies.conflicts += 1
        log.info("%s: %s", what, exc)
