"""Event handlers of the simulator: customers, shifts, ticks, position reports, samples.

Each handler works on the run's ``SimState``; what workers do between their
stops lives in ``simulations.sim._workers``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from dispatch.kitchen import REPORTABLE
from dispatch.model import (
    JobState,
    OrderState,
    ServiceType,
    WorkerKind,
    WorkerStatus,
)
from dispatch.requests import JobRequest, LocationUpdate, OrderRequest
from simulations.sim._events import CANCEL, DEMAND, REPORT, SAMPLE, TICK
from simulations.sim._workers import act, arrive, free, handover, ready, settle, wake
from simulations.sim.agents import Agent
from simulations.sim.records import JobRecord, OrderRecord, Sample, TickRecord
from simulations.sim.state import SimState, Window

log = logging.getLogger(__name__)

Handler = Callable[..., None]


def table(st: SimState) -> dict[str, Handler]:
    """The handler of each event kind, bound to one run's state."""
    actions = {
        "arrive": arrive,
        "ready": ready,
        "free": free,
        "wake": wake,
        "handover": handover,
        "settle": settle,
    }

    def agent_event(action: str, wid: str, token: int) -> None:
        ag = st.agents[wid]
        if token != ag.token:
            return  # superseded by a later decision
        actions[action](st, ag)

    return {
        "order": lambda i: on_order(st, i),
        "job": lambda i: on_job(st, i),
        "cancel_order": lambda oid: on_cancel_order(st, oid),
        "impatience": lambda oid: on_impatience(st, oid),
        "kitchen": lambda oid, ready_at: on_kitchen(st, oid, ready_at),
        "cancel_job": lambda jid: on_cancel_job(st, jid),
        "shift_start": lambda wid: on_shift_start(st, st.agents[wid]),
        "shift_end": lambda wid: on_shift_end(st, st.agents[wid]),
        "agent": agent_event,
        "report": lambda: on_report(st),
        "tick": lambda: on_tick(st),
        "sample": lambda: on_sample(st),
    }


# ---- customers -----------------------------------------------------------------------


def _work_arrived(st: SimState) -> None:
    st.tallies.dirty = True
    if st.policy.tick_on_arrival:
        tick_now(st)  # a myopic dispatcher decides when work arrives


def on_order(st: SimState, i: int) -> None:
    w = st.world
    a = w.orders[i]
    m = w.merchants[a.merchant]
    now = st.clock.now()
    req = OrderRequest(
        community_id=st.cid,
        pickup=m.location,
        dropoff=a.dropoff,
        ready_at=now + a.prep_estimate_s - w.handover_s,
        size=a.size,
        priority=a.priority,
        service_type=a.service,
        merchant_id=m.id,
    )
    q = st.engine.quote(req)
    accepted = a.accept_u < w.behaviour.accept_probability(q.multiplier)
    st.note_quote("order", q.multiplier, accepted, st.cell_of(m.location.lat, m.location.lng))
    if not accepted:
        return
    o = st.engine.create_order(req)
    t = st.now_s()
    st.records.orders[o.id] = OrderRecord(
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
        fee=o.price.total,
        value=a.value,
        priority=a.priority.value,
    )
    st.records.by_arrival[i] = o.id
    st.note_created()
    if a.cancel_after_s is not None:
        st.at(t + a.cancel_after_s, CANCEL, "cancel_order", o.id)
    if a.impatient:
        st.at(t + w.behaviour.patience_s, CANCEL, "impatience", o.id)
    if a.report_after_s is not None:
        ready_at = now + a.prep_actual_s - w.handover_s
        st.at(t + a.report_after_s, DEMAND, "kitchen", o.id, ready_at)
    _work_arrived(st)


def on_job(st: SimState, i: int) -> None:
    w = st.world
    a = w.jobs[i]
    t0 = w.t0
    req = JobRequest(
        community_id=st.cid,
        location=a.location,
        skills=frozenset({a.skill}),
        duration_min=a.duration_s / 60.0,
        window_start=None if a.window is None else t0 + a.window[0],
        window_end=None if a.window is None else t0 + a.window[1],
        emergency=a.emergency,
        min_rating=a.min_rating,
        service_type=ServiceType(a.skill),
    )
    q = st.engine.quote(req)
    accepted = a.emergency or a.accept_u < w.behaviour.accept_probability(q.multiplier, True)
    st.note_quote("job", q.multiplier, accepted, st.cell_of(a.location.lat, a.location.lng))
    if not accepted:
        return
    j = st.engine.create_job(req)
    t = st.now_s()
    st.records.jobs[j.id] = JobRecord(
        id=j.id,
        created_s=t,
        skill=a.skill,
        emergency=a.emergency,
        window=a.window,
        due_s=None if j.due_by is None else j.due_by - t0,
        multiplier=j.price.multiplier,
    )
    if a.cancel_after_s is not None:
        st.at(t + a.cancel_after_s, CANCEL, "cancel_job", j.id)
    _work_arrived(st)


def _assignee(st: SimState, worker_id: str | None) -> Agent | None:
    return st.agents.get(worker_id) if worker_id else None


def on_cancel_order(st: SimState, oid: str) -> None:
    o = st.engine.get_order(oid)
    if o.state not in (OrderState.PENDING, OrderState.ASSIGNED):
        return  # picked up or closed already: too late to change one's mind
    st.engine.cancel_order(oid)
    ag = _assignee(st, o.worker_id)
    if ag is not None:
        act(st, ag)


def on_kitchen(st: SimState, oid: str, ready_at: float) -> None:
    """The kitchen tells dispatch when the order's food is really ready."""
    if st.engine.get_order(oid).state not in REPORTABLE:
        return  # collected or closed: nothing left to plan
    st.engine.kitchen_report(oid, ready_at)
    st.tallies.dirty = True


def on_impatience(st: SimState, oid: str) -> None:
    if st.engine.get_order(oid).state == OrderState.PENDING:
        on_cancel_order(st, oid)


def on_cancel_job(st: SimState, jid: str) -> None:
    j = st.engine.get_job(jid)
    if j.state not in (JobState.PENDING, JobState.ASSIGNED):
        return
    st.engine.cancel_job(jid)
    ag = _assignee(st, j.worker_id)
    if ag is not None:
        act(st, ag)


# ---- shifts ---------------------------------------------------------------------------


def on_shift_start(st: SimState, ag: Agent) -> None:
    ag.state = "idle"
    ag.on_shift = True
    ag.started = True
    ag.path.append((st.now_s(), ag.pos.lat, ag.pos.lng))
    now = st.clock.now()
    st.engine.update_location(
        LocationUpdate(ag.id, ag.pos.lat, ag.pos.lng, ts=now, status=WorkerStatus.AVAILABLE)
    )
    st.tallies.dirty = True


def on_shift_end(st: SimState, ag: Agent) -> None:
    ag.on_shift = False
    st.tallies.dirty = True
    if ag.state in ("idle", "parked"):
        act(st, ag)


# ---- ticks, reports, samples ------------------------------------------------------------


def tick_now(st: SimState) -> None:
    """Tick the community and let every worker on shift look at its new route."""
    res = st.engine.tick(st.cid)
    st.records.ticks.append(
        TickRecord(st.now_s(), res.solve_ms, res.assigned, res.unassigned, res.fallback)
    )
    st.tallies.dirty = False
    st.tallies.last_unassigned = res.unassigned
    for ag in st.agents.values():
        if ag.state != "off":
            act(st, ag)


def on_tick(st: SimState) -> None:
    """Every dispatch interval: tick if anything waits or changed (or always, if asked)."""
    st.at(st.now_s() + st.community.dispatch_interval_s, TICK, "tick")
    if st.tallies.dirty or st.tallies.last_unassigned > 0 or st.world.tick_when_idle:
        tick_now(st)
    else:
        st.tallies.ticks_skipped += 1


def on_report(st: SimState) -> None:
    """Workers on shift send their positions, in one batch."""
    st.at(st.now_s() + st.world.position_interval_s, REPORT, "report")
    now = st.clock.now()
    batch = []
    for ag in st.agents.values():
        if ag.state == "off":
            continue
        p = ag.position(now)
        batch.append(LocationUpdate(ag.id, p.lat, p.lng, ts=now))
    if batch:
        result = st.engine.update_locations(batch)
        for _i, wid, message in result.errors:
            log.warning("position of %s rejected: %s", wid, message)


def on_sample(st: SimState) -> None:
    """One point of the report's time series."""
    st.at(st.now_s() + st.world.sample_interval_s, SAMPLE, "sample")
    open_orders = st.engine.open_orders(st.cid)
    unassigned = sum(1 for o in open_orders if o.state == OrderState.PENDING)
    unassigned += sum(1 for j in st.engine.open_jobs(st.cid) if j.worker_id is None)
    agents = st.agents.values()
    on = [a for a in agents if a.plan.kind == WorkerKind.COURIER and a.state != "off"]
    snap = st.engine.surge_map(st.cid)
    mults = []
    for cell, cs in snap.cells.items():
        m = float(cs.multiplier.get(ServiceType.TAKEOUT, 1.0))
        mults.append(m)
        total, n = st.records.cell_multiplier.get(cell, (0.0, 0))
        st.records.cell_multiplier[cell] = (total + m, n + 1)
    win = st.window
    st.records.samples.append(
        Sample(
            t_s=st.now_s(),
            open_orders=len(open_orders),
            unassigned=unassigned,
            couriers_on=len(on),
            couriers_idle=sum(1 for a in on if a.state == "idle" and not a.cargo),
            technicians_on=sum(
                1 for a in agents if a.plan.kind == WorkerKind.TECHNICIAN and a.state != "off"
            ),
            created=win.created,
            delivered=win.delivered,
            delivered_on_time=win.on_time,
            quote_multiplier=win.multiplier_sum / win.quotes if win.quotes else None,
            cell_multiplier_mean=sum(mults) / len(mults) if mults else 1.0,
            cell_multiplier_max=max(mults, default=1.0),
        )
    )
    st.window = Window()
