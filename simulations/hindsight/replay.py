"""An independent check of a hindsight plan, on the simulator's own clock.

It shares nothing with the solver: it walks each worker's stops with the
world's ``TravelModel`` (the one the simulated workers ride with), the real
ready times and the service rules, and re-times every stop in continuous
seconds exactly as a simulated worker would play the plan. It flags every
broken rule: an order picked up twice or by one courier and delivered by
another, a delivery before its pickup, a load over capacity, a pickup before
the order was placed or ready, a pickup after the courier's shift (its
deliveries may follow it, as in the simulator), a technician's work outside its
shift, a job for an unqualified technician. The times it returns are the plan's delivery and
arrival times.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from dispatch.model import LatLng, WorkerKind
from simulations.hindsight.day import Day, DayJob, DayOrder
from simulations.sim.world import TravelModel, WorkerPlan

#: Stop of a plan: ("pickup" | "dropoff" | "job", order or job id).
Stop = tuple[str, str]
#: Tolerance (s) for comparing continuous times with the integer plan's bounds.
_EPS = 1e-6


@dataclass
class Replay:
    """Times of the replayed plan and every rule it breaks (none: it is valid)."""

    picked_s: dict[str, float] = field(default_factory=dict)
    delivered_s: dict[str, float] = field(default_factory=dict)
    arrived_s: dict[str, float] = field(default_factory=dict)  # job start on site
    violations: list[str] = field(default_factory=list)

    @property
    def valid(self) -> bool:
        return not self.violations


def replay(day: Day, routes: Mapping[str, Sequence[Stop]], travel: TravelModel) -> Replay:
    """Play every worker's route on the simulator's clock; see the module docstring."""
    out = Replay()
    workers = {w.id: w for w in day.workers}
    orders = {o.id: o for o in day.orders}
    jobs = {j.id: j for j in day.jobs}
    carrier: dict[str, str] = {}
    for wid, stops in routes.items():
        plan = workers.get(wid)
        if plan is None:
            out.violations.append(f"route of unknown worker {wid}")
            continue
        _walk(day, plan, stops, travel, orders, jobs, carrier, out)
    for oid in carrier:
        if oid not in out.delivered_s:
            out.violations.append(f"order {oid} is picked up but never delivered")
    return out


def _walk(
    day: Day,
    plan: WorkerPlan,
    stops: Sequence[Stop],
    travel: TravelModel,
    orders: Mapping[str, DayOrder],
    jobs: Mapping[str, DayJob],
    carrier: dict[str, str],
    out: Replay,
) -> None:
    t = plan.start_s
    here: LatLng = plan.home
    load = 0
    bad = out.violations
    for kind, eid in stops:
        entity: DayJob | DayOrder | None = jobs.get(eid) if kind == "job" else orders.get(eid)
        if entity is None:
            bad.append(f"{plan.id} visits unknown {kind} {eid}")
            continue
        if isinstance(entity, DayJob):
            where = entity.location
        else:
            where = entity.pickup if kind == "pickup" else entity.dropoff
        if where != here:
            t += travel.seconds(plan.vehicle, here, where)
        here = where
        if isinstance(entity, DayOrder) and kind == "pickup":
            if eid in carrier:
                bad.append(f"order {eid} is picked up twice")
            carrier[eid] = plan.id
            t = max(t, entity.ready_s)
            if t > plan.end_s + _EPS:
                bad.append(f"{plan.id} picks up {eid} at {t:.0f} s, after its shift ends")
            out.picked_s[eid] = t
            load += entity.size
            if load > plan.capacity:
                bad.append(f"{plan.id} carries {load} > {plan.capacity} after picking up {eid}")
            t += day.pickup_service_s
        elif isinstance(entity, DayOrder) and kind == "dropoff":
            if carrier.get(eid) != plan.id or eid in out.delivered_s:
                bad.append(f"{plan.id} delivers {eid} without having picked it up")
            out.delivered_s[eid] = t
            load -= entity.size
            t += day.dropoff_service_s
        elif isinstance(entity, DayJob) and kind == "job":
            if entity.skill not in plan.skills or (
                entity.min_rating is not None and plan.rating < entity.min_rating
            ):
                bad.append(f"{plan.id} is not qualified for job {eid}")
            if eid in out.arrived_s:
                bad.append(f"job {eid} is served twice")
            t = max(t, entity.earliest_s)
            out.arrived_s[eid] = t
            t += entity.duration_s
        else:
            bad.append(f"{plan.id}: stop kind {kind} does not fit {eid}")
    # A courier takes what it carries to the door after its shift (the simulator's
    # rule); a technician's work ends with the shift.
    if t > plan.end_s + _EPS and plan.kind != WorkerKind.COURIER:
        bad.append(f"{plan.id} works until {t:.0f} s, after its shift ends at {plan.end_s:.0f} s")
