"""The day as two static routing problems for the project's solver (pure).

Couriers and technicians never share work, so the day splits into a
pickup-and-delivery problem with time windows for the couriers and a
window-and-skills problem for the technicians. Rules as the simulator plays
them: a pickup starts when the courier is there and the order is really
ready, then takes the pickup service; a delivery is handed over on arrival,
then takes the drop-off service; a job starts at the later of the technician's
arrival and the window's opening. Shifts are vehicle windows (start at home
at shift start, last service over by shift end, as the engine plans them).
Promises and due times are soft deadlines (and so is each order's ready time, at a
small weight, so orders wait little at the merchant); every stop may be dropped at a
prohibitive cost, so a plan always exists and a drop is reported, not hidden.

Times are whole seconds: ready times and window openings rounded up,
promises and due times rounded down, so the integer plan is never kinder than
the simulator's continuous clock (``simulations.hindsight.replay`` re-times it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal, get_args

import numpy as np

import geo
from dispatch.model import LatLng
from simulations.hindsight.day import Day
from simulations.sim.world import WorkerPlan
from solver import NONE, RoutingProblem

#: Cost of one second past an order's promise, in metres of riding (the travel cost).
ORDER_LATENESS_WEIGHT = 50
#: Cost of each second an order waits at the merchant once ready: the plan also keeps
#: click-to-door short, not only within the promise (a ride of ~4 m/s costs 1 per metre).
PICKUP_WAIT_WEIGHT = 2
#: One-off cost of a delivery past its promise: the plan keeps as many promises as it
#: can (a bound on the on-time share), not only little lateness in total.
ORDER_LATE_FEE = 60_000
#: Cost of one second past a booked job's window end; emergencies cost ten times more.
JOB_LATENESS_WEIGHT = 50
EMERGENCY_LATENESS_WEIGHT = 500
#: Cost of leaving a stop unserved: far above any lateness a day can accumulate.
DROP_PENALTY = 10**10


#: What a delivery's soft deadline is (``courier_model``).
Target = Literal["promise", "fastest"]
#: Every ``Target``, the default first (what command lines offer).
TARGETS: tuple[Target, ...] = get_args(Target)


@dataclass(frozen=True)
class Model:
    """A routing problem and what its stops and vehicles stand for."""

    problem: RoutingProblem
    stop_entity: tuple[str, ...]  # per stop: order or job id
    stop_kind: tuple[str, ...]  # per stop: "pickup" | "dropoff" | "job"
    vehicle_worker: tuple[str, ...]  # per vehicle: worker id


class _Places:
    """Distinct points (identical points share a location: zero travel between them)."""

    def __init__(self) -> None:
        self.index: dict[tuple[float, float], int] = {}

    def __call__(self, p: LatLng) -> int:
        return self.index.setdefault((p.lat, p.lng), len(self.index))

    def matrices(
        self, workers: tuple[WorkerPlan, ...], provider: geo.MatrixProvider
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(distance metres, times per profile, each worker's profile index)."""
        points = list(self.index)
        lats = np.array([p[0] for p in points], dtype=float)
        lngs = np.array([p[1] for p in points], dtype=float)
        names = sorted({w.vehicle.value for w in workers})
        dist, times = provider.matrices(lats, lngs, names)
        profile = np.array([names.index(w.vehicle.value) for w in workers], dtype=np.int64)
        return dist, times, profile


def _up(t: float) -> int:
    return math.ceil(t - 1e-9)


def _down(t: float) -> int:
    return math.floor(t + 1e-9)


def _vehicles(
    workers: tuple[WorkerPlan, ...], places: _Places
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each worker's start location, shift start and shift end."""
    return (
        np.array([places(w.home) for w in workers], dtype=np.int64),
        np.array([_up(w.start_s) for w in workers], dtype=np.int64),
        np.array([_down(w.end_s) for w in workers], dtype=np.int64),
    )


def courier_model(
    day: Day,
    provider: geo.MatrixProvider | None = None,
    target: Target = "promise",
    late_fee: int = ORDER_LATE_FEE,
) -> Model:
    """Every order as a pickup-delivery pair over the couriers' shifts.

    ``target`` is what a delivery's soft deadline is: its promise (the plan
    keeps as many promises as it can), or its fastest possible delivery (the
    real ready time, the pickup service and the fastest courier's direct ride:
    the plan minimises total click-to-door). Either way a delivery past its
    promise pays ``late_fee`` once, so promises kept count (0: off).
    """
    workers = day.couriers()
    places = _Places()
    starts, shift_start, shift_end = _vehicles(workers, places)
    loc = [places(p) for o in day.orders for p in (o.pickup, o.dropoff)]
    dist, times, profile = places.matrices(workers, provider or geo.HaversineMatrixProvider())
    n = len(loc)
    tw_start: list[int] = []
    deadline: list[int] = []
    fee_deadline: list[int] = []
    for k, o in enumerate(day.orders):
        due = o.promised_s
        if target == "fastest" and len(times):
            ride = int(times[:, loc[2 * k], loc[2 * k + 1]].min())
            due = min(due, o.ready_s + day.pickup_service_s + ride)
        tw_start += [_up(o.ready_s), _up(o.ready_s)]
        deadline += [_up(o.ready_s), _down(due)]
        fee_deadline += [NONE, _down(o.promised_s)]
    service = [_up(day.pickup_service_s), _up(day.dropoff_service_s)] * len(day.orders)
    demand = [x for o in day.orders for x in (o.size, -o.size)]
    weight = [PICKUP_WAIT_WEIGHT, ORDER_LATENESS_WEIGHT] * len(day.orders)
    entity = [o.id for o in day.orders for _ in (0, 1)]
    kind = ["pickup", "dropoff"] * len(day.orders)
    # The simulator's rule (and the MDRP's): no pickup after the shift ends, but what a
    # courier carries still goes to the door; a route may run on for as long as emptying
    # a full load takes after a last pickup at the shift end (the tick's own bound).
    longest = times.reshape(times.shape[0], -1).max(axis=1) if times.size else None
    route_end = shift_end.copy()
    for k, w in enumerate(workers):
        if longest is not None:
            ride = int(longest[profile[k]]) + _up(day.dropoff_service_s)
            route_end[k] = int(shift_end[k]) + max(1, w.capacity) * ride
    problem = RoutingProblem(
        travel_time=times,
        travel_cost=dist,
        stop_location=np.array(loc, dtype=np.int64),
        service_time=np.array(service, dtype=np.int64),
        demand=np.array(demand, dtype=np.int64).reshape(n, 1),
        tw_start=np.array(tw_start, dtype=np.int64),
        soft_deadline=np.array(deadline, dtype=np.int64),
        lateness_weight=np.array(weight, dtype=np.int64),
        fee_deadline=np.array(fee_deadline, dtype=np.int64),
        late_fee=np.array([0, late_fee] * len(day.orders), dtype=np.int64),
        drop_penalty=np.full(n, DROP_PENALTY, dtype=np.int64),
        pairs=np.arange(n, dtype=np.int64).reshape(-1, 2),
        capacity=np.array([[w.capacity] for w in workers], dtype=np.int64).reshape(-1, 1),
        vehicle_profile=profile,
        vehicle_start=starts,
        vehicle_start_time=shift_start,
        vehicle_end_time=route_end,
        vehicle_pickup_end=shift_end,
    )
    return Model(problem, tuple(entity), tuple(kind), tuple(w.id for w in workers))


def qualified(day: Day) -> dict[str, frozenset[int]]:
    """Per job, the technicians (indices into ``day.technicians()``) allowed to do it."""
    techs = day.technicians()
    return {
        j.id: frozenset(
            k
            for k, t in enumerate(techs)
            if j.skill in t.skills and (j.min_rating is None or t.rating >= j.min_rating)
        )
        for j in day.jobs
    }


def technician_model(day: Day, provider: geo.MatrixProvider | None = None) -> Model:
    """Every job as one stop for a qualified technician, its due time a soft deadline."""
    workers = day.technicians()
    places = _Places()
    starts, shift_start, shift_end = _vehicles(workers, places)
    allowed = qualified(day)
    loc = [places(j.location) for j in day.jobs]
    deadline = [NONE if j.due_s is None else _down(j.due_s) for j in day.jobs]
    weight = [EMERGENCY_LATENESS_WEIGHT if j.emergency else JOB_LATENESS_WEIGHT for j in day.jobs]
    n = len(loc)
    dist, times, profile = places.matrices(workers, provider or geo.HaversineMatrixProvider())
    problem = RoutingProblem(
        travel_time=times,
        travel_cost=dist,
        stop_location=np.array(loc, dtype=np.int64),
        service_time=np.array([_up(j.duration_s) for j in day.jobs], dtype=np.int64),
        tw_start=np.array([_up(j.earliest_s) for j in day.jobs], dtype=np.int64),
        soft_deadline=np.array(deadline, dtype=np.int64),
        lateness_weight=np.array(weight, dtype=np.int64),
        drop_penalty=np.full(n, DROP_PENALTY, dtype=np.int64),
        allowed_vehicles=tuple(allowed[j.id] for j in day.jobs),
        vehicle_profile=profile,
        vehicle_start=starts,
        vehicle_start_time=shift_start,
        vehicle_end_time=shift_end,
    )
    entity = tuple(j.id for j in day.jobs)
    return Model(problem, entity, ("job",) * n, tuple(w.id for w in workers))
