"""Building a tick's problem: a snapshot of open work and workers → one RoutingProblem.

Pure: the same snapshot, settings and travel model give the same problem.

Time inside the problem is whole seconds from the tick's ``now``; distances are metres.
Deliveries are pickup-delivery pairs; every second until the door costs (weighted by
member tier) and a pickup too late for a direct ride to keep the promise costs more;
orders already on board are deliveries committed to their courier (with the load in the
courier's initial load); with the community's one-merchant-per-trip rule each order's
merchant is its trip group and a bundle pays one hand-over at the counter; on an
overloaded tick (more orders waiting than couriers, every second to the door priced) a
courier's riding second is priced too, so bundles that free couriers pay; a courier's
shift end (less the hand-over) is its last pickup, its deliveries may follow (see
``_shift_ends``); couriers that finish what they begin (``EngineSettings.rides_finish``,
the MDRP's rule) are planned from the counter they ride to and from the end of the
service they are in (see ``_finish_rides``); technician jobs are single stops restricted
by skills and rating (see ``job_timing`` for their windows and deadlines). Already
assigned work prefers its worker (churn penalty). Candidate couriers per order are
pruned to the nearest few by travel time, plus the current assignee and the couriers
already bound for the order's merchant.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from dispatch.model import (
    PRIORITY_WEIGHT,
    Community,
    Job,
    JobState,
    LatLng,
    Order,
    OrderState,
    StopKind,
    Worker,
    WorkerKind,
    WorkerStatus,
)
from dispatch.settings import EngineSettings
from dispatch.tick.snapshot import TickSnapshot
from geo import MatrixProvider
from solver.problem import HORIZON_MAX, NONE, RoutingProblem

#: Most a riding second of a courier costs on an overloaded tick, as a share of the time
#: price of an order's second to the door (see ``_price_courier_time``).
OVERLOAD_PRICE_CAP = 1.0

__all__ = [
    "StopRef",
    "TickProblem",
    "build_problem",
    "build_tick_problem",
    "dispatchable",
    "job_timing",
]


@dataclass(frozen=True)
class StopRef:
    """What a problem stop stands for."""

    kind: StopKind
    entity_id: str
    location: LatLng


@dataclass
class TickProblem:
    """A built problem with the maps back to the domain."""

    problem: RoutingProblem
    stops: list[StopRef]
    workers: list[Worker]
    orders: list[Order]
    jobs: list[Job]
    initial_routes: list[list[int]] = field(default_factory=list)


def dispatchable(worker: Worker, now: float, settings: EngineSettings) -> bool:
    """Fresh position, on shift, and willing to work."""
    if worker.status not in (WorkerStatus.AVAILABLE, WorkerStatus.BUSY):
        return False
    if worker.position is None or worker.position_ts is None:
        return False
    if now - worker.position_ts > settings.location_staleness_s:
        return False
    return worker.shift_end is None or worker.shift_end > now


def _rel(t: float | None, now: float) -> int:
    """Seconds from now, clamped into [0, HORIZON_MAX] (the solver's clock starts at the
    tick; a time stored far out by an older version must not overflow its arrays)."""
    if t is None:
        return 0
    return int(min(HORIZON_MAX, max(0, math.floor(t - now))))


def job_timing(job: Job, now: float, settings: EngineSettings) -> dict[str, int]:
    """A technician job's window start (hard), due time (soft) and cost per second late.

    An emergency costs ``emergency_weight`` a second from ``emergency_buffer_s``
    before its SLA ends, so plans reach it with time to spare. A booked job may
    not start before its window opens, and each second past the window's end
    costs ``window_cost_per_s`` while the window can still be kept: an emergency
    (heavier) may push a booked job late when nothing less disruptive reaches
    it, and a window no technician can keep any more is served late rather than
    dropped. Once the window has closed, the job costs only
    ``lateness_cost_per_s`` a second, so serving it never makes a job that can
    still be on time late. Jobs without a window are due by their ``due_by``
    (if any) at ``lateness_cost_per_s``.
    """
    if job.emergency:
        soft = max(0, _rel(job.due_by, now) - settings.emergency_buffer_s)
        return {"soft": soft, "weight": settings.emergency_weight}
    if job.window_start is not None and job.window_end is not None:
        open_window = job.window_end > now
        return {
            "tw_start": _rel(job.window_start, now),
            "soft": _rel(job.window_end, now),
            "weight": settings.window_cost_per_s if open_window else settings.lateness_cost_per_s,
        }
    due = _rel(job.due_by, now) if job.due_by is not None else NONE
    return {"soft": due, "weight": settings.lateness_cost_per_s}


def build_tick_problem(
    snap: TickSnapshot, settings: EngineSettings, matrices: MatrixProvider
) -> TickProblem:
    """The routing problem of a snapshot, warm-started from its committed plan."""
    return build_problem(
        snap.community,
        snap.workers,
        snap.orders,
        snap.jobs,
        snap.previous_routes(),
        snap.now,
        settings,
        matrices,
        at_doors=_at_doors(snap) if settings.rides_finish else None,
    )


def _at_doors(snap: TickSnapshot) -> dict[str, float]:
    """Per courier, when it leaves the door of a delivery it made since the plan.

    The plan's drop-off ends a drop-off service after its arrival; an order handed
    over since (no longer open) leaves its courier at that door until then.
    """
    if snap.plan is None:
        return {}
    still_open = {o.id for o in snap.orders}
    out: dict[str, float] = {}
    for wid, stops in snap.plan.routes.items():
        for stop in stops:
            if stop.kind != StopKind.DROPOFF or stop.entity_id in still_open:
                continue
            if stop.eta <= snap.now < stop.departs:
                out[wid] = max(out.get(wid, stop.departs), stop.departs)
    return out


def build_problem(
    community: Community,
    workers: Sequence[Worker],
    orders: Sequence[Order],
    jobs: Sequence[Job],
    previous_routes: dict[str, list[tuple[StopKind, str]]],
    now: float,
    settings: EngineSettings,
    matrices: MatrixProvider,
    *,
    at_doors: dict[str, float] | None = None,
) -> TickProblem:
    """Translate the community's state into one RoutingProblem.

    ``at_doors``: couriers still serving a door, with when they leave it (epoch s).
    """
    fleet = [w for w in workers if dispatchable(w, now, settings)]
    index = {w.id: k for k, w in enumerate(fleet)}
    open_orders = [
        o
        for o in orders
        if o.state in (OrderState.PENDING, OrderState.ASSIGNED)
        or (o.state == OrderState.PICKED_UP and o.worker_id in index)
    ]
    open_jobs = [
        j
        for j in jobs
        if j.state in (JobState.PENDING, JobState.ASSIGNED)
        or (j.state in (JobState.EN_ROUTE, JobState.IN_SERVICE) and j.worker_id in index)
    ]

    points: list[LatLng] = [w.position for w in fleet if w.position is not None]
    stops: list[StopRef] = []
    loc: list[int] = []
    service: list[int] = []
    demand: list[int] = []
    tw_start: list[int] = []
    tw_end: list[int] = []
    soft: list[int] = []
    weight: list[int] = []
    drop: list[int] = []
    committed: list[int] = []
    preferred: list[int] = []
    allowed: list[frozenset[int] | None] = []
    pairs: list[tuple[int, int]] = []
    group: list[int] = []
    merchant_group: dict[tuple[str, ...], int] = {}

    def group_of(o: Order) -> int:
        """The order's merchant as a trip group (when trips keep to one merchant)."""
        if not community.single_merchant_trips:
            return NONE
        key = (
            ("id", o.merchant_id)
            if o.merchant_id
            else ("at", f"{o.pickup.lat:.6f}", f"{o.pickup.lng:.6f}")
        )
        return merchant_group.setdefault(key, len(merchant_group))

    initial_load = np.zeros(len(fleet), dtype=np.int64)
    busy_until = np.zeros(len(fleet), dtype=np.int64)
    for wid, leaves in (at_doors or {}).items():
        if wid in index:
            busy_until[index[wid]] = max(busy_until[index[wid]], _rel(leaves, now))

    couriers = [k for k, w in enumerate(fleet) if w.kind == WorkerKind.COURIER]
    # the community's bundling rule, and the courier's own bag (see ``_trip_capacity``)
    capacity = np.array(
        [
            community.orders_per_trip(w.capacity) if w.kind == WorkerKind.COURIER else 0
            for w in fleet
        ],
        dtype=np.int64,
    )
    bag = np.array(
        [w.capacity if w.kind == WorkerKind.COURIER else 0 for w in fleet], dtype=np.int64
    )

    def add_stop(ref: StopRef, **values: int | frozenset[int] | None) -> int:
        points.append(ref.location)
        stops.append(ref)
        loc.append(len(points) - 1)
        service.append(int(values.get("service", 0)))  # type: ignore[arg-type]
        demand.append(int(values.get("demand", 0)))  # type: ignore[arg-type]
        tw_start.append(int(values.get("tw_start", 0)))  # type: ignore[arg-type]
        tw_end.append(int(values.get("tw_end", HORIZON_MAX)))  # type: ignore[arg-type]
        soft.append(int(values.get("soft", NONE)))  # type: ignore[arg-type]
        weight.append(int(values.get("weight", 0)))  # type: ignore[arg-type]
        drop.append(int(values.get("drop", settings.drop_penalty)))  # type: ignore[arg-type]
        committed.append(int(values.get("committed", NONE)))  # type: ignore[arg-type]
        preferred.append(int(values.get("preferred", NONE)))  # type: ignore[arg-type]
        allowed.append(values.get("allowed"))  # type: ignore[arg-type]
        group.append(int(values.get("group", NONE)))  # type: ignore[arg-type]
        return len(stops) - 1

    courier_set = frozenset(couriers)
    # Without anyone to dispatch there is nothing to route (and no matrix to build).
    for o in open_orders if fleet else ():
        w = PRIORITY_WEIGHT[o.priority] * settings.lateness_cost_per_s
        deadline = _rel(o.promised_by, now)
        if o.state == OrderState.PICKED_UP:
            k = index[str(o.worker_id)]
            initial_load[k] += o.size
            if settings.rides_finish and o.picked_up_at is not None:
                # the courier finishes the pickup service it began before it rides on
                left = o.picked_up_at + settings.pickup_service_s - settings.handover_s
                busy_until[k] = max(busy_until[k], _rel(left, now))
            add_stop(
                StopRef(StopKind.DROPOFF, o.id, o.dropoff),
                service=settings.dropoff_service_s,
                demand=-o.size,
                soft=deadline,
                weight=w,
                committed=k,
                group=group_of(o),
            )
            continue
        fits = frozenset(k for k in couriers if capacity[k] >= o.size)
        trip = group_of(o)
        prefer = index.get(o.worker_id, NONE) if o.worker_id else NONE
        p = add_stop(
            StopRef(StopKind.PICKUP, o.id, o.pickup),
            service=settings.pickup_service_s,
            demand=o.size,
            tw_start=_rel(o.ready_at, now),
            drop=settings.drop_penalty,
            preferred=prefer,
            allowed=fits if fits != courier_set else None,
            group=trip,
        )
        d = add_stop(
            StopRef(StopKind.DROPOFF, o.id, o.dropoff),
            service=settings.dropoff_service_s,
            demand=-o.size,
            soft=deadline,
            weight=w,
            drop=settings.drop_penalty,
            preferred=prefer,
            allowed=fits if fits != courier_set else None,
            group=trip,
        )
        pairs.append((p, d))

    technicians = [k for k, w in enumerate(fleet) if w.kind == WorkerKind.TECHNICIAN]
    for j in open_jobs if fleet else ():
        fits = frozenset(
            k
            for k in technicians
            if j.skills <= fleet[k].skills
            and (j.min_rating is None or fleet[k].rating >= j.min_rating)
        )
        duration = max(0, math.ceil(j.duration_s))
        timing = job_timing(j, now, settings)
        if j.state in (JobState.EN_ROUTE, JobState.IN_SERVICE):
            k = index[str(j.worker_id)]
            if j.state == JobState.IN_SERVICE:
                # The technician is on site: busy until the job ends, then free.
                end = (j.arrived_at or now) + j.duration_s
                busy_until[k] = max(busy_until[k], _rel(end, now))
                continue
            # On its way: the job stays with its technician, who still waits for the window.
            add_stop(
                StopRef(StopKind.JOB, j.id, j.location), service=duration, committed=k, **timing
            )
            continue
        prefer = index.get(j.worker_id, NONE) if j.worker_id else NONE
        add_stop(
            StopRef(StopKind.JOB, j.id, j.location),
            service=duration,
            preferred=prefer,
            allowed=fits,
            drop=settings.drop_penalty * (10 if j.emergency else 1),
            **timing,
        )

    profiles = sorted({w.vehicle.value for w in fleet}) or ["bicycle"]
    profile_of = {name: i for i, name in enumerate(profiles)}
    if points:
        dist, times = matrices.matrices([p.lat for p in points], [p.lng for p in points], profiles)
    else:
        dist = np.zeros((0, 0), dtype=np.int64)
        times = np.zeros((len(profiles), 0, 0), dtype=np.int64)

    # Deliveries are ridden by couriers: their promise is priced from the couriers'
    # profiles only (a technician's car, faster, would make pickups look later-safe).
    rides = sorted({profile_of[fleet[k].vehicle.value] for k in couriers}) or list(
        range(len(profiles))
    )
    courier_times = times[rides]
    fee_deadline, fee = _delivery_time_costs(
        open_orders, stops, pairs, loc, courier_times, soft, weight, settings
    )
    if community.single_merchant_trips:
        times = _one_handover_per_bundle(times, stops, loc, group, service)
        courier_times = times[rides]
    excess = _overload(len(pairs), len(couriers), settings)
    dist = _price_courier_time(dist, courier_times, excess, settings)
    capacity = _trip_capacity(capacity, bag, initial_load, excess)
    allowed_final = _prune(
        allowed, pairs, times, fleet, couriers, loc, profile_of, settings, preferred, group
    )
    shift_end = np.array(
        [_rel(w.shift_end, now) if w.shift_end is not None else HORIZON_MAX for w in fleet],
        dtype=np.int64,
    )
    pickup_end, route_end = _shift_ends(
        shift_end, busy_until, fleet, capacity, times, profile_of, settings
    )
    n_vehicles = len(fleet)
    problem = RoutingProblem(
        travel_time=times,
        travel_cost=dist,
        stop_location=np.array(loc, dtype=np.int64),
        vehicle_start=np.arange(n_vehicles, dtype=np.int64),
        service_time=np.array(service, dtype=np.int64),
        demand=np.array(demand, dtype=np.int64).reshape(-1, 1),
        tw_start=np.array(tw_start, dtype=np.int64),
        tw_end=np.array(tw_end, dtype=np.int64),
        soft_deadline=np.array(soft, dtype=np.int64),
        lateness_weight=np.array(weight, dtype=np.int64),
        fee_deadline=np.array(fee_deadline, dtype=np.int64),
        late_fee=np.array(fee, dtype=np.int64),
        drop_penalty=np.array(drop, dtype=np.int64),
        allowed_vehicles=tuple(allowed_final) if allowed_final else None,
        committed_vehicle=np.array(committed, dtype=np.int64),
        preferred_vehicle=np.array(preferred, dtype=np.int64),
        churn_penalty=np.full(len(stops), settings.churn_penalty, dtype=np.int64),
        pairs=np.array(pairs, dtype=np.int64).reshape(-1, 2),
        capacity=capacity.reshape(-1, 1),
        vehicle_initial_load=np.minimum(initial_load, capacity).reshape(-1, 1)
        if n_vehicles
        else None,
        vehicle_start_time=busy_until,
        vehicle_end_time=route_end,
        vehicle_pickup_end=pickup_end,
        vehicle_profile=np.array([profile_of[w.vehicle.value] for w in fleet], dtype=np.int64),
        trip_group=np.array(group, dtype=np.int64),
    )
    if settings.rides_finish:
        problem = _finish_rides(problem, stops, fleet, previous_routes, initial_load)
    tick = TickProblem(problem, stops, fleet, list(open_orders), list(open_jobs))
    tick.initial_routes = _warm_start(tick, previous_routes, index)
    return tick


def _finish_rides(
    problem: RoutingProblem,
    stops: Sequence[StopRef],
    fleet: Sequence[Worker],
    previous_routes: dict[str, list[tuple[StopKind, str]]],
    initial_load: np.ndarray,
) -> RoutingProblem:
    """Couriers that never turn round mid-ride are planned from the counter they ride to.

    A courier with nothing on board whose committed route begins with a pickup it is not
    at yet is riding there (it set off when that route reached it, and a ride, once begun,
    ends there). It keeps that order (pickup and drop-off committed to it) and starts at
    that counter when it gets there: its first pickup can be nothing else (the pickup's
    window closes then, or when the food is out), while the rest of its route, the
    bundle it collects there included, stays free. A courier that reaches the counter
    too late for its last pickup still starts there, and the order is free. Planning
    it from where it is now would let a tick send it elsewhere at once, or give its
    order to another courier, while it still rides to that counter: the ride is lost
    and the plan starts late.
    """
    pr = problem
    assert pr.vehicle_start_time is not None and pr.vehicle_end_time is not None
    assert pr.committed_vehicle is not None and pr.tw_start is not None
    assert pr.tw_end is not None and pr.vehicle_profile is not None
    assert pr.vehicle_pickup_end is not None
    lookup = {(ref.kind, ref.entity_id): i for i, ref in enumerate(stops)}
    pair_of = dict(pr.pairs_list())
    start = pr.vehicle_start.copy()
    start_time = pr.vehicle_start_time.copy()
    committed = pr.committed_vehicle.copy()
    tw_end = pr.tw_end.copy()
    changed = False
    for k, w in enumerate(fleet):
        route = previous_routes.get(w.id) or []
        if w.kind != WorkerKind.COURIER or initial_load[k] > 0 or not route:
            continue
        kind, entity = route[0]
        p = lookup.get((kind, entity))
        if kind != StopKind.PICKUP or p is None or p not in pair_of:
            continue
        at = int(pr.stop_location[p])
        ride = int(pr.travel_time[int(pr.vehicle_profile[k]), int(start[k]), at])
        arrival = int(start_time[k]) + ride  # after any service it is still finishing
        if ride <= 0 or arrival > int(pr.vehicle_end_time[k]):
            continue  # at the counter already: free to leave for anything
        start[k] = at
        start_time[k] = arrival
        changed = True
        # it keeps the order only if it can still collect it (before its last pickup)
        collect = max(arrival, int(pr.tw_start[p]))
        allowed = pr.allowed_vehicles[p] if pr.allowed_vehicles is not None else None
        if committed[p] != NONE or (allowed is not None and k not in allowed):
            continue
        if collect > int(pr.vehicle_pickup_end[k]):
            continue
        committed[p] = committed[pair_of[p]] = k
        tw_end[p] = collect
    if not changed:
        return problem
    return problem.replace(
        vehicle_start=start,
        vehicle_start_time=start_time,
        committed_vehicle=committed,
        tw_end=tw_end,
    )


def _shift_ends(
    shift_end: np.ndarray,
    busy_until: np.ndarray,
    fleet: Sequence[Worker],
    capacity: np.ndarray,
    times: np.ndarray,
    profile_of: dict[str, int],
    settings: EngineSettings,
) -> tuple[np.ndarray, np.ndarray]:
    """Per worker, the latest pickup and the end of its route.

    A courier may not pick up after its shift ends but takes what it carries to
    the door (the MDRP's rule, and the simulator's for every scenario: an off-shift
    courier leaves only once its cargo is delivered). The food changes hands
    ``settings.handover_s`` into a pickup's service, so the last start of a pickup
    service is that long before the shift end (a plan that starts a pickup in the
    shift's last moments hands the food over after it, and loses the order), and its
    route may run on for as long as emptying a full load
    can take after a last pickup at the shift end: per order it can carry, the
    longest ride in this tick's matrix of its profile plus a hand-over at the door.
    That never cuts a plan that drives its last load straight to the doors (no
    delivery waits for a window), and keeps every route finite. A technician's
    shift bounds its whole route, as before (its jobs are not pickups).
    """
    pickup_end = np.full(len(fleet), HORIZON_MAX, dtype=np.int64)
    route_end = np.maximum(shift_end, busy_until)
    longest = times.reshape(times.shape[0], -1).max(axis=1) if times.size else None
    for k, w in enumerate(fleet):
        if w.kind != WorkerKind.COURIER or shift_end[k] >= HORIZON_MAX or longest is None:
            continue
        pickup_end[k] = max(0, route_end[k] - settings.handover_s)
        ride = int(longest[profile_of[w.vehicle.value]]) + settings.dropoff_service_s
        route_end[k] = min(HORIZON_MAX, route_end[k] + max(1, int(capacity[k])) * ride)
    return pickup_end, route_end


def _delivery_time_costs(
    orders: Sequence[Order],
    stops: list[StopRef],
    pairs: list[tuple[int, int]],
    loc: list[int],
    times: np.ndarray,
    soft: list[int],
    weight: list[int],
    settings: EngineSettings,
) -> tuple[list[int], list[int]]:
    """Price the promise with slack, or every second to the door; not only lateness.

    A cost only past the promise leaves the solver indifferent between handing
    an order over now or just before the promise, so it bundles and queues
    freely and any surprise (a late kitchen, a slow courier) makes the order
    late. So a dropoff costs ``promise_cost_per_s`` per second past the promise
    minus ``promise_buffer_s``: bundles that eat the buffer of an order, on board
    or not, pay for it. With no buffer set, every dropoff instead costs
    ``delivery_time_cost_per_s`` per second from now. Either way tiers multiply,
    and the pickup carries the promise's last moment: picking up after the last
    moment from which a direct ride still meets the promise costs
    ``promise_cost_per_s`` per second.

    With a buffer, a dropoff planned past the promise itself also pays
    ``promise_fee`` once (tiers multiply): a linear price spreads lateness over
    every order, while a customer counts a promise kept or broken, so the fee
    makes the search keep as many promises as it can. Returns the stops' fee
    deadlines and fees (``RoutingProblem.fee_deadline``, ``late_fee``).
    """
    fee_deadline = [NONE] * len(stops)
    fee = [0] * len(stops)
    if not stops:
        return fee_deadline, fee
    tier = {o.id: PRIORITY_WEIGHT[o.priority] for o in orders}
    if settings.promise_cost_per_s > 0 and times.shape[0]:
        fastest = times.min(axis=0)
        for p, d in pairs:
            if soft[d] == NONE:
                continue
            direct = int(fastest[loc[p], loc[d]]) + settings.pickup_service_s
            soft[p] = max(0, soft[d] - direct)
            weight[p] = settings.promise_cost_per_s * tier[stops[p].entity_id]
    buffer = settings.promise_buffer_s
    for s, ref in enumerate(stops):
        if ref.kind != StopKind.DROPOFF:
            continue
        if buffer is not None and soft[s] != NONE:
            if settings.promise_fee > 0:
                fee_deadline[s] = soft[s]
                fee[s] = settings.promise_fee * tier[ref.entity_id]
            soft[s] = max(0, soft[s] - buffer)
            weight[s] = settings.promise_cost_per_s * tier[ref.entity_id]
        else:
            soft[s] = 0
            weight[s] = settings.delivery_time_cost_per_s * tier[ref.entity_id]
    return fee_deadline, fee


def _one_handover_per_bundle(
    times: np.ndarray,
    stops: list[StopRef],
    loc: list[int],
    group: list[int],
    service: list[int],
) -> np.ndarray:
    """A trip's pickups at its one merchant share one hand-over, not one each.

    A courier collects a bundle at the counter in one go, so pricing a service
    per order made every second order of a bundle look a hand-over later than it
    is. The pickup service moves from the stop onto every ride that leaves it
    for anywhere but another pickup at the same merchant (the same trip group):
    a bundle pays it once, after its last pickup, and every schedule, lateness
    and check stays exact. ``service`` is updated in place; ``times`` is copied.
    """
    members: dict[int, list[int]] = {}
    for s, ref in enumerate(stops):
        if ref.kind == StopKind.PICKUP and group[s] != NONE and service[s] > 0:
            members.setdefault(group[s], []).append(s)
    if not members:
        return times
    out = times.copy()
    for same in members.values():
        for svc in sorted({service[s] for s in same}):
            at = np.array([loc[s] for s in same if service[s] == svc], dtype=np.int64)
            out[:, at, :] += svc
            out[:, at[:, None], np.array([loc[s] for s in same])[None, :]] -= svc
        for s in same:
            service[s] = 0
    return out


def _overload(waiting: int, couriers: int, settings: EngineSettings) -> float:
    """Orders waiting for pickup beyond one per courier, per courier (0: a calm tick).

    Only when every second to the door is priced (``promise_buffer_s`` None, the MDRP
    replay's mode); a promise with a buffer prices its own urgency.
    """
    if settings.promise_buffer_s is not None or couriers == 0:
        return 0.0
    return max(0.0, waiting / couriers - 1.0)


def _price_courier_time(
    dist: np.ndarray, times: np.ndarray, excess: float, settings: EngineSettings
) -> np.ndarray:
    """On an overloaded tick, a courier's second costs what the waiting orders lose by it.

    A tick prices only the orders it sees, so with couriers free now it sends each
    order alone and the orders placed a minute later find no one (the myopia that
    kept bundles rare on overloaded MDRP days). When more orders wait for pickup than
    there are couriers (``excess`` > 0, see ``_overload``), each riding second (the
    shared hand-over of a bundle included) costs the time price times the orders
    beyond one per courier, capped at ``OVERLOAD_PRICE_CAP`` of it: a bundle that
    frees a courier pays where the fleet cannot carry the load in single trips, and
    changes nothing on a calm tick.
    """
    per_s = settings.delivery_time_cost_per_s * min(OVERLOAD_PRICE_CAP, excess)
    if per_s <= 0 or not times.shape[0]:
        return dist
    return dist + np.rint(per_s * times.min(axis=0)).astype(np.int64)


def _trip_capacity(
    rule: np.ndarray, bag: np.ndarray, on_board: np.ndarray, excess: float
) -> np.ndarray:
    """Most orders per courier in this tick: the community's rule, its bag when overloaded.

    The community's ``max_orders_per_trip`` is how many orders a courier takes on a
    calm tick; the courier's own ``capacity`` is what its bag holds. When more orders
    wait than the couriers can take one at a time (``excess`` > 0), a bundle beyond the
    rule carries load that single trips cannot, so bundles may grow to the bag and the
    objective decides their size (each order's second to the door is still priced).
    A courier never gets less room than it already carries (a bundle started on an
    overloaded tick stays a plan the next, calmer tick can keep).
    """
    if excess > 0:
        return bag.copy()
    return np.minimum(bag, np.maximum(rule, on_board)).astype(np.int64)


def _prune(
    allowed: list[frozenset[int] | None],
    pairs: list[tuple[int, int]],
    times: np.ndarray,
    fleet: Sequence[Worker],
    couriers: list[int],
    loc: list[int],
    profile_of: dict[str, int],
    settings: EngineSettings,
    preferred: list[int],
    group: list[int],
) -> list[frozenset[int] | None]:
    """Keep, per order, the couriers that can reach its pickup soonest, its assignee, and
    (with trip groups) every courier already planned to pick up at its merchant.

    The last keeps bundles in reach: on a busy day the courier about to collect at a
    merchant is often not among the nearest now, yet it is the one that can take a
    second order from that counter on the same trip.
    """
    out = list(allowed)
    k_max = settings.candidates_per_order
    if len(couriers) <= k_max or not pairs:
        return out
    bound_for: dict[int, set[int]] = {}
    for p, _ in pairs:
        if group[p] != NONE and preferred[p] != NONE:
            bound_for.setdefault(group[p], set()).add(preferred[p])
    start_profile = np.array([profile_of[fleet[k].vehicle.value] for k in couriers])
    start_loc = np.array(couriers)  # worker k's position is location k
    for p, d in pairs:
        given = allowed[p]
        base = given if given is not None else frozenset(couriers)
        reach = times[start_profile, start_loc, loc[p]]
        order = np.argsort(reach, kind="stable")
        chosen = [couriers[i] for i in order if couriers[i] in base][:k_max]
        keep = set(chosen)
        if preferred[p] != NONE:
            keep.add(preferred[p])
        keep |= {k for k in bound_for.get(group[p], ()) if k in base}
        out[p] = out[d] = frozenset(keep)
    return out


def _warm_start(
    tick: TickProblem,
    previous: dict[str, list[tuple[StopKind, str]]],
    index: dict[str, int],
) -> list[list[int]]:
    """The previous plan's routes in this problem's stop indices (unknown stops skipped)."""
    lookup = {(s.kind, s.entity_id): i for i, s in enumerate(tick.stops)}
    routes: list[list[int]] = [[] for _ in tick.workers]
    for worker_id, stops in previous.items():
        k = index.get(worker_id)
        if k is None:
            continue
        for key in stops:
            i = lookup.get(key)
            if i is not None:
                routes[k].append(i)
    return routes
