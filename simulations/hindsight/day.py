"""A simulated day's realised demand and supply, as the hindsight solve sees it.

The online policy learns each order when it is placed; the hindsight solve
knows the whole day at once: every order with its placement, real ready time
and promise, every job with its window, and every shift. ``day_from_result``
reads this back from a finished run, so the bound is computed on exactly the
orders and jobs that run accepted (with surge on, each policy run accepts its
own set). Times are seconds after the simulation's start.

Which orders the bound must serve: every accepted order except those whose
customer changed their mind and did cancel in the run (a change of mind is
behaviour, not dispatch). Orders cancelled out of impatience stay in: with
perfect knowledge no order waits for a courier.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from dispatch.model import LatLng, WorkerKind
from simulations.sim.records import SimulationResult
from simulations.sim.world import WorkerPlan

#: Slack (s) when matching a cancellation time to the change-of-mind draw.
_CANCEL_MATCH_S = 1.0


@dataclass(frozen=True)
class DayOrder:
    id: str
    created_s: float
    ready_s: float  # when the merchant really had it ready
    promised_s: float
    pickup: LatLng
    dropoff: LatLng
    size: int = 1
    priority: str = "standard"


@dataclass(frozen=True)
class DayJob:
    id: str
    created_s: float
    location: LatLng
    skill: str
    duration_s: float
    window: tuple[float, float] | None
    due_s: float | None  # window end, or the emergency SLA; None: no due time
    emergency: bool = False
    min_rating: float | None = None

    @property
    def earliest_s(self) -> float:
        """Work may start at the window's opening, and never before the booking."""
        return self.created_s if self.window is None else max(self.created_s, self.window[0])


@dataclass(frozen=True)
class Day:
    """Everything a perfect-knowledge planner may use, and the service rules."""

    orders: tuple[DayOrder, ...]
    jobs: tuple[DayJob, ...]
    workers: tuple[WorkerPlan, ...]
    pickup_service_s: float
    dropoff_service_s: float
    end_s: float = math.inf  # when the run stopped: jobs due later are judged only if reached

    def couriers(self) -> tuple[WorkerPlan, ...]:
        return tuple(w for w in self.workers if w.kind == WorkerKind.COURIER)

    def technicians(self) -> tuple[WorkerPlan, ...]:
        return tuple(w for w in self.workers if w.kind == WorkerKind.TECHNICIAN)


def _changed_mind(
    result: SimulationResult, arrival: int, state: str, created_s: float, closed_s: float | None
) -> bool:
    after = result.world.orders[arrival].cancel_after_s
    if state != "cancelled" or after is None or closed_s is None:
        return False
    return abs(closed_s - (created_s + after)) <= _CANCEL_MATCH_S


def day_from_result(result: SimulationResult) -> Day:
    """The realised day of a run (orders and jobs it accepted, its fleet)."""
    w = result.world
    orders = tuple(
        DayOrder(
            id=o.id,
            created_s=o.created_s,
            ready_s=o.ready_s,
            promised_s=o.promised_s,
            pickup=o.pickup,
            dropoff=o.dropoff,
            size=w.orders[o.arrival].size,
            priority=o.priority,
        )
        for o in result.orders
        if not _changed_mind(result, o.arrival, o.state, o.created_s, o.closed_s)
    )
    jobs: list[DayJob] = []
    for j in result.jobs:
        if j.state == "cancelled":
            continue  # job cancellations are drawn per job: behaviour, not dispatch
        a = min(w.jobs, key=lambda arr: abs(arr.t - j.created_s))
        if abs(a.t - j.created_s) > _CANCEL_MATCH_S:
            raise ValueError(f"job {j.id} matches no arrival of the world")
        jobs.append(
            DayJob(
                id=j.id,
                created_s=j.created_s,
                location=a.location,
                skill=a.skill,
                duration_s=a.duration_s,
                window=j.window,
                due_s=j.due_s,
                emergency=j.emergency,
                min_rating=a.min_rating,
            )
        )
    return Day(
        orders=orders,
        jobs=tuple(jobs),
        workers=w.workers,
        pickup_service_s=float(w.settings.pickup_service_s),
        dropoff_service_s=float(w.settings.dropoff_service_s),
        end_s=float(result.end_s),
    )
