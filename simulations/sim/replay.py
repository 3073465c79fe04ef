"""Replaying a Grubhub MDRP instance: the world it runs in, and the solution of a run.

The replay maps the instance's plane onto one community (an azimuthal
projection around the points' centroid, radius covering every point) and keeps
the instance's own travel model: ``ceil(euclid / meters_per_minute)`` whole
minutes, given to the engine through ``MdrpMatrixProvider`` and used by the
simulated couriers (``MdrpTravel``). A finished run becomes the MDRP's solution
files (``replay_solution``) and metrics (``mdrp_metrics``), computed from the
simulator's own records.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

import geo
from dispatch.community import COMMUNITY_LIMITS, CommunitySpec
from dispatch.model import LatLng, ServiceType, Vehicle, WorkerKind
from dispatch.settings import EngineSettings
from simulations.mdrp.instance import MdrpFormatError, MdrpInstance
from simulations.mdrp.solution import Dropoff, SolutionFiles, metric_dict, solution_lines
from simulations.sim.demand import start_epoch
from simulations.sim.records import SimulationResult
from simulations.sim.world import Behaviour, Merchant, OrderArrival, WorkerPlan, World
from solver.routing import Metaheuristic, RoutingParams

IntArray = npt.NDArray[np.int64]
#: Where the plane is anchored on the globe (any point works: only distances matter).
ANCHOR = LatLng(31.2304, 121.4737)
#: Cost of each second an MDRP pickup comes later than a direct ride to the target allows.
#: Replays price every second to the door and pay no promise fee, so they keep the price
#: their overloaded days were measured with, not the default scenario's lower one.
MDRP_LATE_PICKUP_COST_PER_S = 50


class Plane:
    """Planar metres ↔ lat/lng around the instance's integer centroid."""

    def __init__(self, cx: float, cy: float, anchor: LatLng = ANCHOR) -> None:
        self.cx, self.cy = cx, cy
        self.proj = geo.LocalProjection(anchor.lat, anchor.lng)

    def latlng(self, x: float, y: float) -> LatLng:
        lat, lng = self.proj.to_latlng([x - self.cx], [y - self.cy])
        return LatLng(float(lat[0]), float(lng[0]))

    def xy(self, lats: object, lngs: object) -> tuple[np.ndarray, np.ndarray]:
        """Back to instance metres; named places come back to their exact integers."""
        x, y = self.proj.to_xy(lats, lngs)
        return np.round(x, 4) + self.cx, np.round(y, 4) + self.cy


class MdrpMatrixProvider:
    """The instance's travel model for the engine: ceil(euclid / mpm) minutes, in seconds."""

    def __init__(self, plane: Plane, meters_per_minute: float) -> None:
        self.plane = plane
        self.mpm = meters_per_minute

    def matrices(
        self, lats: object, lngs: object, profiles: Sequence[str]
    ) -> tuple[IntArray, IntArray]:
        x, y = self.plane.xy(lats, lngs)
        x, y = x.ravel(), y.ravel()
        dx = x[:, None] - x[None, :]
        dy = y[:, None] - y[None, :]
        d = np.sqrt(dx * dx + dy * dy)
        minutes = np.ceil(d / self.mpm).astype(np.int64)
        times = np.broadcast_to(minutes * 60, (max(1, len(profiles)), *minutes.shape))
        return np.rint(d).astype(np.int64), np.ascontiguousarray(times)


class MdrpTravel:
    """Simulated couriers move at the instance's speed, in whole minutes."""

    def __init__(self, plane: Plane, meters_per_minute: float) -> None:
        self.plane = plane
        self.mpm = meters_per_minute

    def _d(self, a: LatLng, b: LatLng) -> float:
        x, y = self.plane.xy([a.lat, b.lat], [a.lng, b.lng])
        dx, dy = float(x[0] - x[1]), float(y[0] - y[1])
        return math.sqrt(dx * dx + dy * dy)

    def seconds(self, vehicle: Vehicle, a: LatLng, b: LatLng) -> float:
        return 60.0 * math.ceil(self._d(a, b) / self.mpm)

    def metres(self, vehicle: Vehicle, a: LatLng, b: LatLng) -> float:
        return self._d(a, b)


def _resolution(radius_m: float) -> int:
    """A grid fine enough for surge cells, coarse enough for a city: about 1 000-5 000 cells."""
    if radius_m <= 5_000:
        return 9
    return 8 if radius_m <= 15_000 else 7


def mdrp_world(
    inst: MdrpInstance,
    *,
    solver_budget_s: float = 0.3,
    max_orders_per_trip: int = 3,
    courier_bag: int | None = None,
    metaheuristic: Metaheuristic = "greedy_descent",
    drain_min: float = 120.0,
    churn_penalty: int = 3000,
    delivery_time_cost_per_s: int = 30,
) -> World:
    """A replay world: one community holding every point, the instance's rules and times.

    ``max_orders_per_trip`` is the community's bundling rule on calm ticks; the MDRP
    itself limits no bundle, so a courier's bag (``courier_bag``, default the most any
    community's rule allows) only bounds the bundles the dispatcher builds when more
    orders wait than couriers (``dispatch.tick.build``).
    """
    bag = COMMUNITY_LIMITS["max_orders_per_trip"].high if courier_bag is None else courier_bag
    if inst.pickup_service_min != inst.dropoff_service_min:
        raise MdrpFormatError("the replay needs equal pickup and drop-off service times")
    if inst.pickup_service_min % 2:
        raise MdrpFormatError("service minutes must be even (half before the hand-over)")
    pts = [*inst.restaurants.values(), *((o.x, o.y) for o in inst.orders)]
    pts += [(c.x, c.y) for c in inst.couriers]
    arr = np.array(pts, dtype=float)
    cx, cy = (float(v) for v in np.round(arr.mean(axis=0)))
    radius = float(np.sqrt(((arr - [cx, cy]) ** 2).sum(axis=1)).max()) + 500.0
    limit = COMMUNITY_LIMITS["radius_m"].high
    if radius > limit:
        raise MdrpFormatError(
            f"{inst.name}: points lie up to {radius:.0f} m from their centre, "
            f"more than a service zone's {limit:.0f} m"
        )
    plane = Plane(cx, cy)
    merchant_ids = sorted(inst.restaurants)
    index = {r: i for i, r in enumerate(merchant_ids)}
    merchants = tuple(
        Merchant(r, plane.latlng(*inst.restaurants[r]), ServiceType.TAKEOUT, 0.0)
        for r in merchant_ids
    )
    orders = tuple(
        OrderArrival(
            t=o.placement * 60.0,
            merchant=index[o.restaurant],
            dropoff=plane.latlng(o.x, o.y),
            prep_estimate_s=(o.ready - o.placement) * 60.0,
            prep_actual_s=(o.ready - o.placement) * 60.0,
            ref=o.id,
        )
        for o in sorted(inst.orders, key=lambda o: (o.placement, o.id))
    )
    workers = tuple(
        WorkerPlan(
            id=c.id,
            kind=WorkerKind.COURIER,
            vehicle=Vehicle.BICYCLE,
            start_s=c.on * 60.0,
            end_s=c.off * 60.0,
            home=plane.latlng(c.x, c.y),
            capacity=max(int(bag), max_orders_per_trip),
            ref=c.id,
        )
        for c in inst.couriers
    )
    service_s = inst.pickup_service_min * 60
    last = max(max(o.placement for o in inst.orders), max(c.off for c in inst.couriers))
    return World(
        name=f"mdrp:{inst.name}",
        community=CommunitySpec(
            id="mdrp",
            name=f"MDRP {inst.name}",
            center=ANCHOR,
            radius_m=radius,
            h3_resolution=_resolution(radius),
            delivery_sla_min=inst.target_min - inst.dropoff_service_min / 2.0,
            dispatch_interval_s=60.0,
            solver_budget_s=solver_budget_s,
            max_orders_per_trip=max_orders_per_trip,
            single_merchant_trips=True,
        ),
        t0=start_epoch("2026-03-02", 0.0, 0),
        horizon_s=max(o.placement for o in inst.orders) * 60.0 + 60.0,
        end_s=last * 60.0 + drain_min * 60.0,
        merchants=merchants,
        orders=orders,
        jobs=(),
        workers=workers,
        settings=EngineSettings(
            pickup_service_s=service_s,
            dropoff_service_s=service_s,
            churn_penalty=churn_penalty,
            # MDRP scores click-to-door alone (courier distance is free): every second
            # to the door is priced, not a promise with a buffer, and time weighs more.
            promise_buffer_s=None,
            delivery_time_cost_per_s=delivery_time_cost_per_s,
            # A pickup too late for a direct ride to meet the MDRP target costs what it
            # did when the overloaded days were measured (there is no promise fee here).
            promise_cost_per_s=MDRP_LATE_PICKUP_COST_PER_S,
            rides_finish=True,  # MDRP couriers never turn round mid-ride
        ),
        routing=RoutingParams(use_vroom=False, metaheuristic=metaheuristic, isolate=False),
        travel=MdrpTravel(plane, inst.meters_per_minute),
        matrix_provider=MdrpMatrixProvider(plane, inst.meters_per_minute),
        behaviour=Behaviour(patience_s=1e9),
        position_interval_s=30.0,
        sample_interval_s=900.0,
        start_hour=0.0,
        handover_s=service_s / 2.0,
        mdrp=True,
        labels={r: r for r in merchant_ids},
    )


def replay_solution(result: SimulationResult, inst: MdrpInstance) -> SolutionFiles:
    """The MDRP solution files' lines of a finished replay."""
    delivered = {
        r.id: Dropoff(r.ref, r.delivered_s)
        for r in result.orders
        if r.state == "delivered" and r.ref is not None and r.delivered_s is not None
    }
    return solution_lines(inst, result.trips, result.moves, delivered)


def mdrp_metrics(result: SimulationResult, inst: MdrpInstance) -> dict[str, Any]:
    """MDRP metrics from the simulator's records (engine timestamps, courier clocks)."""
    delivered = [r for r in result.orders if r.state == "delivered" and r.delivered_s is not None]
    c2d = [(r.delivered_s - r.created_s) / 60.0 for r in delivered if r.delivered_s is not None]
    r2d = [(r.delivered_s - r.ready_s) / 60.0 for r in delivered if r.delivered_s is not None]
    r2p = [(r.picked_s - r.ready_s) / 60.0 for r in delivered if r.picked_s is not None]
    ids = {r.id for r in delivered}
    trips = [t for t in result.trips if any(o in ids for o in t.orders)]
    per: dict[str, tuple[float, int, int]] = {}
    for a in result.agents:
        if a.plan.kind != WorkerKind.COURIER:
            continue
        ref = a.plan.ref or a.id
        n = sum(1 for r in delivered if r.worker == a.id)
        bundles = sum(1 for t in trips if t.courier == ref)
        per[ref] = (a.travel_s / 60.0, n, bundles)
    return metric_dict(inst, c2d, r2d, r2p, per, [len(t.orders) for t in trips])
