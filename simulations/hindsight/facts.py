"""From a finished run and its hindsight plan to the classifier's inputs and KPIs.

Reads the run's records, its event log (who held each job, when) and where
its technicians stood (their recorded paths), and the hindsight plan's
replayed times. The on-time rules are the simulator's own (``OrderRecord.on_time``
and the ``jobs_on_time_rate`` KPI).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from dispatch.model import LatLng
from simulations.hindsight.build import qualified
from simulations.hindsight.day import Day, DayJob
from simulations.hindsight.decompose import Busy, LateJob, LateOrder, TechDay
from simulations.hindsight.solve import HindsightPlan
from simulations.sim.records import JobRecord, SimulationResult
from simulations.sim.world import ProfileTravel, WorkerPlan

_EPS = 1e-6


def _pct(values: list[float], q: float) -> float | None:
    return None if not values else float(np.percentile(np.asarray(values), q))


def hindsight_kpis(day: Day, plan: HindsightPlan) -> dict[str, Any]:
    """The bound's KPIs, defined as ``simulations.sim.kpis`` defines them for a run."""
    t = plan.timing
    delivered = [o for o in day.orders if o.id in t.delivered_s]
    c2d = [(t.delivered_s[o.id] - o.created_s) / 60.0 for o in delivered]
    on_time = [t.delivered_s[o.id] <= o.promised_s + _EPS for o in delivered]
    due = [  # as the run's KPI counts them: a job due after the run is judged if reached
        j for j in day.jobs if j.due_s is not None and (j.due_s <= day.end_s or j.id in t.arrived_s)
    ]
    jobs_ok = [j for j in due if _job_on_time(j, t.arrived_s.get(j.id))]
    return {
        "orders_total": len(day.orders),
        "orders_delivered": len(delivered),
        "on_time_rate": sum(on_time) / len(on_time) if on_time else None,
        "click_to_door_p50_min": _pct(c2d, 50),
        "click_to_door_p90_min": _pct(c2d, 90),
        "jobs_due": len(due),
        "jobs_on_time_rate": len(jobs_ok) / len(due) if due else None,
    }


def _job_on_time(job: DayJob | JobRecord, arrived_s: float | None) -> bool:
    return job.due_s is not None and arrived_s is not None and arrived_s <= job.due_s + _EPS


def late_orders(result: SimulationResult, day: Day, plan: HindsightPlan) -> list[LateOrder]:
    """The run's late deliveries, each with the hindsight plan's verdict."""
    by_id = {o.id: o for o in day.orders}
    fastest = _fastest_courier(day)
    out: list[LateOrder] = []
    for rec in result.orders:
        if rec.state != "delivered" or rec.delivered_s is None or rec.on_time:
            continue
        o = by_id.get(rec.id)
        h = plan.timing.delivered_s.get(rec.id)
        late_h = o is None or h is None or h > o.promised_s + _EPS
        ride = fastest(rec.pickup, rec.dropoff)
        floor = rec.ready_s + day.pickup_service_s + ride
        out.append(LateOrder(rec.id, late_h, floor > rec.promised_s + _EPS))
    return out


def _fastest_courier(day: Day) -> Callable[[LatLng, LatLng], float]:
    travel = ProfileTravel()
    vehicles = {w.vehicle for w in day.couriers()}

    def ride(a: LatLng, b: LatLng) -> float:
        if a == b or not vehicles:
            return 0.0
        return min(travel.seconds(v, a, b) for v in vehicles)

    return ride


def _position(result: SimulationResult, worker: WorkerPlan, t: float) -> LatLng:
    """Where the worker last stood at time t (its recorded path; home before any)."""
    t0 = result.world.t0
    agent = next((a for a in result.agents if a.id == worker.id), None)
    here = worker.home
    if agent is None:
        return here
    for ts, lat, lng in agent.path:
        rel = ts - t0 if ts > t0 / 2 else ts  # the path mixes run and epoch seconds
        if rel > t + _EPS:
            break
        here = LatLng(lat, lng)
    return here


def _holders(result: SimulationResult) -> dict[str, list[tuple[float, str]]]:
    t0 = result.world.t0
    out: dict[str, list[tuple[float, str]]] = {}
    for e in result.events:
        if e.get("type") != "job.assigned":
            continue
        worker = (e.get("data") or {}).get("worker_id")
        if worker:
            out.setdefault(str(e["entity_id"]), []).append((float(e["ts"]) - t0, str(worker)))
    return out


def late_jobs(result: SimulationResult, day: Day, plan: HindsightPlan) -> list[LateJob]:
    """The run's late jobs with everything ``job_causes`` looks at."""
    travel = ProfileTravel()
    techs = day.technicians()
    allowed = qualified(day)
    day_jobs = {j.id: j for j in day.jobs}
    busy: dict[str, list[Busy]] = {t.id: [] for t in techs}
    for rec in result.jobs:
        begin = rec.started_s if rec.started_s is not None else rec.arrived_s
        if rec.worker in busy and begin is not None:
            end = rec.completed_s if rec.completed_s is not None else result.end_s
            busy[rec.worker].append(Busy(begin, end, rec.id, rec.emergency))
    tech_days = {t.id: TechDay(t.id, (t.start_s, t.end_s), tuple(busy[t.id])) for t in techs}
    holders = _holders(result)
    out: list[LateJob] = []
    for rec in result.jobs:
        if rec.due_s is None or rec.state == "cancelled" or _job_on_time(rec, rec.arrived_s):
            continue
        if rec.due_s > result.end_s and rec.arrived_s is None:
            continue  # not due within the run: not late (the run's KPI leaves it out too)
        j = day_jobs.get(rec.id)
        if j is None:
            continue
        quals = [techs[k] for k in sorted(allowed[j.id])]

        def ride(w: WorkerPlan, at: float, job: DayJob = j) -> float:
            here = _position(result, w, at)
            return 0.0 if here == job.location else travel.seconds(w.vehicle, here, job.location)

        reach = [
            max(j.earliest_s, max(j.created_s, w.start_s) + ride(w, j.created_s))
            for w in quals
            if w.start_s <= rec.due_s
        ]
        held = holders.get(rec.id, [])
        first = None
        if held:
            at, wid = held[0]
            w = next((x for x in techs if x.id == wid), None)
            first = None if w is None else at + ride(w, at)
        h = plan.timing.arrived_s.get(rec.id)
        out.append(
            LateJob(
                id=rec.id,
                created_s=rec.created_s,
                earliest_s=j.earliest_s,
                due_s=rec.due_s,
                duration_s=j.duration_s,
                late_in_hindsight=h is None or h > rec.due_s + _EPS,
                qualified=tuple(tech_days[w.id] for w in quals),
                reach_s=min(reach) if reach else None,
                holders=tuple(held),
                assigned_reach_s=first,
                worker=rec.worker,
                started_s=rec.started_s,
                arrived_s=rec.arrived_s,
            )
        )
    return out
