"""What simulated workers do: follow their committed route, stop by stop.

Workers read their route from the engine (``Engine.route``) after every tick
and after every stop, and report progress with ``order_event`` / ``job_event`` (a
courier reaching a pickup counter reports ``arrived_at_pickup``, as its app would).
With ``World.mdrp`` they follow the MDRP's rules: a trip picks up one bundle at
one merchant and delivers all of it before the next pickup, a courier never
turns around mid-leg, and nothing is picked up after the courier's off time.
"""

from __future__ import annotations

from dispatch.errors import Conflict
from dispatch.model import (
    JobState,
    LatLng,
    OrderState,
    PlannedStop,
    StopKind,
    WorkerKind,
    WorkerStatus,
)
from dispatch.requests import LocationUpdate
from dispatch.routes import collects_first_here
from simulations.mdrp.solution import Move, Trip
from simulations.sim._events import AGENT
from simulations.sim.agents import Agent, Leg
from simulations.sim.state import SimState


def later(st: SimState, ag: Agent, delay_s: float, action: str) -> None:
    """Schedule the agent's next step; any newer decision makes it void."""
    st.at(st.now_s() + max(0.0, delay_s), AGENT, "agent", action, ag.id, ag.bump())


def go_off(st: SimState, ag: Agent) -> None:
    ag.state = "off"
    ag.target = ag.stop = None
    ag.bump()
    p = ag.pos
    st.engine.update_location(
        LocationUpdate(ag.id, p.lat, p.lng, ts=st.clock.now(), status=WorkerStatus.OFFLINE)
    )


def next_stop(st: SimState, ag: Agent) -> PlannedStop | None:
    """The stop the worker should head for now, from its committed route."""
    route = st.engine.route(ag.id)
    if st.world.mdrp and ag.cargo:  # finish the trip before anything else
        if route and not (route[0].kind == StopKind.DROPOFF and route[0].entity_id in ag.cargo):
            # the plan wanted something else first: counted once per trip
            st.records.trip_rule_flags.add((ag.id, ag.trip.pickup_s if ag.trip else -1.0))
        for planned in route:
            if planned.kind == StopKind.DROPOFF and planned.entity_id in ag.cargo:
                return planned
        return _cargo_stop(st, ag)
    if route:
        return route[0]
    return _cargo_stop(st, ag) if ag.cargo else None


def _cargo_stop(st: SimState, ag: Agent) -> PlannedStop:
    """A delivery the plan lost track of: the courier still takes it home."""
    rec = st.records.orders[ag.cargo[0]]
    now = st.clock.now()
    return PlannedStop(StopKind.DROPOFF, rec.id, rec.dropoff, now, now)


def act(st: SimState, ag: Agent) -> None:
    """Decide what the worker does now, given its route."""
    if ag.state in ("off", "service"):
        return
    if ag.state == "moving" and st.world.mdrp:
        return  # MDRP couriers are never diverted mid-leg
    stop = next_stop(st, ag)
    if stop is None:
        if ag.target is not None and ag.target[0] == RETURN and ag.on_shift:
            return  # already riding back towards the merchants
        if ag.state == "moving":
            ag.halt(st.clock.now())
        ag.state = "idle"
        ag.target = ag.stop = None
        ag.bump()
        if not ag.on_shift and not ag.cargo:
            go_off(st, ag)
        else:
            return_to_merchants(st, ag)
        return
    key = (stop.kind.value, stop.entity_id)
    if key == ag.target and ag.state in ("moving", "waiting", "parked"):
        if st.world.mdrp and ag.state == "waiting" and stop.kind == StopKind.PICKUP:
            _wait_for_bundle(st, ag)  # the plan may have changed the bundle it waits for
        return
    if ag.state == "moving":
        ag.halt(st.clock.now())
    go(st, ag, stop)


#: Target marker of an idle courier riding back towards the merchants.
RETURN = "return"


def return_to_merchants(st: SimState, ag: Agent) -> None:
    """An idle courier far from every merchant rides towards the nearest one."""
    w = st.world
    limit = w.behaviour.idle_return_m
    if limit <= 0 or w.mdrp or ag.plan.kind != WorkerKind.COURIER or not w.merchants:
        return
    vehicle = ag.plan.vehicle
    metres, nearest = min(
        ((w.travel.metres(vehicle, ag.pos, m.location), m) for m in w.merchants),
        key=lambda pair: pair[0],
    )
    if metres <= limit:
        return
    # Stop halfway inside the limit: close enough to wait, and clear of the trigger distance.
    share = 1.0 - 0.5 * limit / metres
    end = LatLng(
        ag.pos.lat + (nearest.location.lat - ag.pos.lat) * share,
        ag.pos.lng + (nearest.location.lng - ag.pos.lng) * share,
    )
    now = st.clock.now()
    travel = w.travel.seconds(vehicle, ag.pos, end)
    ag.leg = Leg(ag.pos, end, now, now + travel, w.travel.metres(vehicle, ag.pos, end))
    ag.label = ""
    ag.state = "moving"
    ag.target = (RETURN, nearest.id)
    ag.stop = None
    later(st, ag, travel, "settle")


def settle(st: SimState, ag: Agent) -> None:
    """The ride back ends: wait here for work."""
    ag.finish_leg()
    ag.state = "idle"
    ag.target = ag.stop = None
    act(st, ag)


def _label(st: SimState, stop: PlannedStop) -> str:
    if stop.kind == StopKind.PICKUP:
        merchant = st.records.orders[stop.entity_id].merchant
        return st.world.labels.get(merchant, merchant)
    if stop.kind == StopKind.DROPOFF:
        return st.records.orders[stop.entity_id].ref or stop.entity_id
    return stop.entity_id


def go(st: SimState, ag: Agent, stop: PlannedStop) -> None:
    w = st.world
    now = st.clock.now()
    travel = (
        0.0 if ag.pos == stop.location else w.travel.seconds(ag.plan.vehicle, ag.pos, stop.location)
    )
    ag.target = (stop.kind.value, stop.entity_id)
    ag.stop = stop
    if stop.kind == StopKind.JOB:
        job = st.records.jobs[stop.entity_id]
        if job.window is not None:
            depart = w.t0 + job.window[0] - travel - w.behaviour.technician_lead_s
            if depart > now + 1e-6:
                ag.state = "parked"
                later(st, ag, depart - now, "wake")
                return
        if st.engine.get_job(job.id).state == JobState.ASSIGNED:
            try:
                st.engine.job_event(job.id, "started", ag.id)
            except Conflict as exc:
                st.conflict("job start", exc)
                ag.state, ag.target, ag.stop = "idle", None, None
                return
    if w.mdrp:
        dest = _label(st, stop)
        if dest != ag.label:
            st.records.moves.append(Move(ag.plan.ref or ag.id, st.now_s(), ag.label, dest))
    if travel <= 0:
        ag.leg = None
        arrive(st, ag)
        return
    ag.at_counter = None
    metres = w.travel.metres(ag.plan.vehicle, ag.pos, stop.location)
    ag.leg = Leg(ag.pos, stop.location, now, now + travel, metres)
    ag.label = ""
    ag.state = "moving"
    later(st, ag, travel, "arrive")


def wake(st: SimState, ag: Agent) -> None:
    ag.state = "idle"
    ag.target = ag.stop = None
    act(st, ag)


def arrive(st: SimState, ag: Agent) -> None:
    stop = ag.stop
    assert stop is not None
    ag.finish_leg()
    if st.world.mdrp:
        ag.label = _label(st, stop)
    now = st.clock.now()
    if stop.kind == StopKind.PICKUP:
        report_arrival(st, ag, stop.entity_id)
        ag.state = "waiting"
        if st.world.mdrp:
            if ag.at_counter is None:
                ag.at_counter = now
            _wait_for_bundle(st, ag)
            return
        ready_at = st.world.t0 + st.records.orders[stop.entity_id].ready_s
        later(st, ag, max(st.world.handover_s, ready_at - now), "ready")
    elif stop.kind == StopKind.DROPOFF:
        ag.state = "service"
        if st.world.handover_s > 0:
            later(st, ag, st.world.handover_s, "handover")
        else:
            handover(st, ag)
    else:
        job = st.records.jobs[stop.entity_id]
        start = now if job.window is None else max(now, st.world.t0 + job.window[0])
        ag.state = "waiting"
        later(st, ag, start - now, "ready")


def report_arrival(st: SimState, ag: Agent, order_id: str) -> None:
    """Tell the engine the courier stands at the order's counter to collect it, as its app
    would (``arrived_at_pickup``): not for an order no longer this courier's, nor one its
    route no longer collects here first (an MDRP courier, never diverted mid-leg, may reach
    a counter its plan has since moved on from, and leaves again at once)."""
    o = st.engine.get_order(order_id)
    if o.worker_id != ag.id or o.state != OrderState.ASSIGNED:
        return
    if not collects_first_here(st.engine.route(ag.id), o):
        return
    try:
        st.engine.order_event(order_id, "arrived_at_pickup", ag.id)
    except Conflict as exc:
        st.conflict("arrival", exc)


def _release(st: SimState, ag: Agent) -> None:
    """The target is gone: think again."""
    ag.state = "idle"
    ag.target = ag.stop = None
    ag.bump()
    act(st, ag)


def ready(st: SimState, ag: Agent) -> None:
    """The order is ready (or the window opens) while the worker is there."""
    stop = ag.stop
    assert stop is not None
    if stop.kind == StopKind.JOB:
        try:
            st.engine.job_event(stop.entity_id, "arrived", ag.id)
        except Conflict as exc:
            st.conflict("job arrival", exc)
            _release(st, ag)
            return
        ag.state = "service"
        duration = st.engine.get_job(stop.entity_id).duration_s
        ag.service_s += duration
        later(st, ag, duration, "free")
        ag.stop = PlannedStop(StopKind.JOB, stop.entity_id, stop.location, 0.0, 0.0)
        return
    if st.world.mdrp:
        _pickup_bundle(st, ag, stop)
        return
    o = st.engine.get_order(stop.entity_id)
    if o.worker_id != ag.id or o.state != OrderState.ASSIGNED:
        _release(st, ag)
        return
    try:
        st.engine.order_event(o.id, "picked_up", ag.id)
    except Conflict as exc:
        st.conflict("pickup", exc)
        _release(st, ag)
        return
    ag.cargo.append(o.id)
    service = st.world.settings.pickup_service_s
    ag.service_s += service
    ag.state = "service"
    later(st, ag, service - st.world.handover_s, "free")


def _bundle(st: SimState, ag: Agent, stop: PlannedStop) -> list[str]:
    """MDRP: the orders the courier's route collects at ``stop``'s merchant now, in one go."""
    orders = st.records.orders
    merchant = orders[stop.entity_id].merchant
    bundle = []
    for planned in st.engine.route(ag.id):
        if planned.kind != StopKind.PICKUP or orders[planned.entity_id].merchant != merchant:
            break
        bundle.append(planned.entity_id)
    return bundle


def _wait_for_bundle(st: SimState, ag: Agent) -> None:
    """MDRP: wait at the counter until the bundle the route collects here now is handed
    over: the hand-over after the courier reached the counter, and every member ready.

    Recomputed whenever a tick leaves the courier waiting here: a member taken away (or
    added) moves the hand-over, so the rest is not held for food no longer its own.
    """
    stop = ag.stop
    assert stop is not None
    now = st.clock.now()
    arrived = now if ag.at_counter is None else ag.at_counter
    t0 = st.world.t0
    ready_at = [t0 + st.records.orders[oid].ready_s for oid in _bundle(st, ag, stop)]
    due = max([arrived + st.world.handover_s, *ready_at])
    later(st, ag, due - now, "ready")


def _pickup_bundle(st: SimState, ag: Agent, stop: PlannedStop) -> None:
    """MDRP: pick up every order the route collects here now, as one bundle."""
    now = st.clock.now()
    orders = st.records.orders
    bundle = _bundle(st, ag, stop)
    if not bundle:
        _release(st, ag)
        return
    latest = max(st.world.t0 + orders[oid].ready_s for oid in bundle)
    if latest > now + 1e-6:
        later(st, ag, latest - now, "ready")
        return
    if now > st.world.t0 + ag.plan.end_s + 1e-6:
        ag.state, ag.target, ag.stop = "idle", None, None
        ag.bump()
        if not ag.cargo:
            go_off(st, ag)  # MDRP: no pickups after the off time
        return
    assigned = []
    for oid in bundle:
        try:
            o = st.engine.order_event(oid, "picked_up", ag.id)
        except Conflict as exc:
            st.conflict("pickup", exc)
            continue
        ag.cargo.append(oid)
        assigned.append(o.assigned_at or now)
    if not assigned:
        _release(st, ag)
        return
    ag.at_counter = None
    ag.trip = Trip(
        ag.plan.ref or ag.id,
        max(assigned) - st.world.t0,
        st.now_s(),
        orders[bundle[0]].merchant,
    )
    st.records.trips.append(ag.trip)
    service = st.world.settings.pickup_service_s
    ag.service_s += service
    ag.state = "service"
    later(st, ag, service - st.world.handover_s, "free")


def handover(st: SimState, ag: Agent) -> None:
    """Hand a delivery over at the door."""
    stop = ag.stop
    assert stop is not None
    oid = stop.entity_id
    service = st.world.settings.dropoff_service_s
    try:
        st.engine.order_event(oid, "delivered", ag.id)
    except Conflict as exc:
        st.conflict("delivery", exc)
    else:
        rec = st.records.orders[oid]
        rec.delivered_s = st.now_s()
        st.note_delivery(rec)
        if ag.trip is not None and oid in ag.cargo:
            ag.trip.orders.append(oid)
    if oid in ag.cargo:
        ag.cargo.remove(oid)
    if not ag.cargo:
        ag.trip = None
    ag.service_s += service
    ag.state = "service"
    later(st, ag, service - st.world.handover_s, "free")


def free(st: SimState, ag: Agent) -> None:
    """Service is over (a pickup, a drop-off or a job)."""
    stop = ag.stop
    if stop is not None and stop.kind == StopKind.JOB:
        try:
            st.engine.job_event(stop.entity_id, "completed", ag.id)
        except Conflict as exc:
            st.conflict("job completion", exc)
    ag.state = "idle"
    ag.target = ag.stop = None
    ag.bump()
    act(st, ag)
