"""Event handlers of the simulator: customers quoting, ordering and cancelling; shifts.

What workers do between their stops lives in ``simulations._workers``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from dispatch.model import JobState, OrderState, ServiceType, WorkerStatus
from dispatch.requests import JobRequest, LocationUpdate, OrderRequest
from simulations._events import CANCEL
from simulations._workers import act, arrive, free, handover, ready, settle, wake
from simulations.agents import Agent
from simulations.records import JobRecord, OrderRecord

if TYPE_CHECKING:
    from simulations.simulator import Simulation

Handler = Callable[..., None]


def table(sim: Simulation) -> dict[str, Handler]:
    """The handler of each event kind, bound to one simulation."""

    def agent_event(action: str, wid: str, token: int) -> None:
        ag = sim.agents[wid]
        if token != ag.token:
            return  # superseded by a later decision
        {
            "arrive": arrive,
            "ready": ready,
            "free": free,
            "wake": wake,
            "handover": handover,
            "settle": settle,
        }[action](sim, ag)

    return {
        "order": lambda i: on_order(sim, i),
        "job": lambda i: on_job(sim, i),
        "cancel_order": lambda oid: on_cancel_order(sim, oid),
        "impatience": lambda oid: on_impatience(sim, oid),
        "cancel_job": lambda jid: on_cancel_job(sim, jid),
        "shift_start": lambda wid: on_shift_start(sim, sim.agents[wid]),
        "shift_end": lambda wid: on_shift_end(sim, sim.agents[wid]),
        "agent": agent_event,
        "report": sim.on_report,
        "tick": sim.on_tick,
        "sample": sim.on_sample,
    }


# ---- customers -----------------------------------------------------------------------


def on_order(sim: Simulation, i: int) -> None:
    w = sim.world
    a = w.orders[i]
    m = w.merchants[a.merchant]
    now = sim.clock.now()
    req = OrderRequest(
        community_id=sim.cid,
        pickup=m.location,
        dropoff=a.dropoff,
        ready_at=now + a.prep_estimate_s - w.handover_s,
        size=a.size,
        priority=a.priority,
        service_type=a.service,
        merchant_id=m.id,
    )
    q = sim.engine.quote(req)
    accepted = a.accept_u < w.behaviour.accept_probability(q.multiplier)
    sim.note_quote("order", q.multiplier, accepted, sim.cell_of(m.location.lat, m.location.lng))
    if not accepted:
        return
    o = sim.engine.create_order(req)
    t = sim.now_s()
    sim.orders[o.id] = OrderRecord(
        id=o.id,
        arrival=i,
        created_s=t,
        ready_s=t + a.prep_actual_s,
        promised_s=o.promised_by - w.t0,
        multiplier=o.price.multiplier,
        service=a.service.value,
        merchant=m.id,
        pickup=m.location,
        dropoff=a.dropoff,
        ref=a.ref,
    )
    sim.by_arrival[i] = o.id
    sim.note_created()
    if a.cancel_after_s is not None:
        sim.at(t + a.cancel_after_s, CANCEL, "cancel_order", o.id)
    if a.impatient:
        sim.at(t + w.behaviour.patience_s, CANCEL, "impatience", o.id)
    sim.dirty = True
    if sim.policy == "greedy":
        sim.tick_now()  # the myopic dispatcher decides at order time


def on_job(sim: Simulation, i: int) -> None:
    w = sim.world
    a = w.jobs[i]
    t0 = w.t0
    req = JobRequest(
        community_id=sim.cid,
        location=a.location,
        skills=frozenset({a.skill}),
        duration_min=a.duration_s / 60.0,
        window_start=None if a.window is None else t0 + a.window[0],
        window_end=None if a.window is None else t0 + a.window[1],
        emergency=a.emergency,
        min_rating=a.min_rating,
        service_type=ServiceType(a.skill),
    )
    q = sim.engine.quote(req)
    accepted = a.emergency or a.accept_u < w.behaviour.accept_probability(q.multiplier, True)
    sim.note_quote("job", q.multiplier, accepted, sim.cell_of(a.location.lat, a.location.lng))
    if not accepted:
        return
    j = sim.engine.create_job(req)
    t = sim.now_s()
    sim.jobs[j.id] = JobRecord(
        id=j.id,
        created_s=t,
        skill=a.skill,
        emergency=a.emergency,
        window=a.window,
        due_s=None if j.due_by is None else j.due_by - t0,
        multiplier=j.price.multiplier,
    )
    if a.cancel_after_s is not None:
        sim.at(t + a.cancel_after_s, CANCEL, "cancel_job", j.id)
    sim.dirty = True
    if sim.policy == "greedy":
        sim.tick_now()


def _assignee(sim: Simulation, worker_id: str | None) -> Agent | None:
    return sim.agents.get(worker_id) if worker_id else None


def on_cancel_order(sim: Simulation, oid: str) -> None:
    o = sim.engine.get_order(oid)
    if o.state not in (OrderState.PENDING, OrderState.ASSIGNED):
        return  # picked up or closed already: too late to change one's mind
    sim.engine.cancel_order(oid)
    ag = _assignee(sim, o.worker_id)
    if ag is not None:
        act(sim, ag)


def on_impatience(sim: Simulation, oid: str) -> None:
    if sim.engine.get_order(oid).state == OrderState.PENDING:
        on_cancel_order(sim, oid)


def on_cancel_job(sim: Simulation, jid: str) -> None:
    j = sim.engine.get_job(jid)
    if j.state not in (JobState.PENDING, JobState.ASSIGNED):
        return
    sim.engine.cancel_job(jid)
    ag = _assignee(sim, j.worker_id)
    if ag is not None:
        act(sim, ag)


# ---- shifts ---------------------------------------------------------------------------


def on_shift_start(sim: Simulation, ag: Agent) -> None:
    ag.state = "idle"
    ag.on_shift = True
    ag.started = True
    ag.path.append((sim.now_s(), ag.pos.lat, ag.pos.lng))
    now = sim.clock.now()
    sim.engine.update_location(
        LocationUpdate(ag.id, ag.pos.lat, ag.pos.lng, ts=now, status=WorkerStatus.AVAILABLE)
    )
    sim.dirty = True


def on_shift_end(sim: Simulation, ag: Agent) -> None:
    ag.on_shift = False
    sim.dirty = True
    if ag.state in ("idle", "parked"):
        act(sim, ag)
