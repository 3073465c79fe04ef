"""What simulated workers do: follow their committed route, stop by stop.

Workers read their route from the engine (``Engine.route``) after every tick
and after every stop, and report progress with ``order_event`` / ``job_event``.
With ``World.mdrp`` they follow the MDRP's rules: a trip picks up one bundle at
one merchant and delivers all of it before the next pickup, a courier never
turns around mid-leg, and nothing is picked up after the courier's off time.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

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
from simulations._events import AGENT
from simulations.agents import Agent, Leg, Move, Trip

if TYPE_CHECKING:
    from simulations.simulator import Simulation


def later(sim: Simulation, ag: Agent, delay_s: float, action: str) -> None:
    """Schedule the agent's next step; any newer decision makes it void."""
    sim.at(sim.now_s() + max(0.0, delay_s), AGENT, "agent", action, ag.id, ag.bump())


def go_off(sim: Simulation, ag: Agent) -> None:
    ag.state = "off"
    ag.target = ag.stop = None
    ag.bump()
    p = ag.pos
    sim.engine.update_location(
        LocationUpdate(ag.id, p.lat, p.lng, ts=sim.clock.now(), status=WorkerStatus.OFFLINE)
    )


def next_stop(sim: Simulation, ag: Agent) -> PlannedStop | None:
    """The stop the worker should head for now, from its committed route."""
    route = sim.engine.route(ag.id)
    if sim.world.mdrp and ag.cargo:  # finish the trip before anything else
        if route and not (route[0].kind == StopKind.DROPOFF and route[0].entity_id in ag.cargo):
            # the plan wanted something else first: counted once per trip
            sim.trip_rule_flags.add((ag.id, ag.trip.pickup_s if ag.trip else -1.0))
        for st in route:
            if st.kind == StopKind.DROPOFF and st.entity_id in ag.cargo:
                return st
        return _cargo_stop(sim, ag)
    if route:
        return route[0]
    return _cargo_stop(sim, ag) if ag.cargo else None


def _cargo_stop(sim: Simulation, ag: Agent) -> PlannedStop:
    """A delivery the plan lost track of: the courier still takes it home."""
    rec = sim.orders[ag.cargo[0]]
    now = sim.clock.now()
    return PlannedStop(StopKind.DROPOFF, rec.id, rec.dropoff, now, now)


def act(sim: Simulation, ag: Agent) -> None:
    """Decide what the worker does now, given its route."""
    if ag.state in ("off", "service"):
        return
    if ag.state == "moving" and sim.world.mdrp:
        return  # MDRP couriers are never diverted mid-leg
    stop = next_stop(sim, ag)
    if stop is None:
        if ag.target is not None and ag.target[0] == RETURN and ag.on_shift:
            return  # already riding back towards the merchants
        if ag.state == "moving":
            ag.halt(sim.clock.now())
        ag.state = "idle"
        ag.target = ag.stop = None
        ag.bump()
        if not ag.on_shift and not ag.cargo:
            go_off(sim, ag)
        else:
            return_to_merchants(sim, ag)
        return
    key = (stop.kind.value, stop.entity_id)
    if key == ag.target and ag.state in ("moving", "waiting", "parked"):
        return
    if ag.state == "moving":
        ag.halt(sim.clock.now())
    go(sim, ag, stop)


#: Target marker of an idle courier riding back towards the merchants.
RETURN = "return"


def return_to_merchants(sim: Simulation, ag: Agent) -> None:
    """An idle courier far from every merchant rides towards the nearest one."""
    w = sim.world
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
    now = sim.clock.now()
    travel = w.travel.seconds(vehicle, ag.pos, end)
    ag.leg = Leg(ag.pos, end, now, now + travel, w.travel.metres(vehicle, ag.pos, end))
    ag.label = ""
    ag.state = "moving"
    ag.target = (RETURN, nearest.id)
    ag.stop = None
    later(sim, ag, travel, "settle")


def settle(sim: Simulation, ag: Agent) -> None:
    """The ride back ends: wait here for work."""
    ag.finish_leg()
    ag.state = "idle"
    ag.target = ag.stop = None
    act(sim, ag)


def _label(sim: Simulation, stop: PlannedStop) -> str:
    if stop.kind == StopKind.PICKUP:
        merchant = sim.orders[stop.entity_id].merchant
        return sim.world.labels.get(merchant, merchant)
    if stop.kind == StopKind.DROPOFF:
        return sim.orders[stop.entity_id].ref or stop.entity_id
    return stop.entity_id


def go(sim: Simulation, ag: Agent, stop: PlannedStop) -> None:
    w = sim.world
    now = sim.clock.now()
    travel = (
        0.0 if ag.pos == stop.location else w.travel.seconds(ag.plan.vehicle, ag.pos, stop.location)
    )
    ag.target = (stop.kind.value, stop.entity_id)
    ag.stop = stop
    if stop.kind == StopKind.JOB:
        job = sim.jobs[stop.entity_id]
        if job.window is not None:
            depart = w.t0 + job.window[0] - travel - w.behaviour.technician_lead_s
            if depart > now + 1e-6:
                ag.state = "parked"
                later(sim, ag, depart - now, "wake")
                return
        if sim.engine.get_job(job.id).state == JobState.ASSIGNED:
            try:
                sim.engine.job_event(job.id, "started", ag.id)
            except Conflict as exc:
                sim.conflict("job start", exc)
                ag.state, ag.target, ag.stop = "idle", None, None
                return
    if w.mdrp:
        dest = _label(sim, stop)
        if dest != ag.label:
            sim.moves.append(Move(ag.plan.ref or ag.id, sim.now_s(), ag.label, dest))
    if travel <= 0:
        ag.leg = None
        arrive(sim, ag)
        return
    metres = w.travel.metres(ag.plan.vehicle, ag.pos, stop.location)
    ag.leg = Leg(ag.pos, stop.location, now, now + travel, metres)
    ag.label = ""
    ag.state = "moving"
    later(sim, ag, travel, "arrive")


def wake(sim: Simulation, ag: Agent) -> None:
    ag.state = "idle"
    ag.target = ag.stop = None
    act(sim, ag)


def arrive(sim: Simulation, ag: Agent) -> None:
    stop = ag.stop
    assert stop is not None
    ag.finish_leg()
    if sim.world.mdrp:
        ag.label = _label(sim, stop)
    now = sim.clock.now()
    if stop.kind == StopKind.PICKUP:
        ready_at = sim.world.t0 + sim.orders[stop.entity_id].ready_s
        ag.state = "waiting"
        later(sim, ag, max(sim.world.handover_s, ready_at - now), "ready")
    elif stop.kind == StopKind.DROPOFF:
        ag.state = "service"
        if sim.world.handover_s > 0:
            later(sim, ag, sim.world.handover_s, "handover")
        else:
            handover(sim, ag)
    else:
        job = sim.jobs[stop.entity_id]
        start = now if job.window is None else max(now, sim.world.t0 + job.window[0])
        ag.state = "waiting"
        later(sim, ag, start - now, "ready")


def _release(sim: Simulation, ag: Agent) -> None:
    """The target is gone: think again."""
    ag.state = "idle"
    ag.target = ag.stop = None
    ag.bump()
    act(sim, ag)


def ready(sim: Simulation, ag: Agent) -> None:
    """The order is ready (or the window opens) while the worker is there."""
    stop = ag.stop
    assert stop is not None
    if stop.kind == StopKind.JOB:
        try:
            sim.engine.job_event(stop.entity_id, "arrived", ag.id)
        except Conflict as exc:
            sim.conflict("job arrival", exc)
            _release(sim, ag)
            return
        ag.state = "service"
        duration = sim.engine.get_job(stop.entity_id).duration_s
        ag.service_s += duration
        later(sim, ag, duration, "free")
        ag.stop = PlannedStop(StopKind.JOB, stop.entity_id, stop.location, 0.0, 0.0)
        return
    if sim.world.mdrp:
        _pickup_bundle(sim, ag, stop)
        return
    o = sim.engine.get_order(stop.entity_id)
    if o.worker_id != ag.id or o.state != OrderState.ASSIGNED:
        _release(sim, ag)
        return
    try:
        sim.engine.order_event(o.id, "picked_up", ag.id)
    except Conflict as exc:
        sim.conflict("pickup", exc)
        _release(sim, ag)
        return
    ag.cargo.append(o.id)
    service = sim.world.settings.pickup_service_s
    ag.service_s += service
    ag.state = "service"
    later(sim, ag, service - sim.world.handover_s, "free")


def _pickup_bundle(sim: Simulation, ag: Agent, stop: PlannedStop) -> None:
    """MDRP: pick up every order the route collects here now, as one bundle."""
    now = sim.clock.now()
    route = sim.engine.route(ag.id)
    merchant = sim.orders[stop.entity_id].merchant
    bundle = []
    for st in route:
        if st.kind != StopKind.PICKUP or sim.orders[st.entity_id].merchant != merchant:
            break
        bundle.append(st.entity_id)
    if not bundle:
        _release(sim, ag)
        return
    latest = max(sim.world.t0 + sim.orders[oid].ready_s for oid in bundle)
    if latest > now + 1e-6:
        later(sim, ag, latest - now, "ready")
        return
    if now > sim.world.t0 + ag.plan.end_s + 1e-6:
        ag.state, ag.target, ag.stop = "idle", None, None
        ag.bump()
        if not ag.cargo:
            go_off(sim, ag)  # MDRP: no pickups after the off time
        return
    assigned = []
    for oid in bundle:
        try:
            o = sim.engine.order_event(oid, "picked_up", ag.id)
        except Conflict as exc:
            sim.conflict("pickup", exc)
            continue
        ag.cargo.append(oid)
        assigned.append(o.assigned_at or now)
    if not assigned:
        _release(sim, ag)
        return
    ag.trip = Trip(
        ag.plan.ref or ag.id,
        max(assigned) - sim.world.t0,
        sim.now_s(),
        sim.orders[bundle[0]].merchant,
    )
    sim.trips.append(ag.trip)
    service = sim.world.settings.pickup_service_s
    ag.service_s += service
    ag.state = "service"
    later(sim, ag, service - sim.world.handover_s, "free")


def handover(sim: Simulation, ag: Agent) -> None:
    """Hand a delivery over at the door."""
    stop = ag.stop
    assert stop is not None
    oid = stop.entity_id
    service = sim.world.settings.dropoff_service_s
    try:
        sim.engine.order_event(oid, "delivered", ag.id)
    except Conflict as exc:
        sim.conflict("delivery", exc)
    else:
        rec = sim.orders[oid]
        rec.delivered_s = sim.now_s()
        sim.note_delivery(rec)
        if ag.trip is not None and oid in ag.cargo:
            ag.trip.orders.append(oid)
    if oid in ag.cargo:
        ag.cargo.remove(oid)
    if not ag.cargo:
        ag.trip = None
    ag.service_s += service
    ag.state = "service"
    later(sim, ag, service - sim.world.handover_s, "free")


def free(sim: Simulation, ag: Agent) -> None:
    """Service is over (a pickup, a drop-off or a job)."""
    stop = ag.stop
    if stop is not None and stop.kind == StopKind.JOB:
        try:
            sim.engine.job_event(stop.entity_id, "completed", ag.id)
        except Conflict as exc:
            sim.conflict("job completion", exc)
    ag.state = "idle"
    ag.target = ag.stop = None
    ag.bump()
    act(sim, ag)
