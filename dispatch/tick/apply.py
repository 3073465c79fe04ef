"""Applying a plan: solver routes → the changed orders, jobs, events and new plan.

Pure: it reads a snapshot, the built problem and the solver's result and
returns what the commit must write, with the versions it must find. Nothing
here touches the store, so every rule of assignment, reassignment, at-risk
flags and events is tested on plain values.

A courier's ``arrived_pickup_at`` stamp says it stands at the order's counter.
It belongs to that courier's stay there: a plan that gives the order to
another courier (or to none), or sends its courier elsewhere before the
order's counter, clears it, so the tick's late-food belief
(``dispatch.tick.ready``) never counts an old arrival or another courier's.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from dispatch.events import new_event
from dispatch.model import Job, JobState, Order, OrderState, Plan, PlannedStop, StopKind
from dispatch.reasons import Reason, Reasons
from dispatch.routes import collects_first_here
from dispatch.settings import EngineSettings
from dispatch.store.base import NewEvent
from dispatch.tick.build import TickProblem
from dispatch.tick.snapshot import TickSnapshot
from solver import RoutingResult

__all__ = ["PlanChanges", "apply_plan"]

#: A pending order this close to its promise, still without a courier, is at risk.
UNASSIGNED_RISK_S = 600.0


@dataclass(frozen=True)
class PlanChanges:
    """Everything one commit writes, and the versions it expects to find."""

    plan: Plan
    expect_plan: int
    orders: tuple[Order, ...]
    jobs: tuple[Job, ...]
    events: tuple[NewEvent, ...]
    expect: dict[str, int]
    assigned: int
    unassigned: int
    at_risk: int

    @property
    def changes_work(self) -> bool:
        """Whether any order or job changes (a plan alone may still move ETAs)."""
        return bool(self.orders or self.jobs)


@dataclass
class _Routes:
    owner: dict[str, str]
    eta: dict[tuple[StopKind, str], float]
    routes: dict[str, tuple[PlannedStop, ...]]


def _routes(snap: TickSnapshot, tp: TickProblem, result: RoutingResult) -> _Routes:
    """Planned stops per worker with their times; owners and ETAs of each entity."""
    now = snap.now
    p = tp.problem
    assert p.service_time is not None
    out = _Routes({}, {}, {})
    for k, (route, starts) in enumerate(zip(result.routes, result.start_times, strict=True)):
        worker = tp.workers[k]
        planned = []
        for s, t in zip(route, starts, strict=True):
            ref = tp.stops[s]
            out.owner[ref.entity_id] = worker.id
            out.eta[(ref.kind, ref.entity_id)] = now + t
            arrive = now + t
            planned.append(
                PlannedStop(
                    ref.kind, ref.entity_id, ref.location, arrive, arrive + int(p.service_time[s])
                )
            )
        if planned:
            out.routes[worker.id] = tuple(planned)
    # Keep routes of workers outside this tick (stale or on break) for their on-board work.
    if snap.plan is not None:
        in_tick = {w.id for w in tp.workers}
        for wid, stops in snap.plan.routes.items():
            if wid not in out.routes and wid not in in_tick:
                out.routes[wid] = stops
    return out


def _late(risky: bool) -> str | None:
    return Reason.LATE_ETA.value if risky else None


def _order_change(
    o: Order, r: _Routes, now: float, settings: EngineSettings, why: Reasons
) -> tuple[Order, str | None, int, int]:
    """The order after the plan, its event type, and whether it was (un)assigned."""
    new_worker = r.owner.get(o.id)
    drop_eta = r.eta.get((StopKind.DROPOFF, o.id))
    pick_eta = r.eta.get((StopKind.PICKUP, o.id))
    risky = drop_eta is not None and drop_eta > o.promised_by - settings.at_risk_margin_s
    if o.state == OrderState.PICKED_UP:
        new = dataclasses.replace(o, eta_dropoff=drop_eta, at_risk=risky, reason=_late(risky))
        return new, None, 0, 0
    if new_worker is None:
        reason = why.order(o).value
        if o.state == OrderState.ASSIGNED:
            new = dataclasses.replace(
                o,
                state=OrderState.PENDING,
                worker_id=None,
                eta_pickup=None,
                eta_dropoff=None,
                at_risk=True,
                reason=reason,
                arrived_pickup_at=None,
            )
            return new, "order.unassigned", 0, 1
        at_risk = now > o.promised_by - UNASSIGNED_RISK_S
        new = dataclasses.replace(o, at_risk=at_risk, reason=reason)
        return new, ("order.at_risk" if new.at_risk and not o.at_risk else None), 0, 1
    stays = o.worker_id == new_worker and collects_first_here(r.routes.get(new_worker, ()), o)
    new = dataclasses.replace(
        o,
        state=OrderState.ASSIGNED,
        worker_id=new_worker,
        eta_pickup=pick_eta,
        eta_dropoff=drop_eta,
        at_risk=risky,
        reason=_late(risky),
        assigned_at=o.assigned_at if o.worker_id == new_worker else now,
        arrived_pickup_at=o.arrived_pickup_at if stays else None,
    )
    kind, moved = _assigned("order", o.state == OrderState.PENDING, o.worker_id, new, o.at_risk)
    return new, kind, moved, 0


def _job_change(j: Job, r: _Routes, now: float, why: Reasons) -> tuple[Job, str | None, int, int]:
    """The job after the plan, its event type, and whether it was (un)assigned."""
    new_worker = r.owner.get(j.id)
    job_eta = r.eta.get((StopKind.JOB, j.id))
    risky = job_eta is not None and j.due_by is not None and job_eta > j.due_by
    if j.state in (JobState.EN_ROUTE, JobState.IN_SERVICE):
        new = dataclasses.replace(j, eta=job_eta or j.eta, at_risk=risky, reason=_late(risky))
        return new, None, 0, 0
    if new_worker is None:
        reason = why.job(j).value
        if j.state == JobState.ASSIGNED:
            new = dataclasses.replace(
                j, state=JobState.PENDING, worker_id=None, eta=None, at_risk=True, reason=reason
            )
            return new, "job.unassigned", 0, 1
        new = dataclasses.replace(j, at_risk=True, reason=reason)
        return new, (None if j.at_risk else "job.at_risk"), 0, 1
    new = dataclasses.replace(
        j,
        state=JobState.ASSIGNED,
        worker_id=new_worker,
        eta=job_eta,
        at_risk=risky,
        reason=_late(risky),
        assigned_at=j.assigned_at if j.worker_id == new_worker else now,
    )
    kind, moved = _assigned("job", j.state == JobState.PENDING, j.worker_id, new, j.at_risk)
    return new, kind, moved, 0


def _assigned(
    scope: str, was_pending: bool, old_worker: str | None, new: Order | Job, was_at_risk: bool
) -> tuple[str | None, int]:
    """The event of work the plan gives a worker, and whether it counts as (re)assigned."""
    if was_pending:
        return f"{scope}.assigned", 1
    if old_worker != new.worker_id:
        return f"{scope}.reassigned", 1
    return (f"{scope}.at_risk" if new.at_risk and not was_at_risk else None), 0


def _sequences(plan: Plan | None) -> dict[str, tuple[tuple[StopKind, str], ...]]:
    """Each worker's stops in order, without their times."""
    if plan is None:
        return {}
    return {
        wid: tuple((s.kind, s.entity_id) for s in stops)
        for wid, stops in plan.routes.items()
        if stops
    }


def apply_plan(
    snap: TickSnapshot,
    tp: TickProblem,
    result: RoutingResult,
    settings: EngineSettings,
    *,
    solve_ms: float,
    fallback: bool,
    dispatcher: str | None = None,
) -> PlanChanges:
    """What committing ``result`` changes; every changed record's version goes up by one.

    ``plan.committed`` names the ``dispatcher`` that committed it and is left out
    when the tick changed nothing anyone acts on: no work changed hands or
    flags and every worker keeps the same sequence of stops.
    """
    now = snap.now
    cid = snap.community.id
    r = _routes(snap, tp, result)
    orders: list[Order] = []
    jobs: list[Job] = []
    events: list[NewEvent] = []
    expect: dict[str, int] = {}
    assigned = unassigned = at_risk = 0
    why = Reasons(
        workers=snap.workers,
        dispatched={w.id for w in tp.workers},
        busy={wid for wid, stops in r.routes.items() if stops},
        now=now,
    )
    # the problem's orders may carry what the tick learnt (dispatch.tick.ready): compare
    # with the stored ones, so that is written too
    stored = {o.id: o for o in snap.orders}
    changes: list[tuple[Order | Job, tuple[Order | Job, str | None, int, int]]] = [
        (stored.get(o.id, o), _order_change(o, r, now, settings, why)) for o in tp.orders
    ]
    changes += [(j, _job_change(j, r, now, why)) for j in tp.jobs]
    for old, (new, kind, a, u) in changes:
        assigned, unassigned = assigned + a, unassigned + u
        if new != old:
            new = dataclasses.replace(new, version=old.version + 1)
            if isinstance(new, Order):
                orders.append(new)
            else:
                jobs.append(new)
            expect[old.id] = old.version
            if kind:
                events.append(new_event(now, cid, kind, old.id, new))
        at_risk += int(new.at_risk)
    version = snap.plan_version + 1
    plan = Plan(community_id=cid, version=version, created_at=now, routes=r.routes)
    if events or _sequences(plan) != _sequences(snap.plan):
        data: dict[str, object] = {
            "version": version,
            "assigned": assigned,
            "unassigned": unassigned,
            "fallback": fallback,
            "solve_ms": round(solve_ms, 1),
        }
        if dispatcher is not None:
            data["dispatcher"] = dispatcher
        events.append(new_event(now, cid, "plan.committed", cid, data))
    return PlanChanges(
        plan=plan,
        expect_plan=snap.plan_version,
        orders=tuple(orders),
        jobs=tuple(jobs),
        events=tuple(events),
        expect=expect,
        assigned=assigned,
        unassigned=unassigned,
        at_risk=at_risk,
    )
