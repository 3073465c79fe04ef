"""Simulated workers: where they are, what they are doing, what they have done.

An agent moves in straight legs at its travel model's speed; its position at
any time is interpolated along the current leg. States:

- ``off``: not on shift (or done for the day); sends no positions.
- ``idle``: on shift with nothing to do.
- ``parked``: waiting to set off for a booked job (technicians leave just in time).
- ``moving``: on a leg towards its target stop.
- ``waiting``: at the target, waiting for the order to be ready or the window to open
  (interruptible: a new plan can send it elsewhere).
- ``service``: handing over, picking up or working on site (not interruptible).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from dispatch.model import LatLng, PlannedStop
from simulations.mdrp.solution import Trip
from simulations.sim.world import WorkerPlan


@dataclass(frozen=True)
class Leg:
    start: LatLng
    end: LatLng
    t0: float
    t1: float
    metres: float

    def position(self, t: float) -> LatLng:
        if self.t1 <= self.t0 or t >= self.t1:
            return self.end
        f = max(0.0, (t - self.t0) / (self.t1 - self.t0))
        return LatLng(
            self.start.lat + f * (self.end.lat - self.start.lat),
            self.start.lng + f * (self.end.lng - self.start.lng),
        )


@dataclass
class Agent:
    plan: WorkerPlan
    pos: LatLng
    state: str = "off"
    label: str = "0"  # named place the agent stands at (MDRP), "" while between places
    target: tuple[str, str] | None = None  # (stop kind, entity id)
    stop: PlannedStop | None = None
    leg: Leg | None = None
    token: int = 0  # invalidates scheduled events of an abandoned action
    cargo: list[str] = field(default_factory=list)
    on_shift: bool = False
    started: bool = False
    travel_s: float = 0.0
    service_s: float = 0.0
    metres: float = 0.0
    path: list[tuple[float, float, float]] = field(default_factory=list)
    trip: Trip | None = None
    at_counter: float | None = None  # MDRP: when it reached the counter it waits at (epoch s)

    @property
    def id(self) -> str:
        return self.plan.id

    def position(self, t: float) -> LatLng:
        return self.leg.position(t) if self.leg is not None else self.pos

    def bump(self) -> int:
        self.token += 1
        return self.token

    def halt(self, t: float) -> None:
        """Stop the current leg where the agent is now (a diversion)."""
        leg = self.leg
        if leg is None:
            return
        here = leg.position(t)
        span = max(leg.t1 - leg.t0, 1e-9)
        done = min(1.0, max(0.0, (t - leg.t0) / span))
        self.travel_s += t - leg.t0
        self.metres += leg.metres * done
        self.pos = here
        self.path.append((t, here.lat, here.lng))
        self.leg = None
        self.label = ""

    def finish_leg(self) -> None:
        """Arrive at the end of the current leg."""
        leg = self.leg
        if leg is None:
            return
        self.travel_s += leg.t1 - leg.t0
        self.metres += leg.metres
        self.pos = leg.end
        self.path.append((leg.t1, leg.end.lat, leg.end.lng))
        self.leg = None
