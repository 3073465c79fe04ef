"""Grubhub Meal Delivery Routing Problem (MDRP) instances: reader and replay world.

An instance folder holds tab-separated files with a header line:
``restaurants.txt`` (restaurant x y), ``orders.txt`` (order x y placement_time
restaurant ready_time), ``couriers.txt`` (courier x y on_time off_time) and
``instance_parameters.txt`` (meters_per_minute, pickup and dropoff service
minutes, target and maximum click-to-door, pay per order and per hour).
Coordinates are planar metres, times integer minutes from the start of the day.

The replay maps the plane onto one community (an azimuthal projection around
the points' centroid, radius covering every point) and keeps the instance's
own travel model: ``ceil(euclid / meters_per_minute)`` whole minutes, given
to the engine through ``MdrpMatrixProvider`` and used by the simulated couriers.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

import geo
from dispatch.model import LatLng, ServiceType, Vehicle, WorkerKind
from dispatch.requests import CommunitySpec
from dispatch.settings import EngineSettings
from simulations.demand import start_epoch
from simulations.world import Behaviour, Merchant, OrderArrival, WorkerPlan, World
from solver.routing import RoutingParams

IntArray = npt.NDArray[np.int64]
#: Where the plane is anchored on the globe (any point works: only distances matter).
ANCHOR = LatLng(31.2304, 121.4737)
FILES = ("restaurants.txt", "orders.txt", "couriers.txt", "instance_parameters.txt")


class MdrpFormatError(ValueError):
    """An instance file is missing or malformed (the message names file and line)."""


@dataclass(frozen=True)
class MdrpOrder:
    id: str
    x: float
    y: float
    placement: int
    restaurant: str
    ready: int


@dataclass(frozen=True)
class MdrpCourier:
    id: str
    x: float
    y: float
    on: int
    off: int


@dataclass(frozen=True)
class MdrpInstance:
    name: str
    restaurants: dict[str, tuple[float, float]]
    orders: tuple[MdrpOrder, ...]
    couriers: tuple[MdrpCourier, ...]
    meters_per_minute: float
    pickup_service_min: int = 4
    dropoff_service_min: int = 4
    target_min: int = 40
    max_min: int = 90
    pay_per_order: float = 10.0
    pay_per_hour: float = 15.0

    def location(self, label: str, courier: str | None = None) -> tuple[float, float]:
        """Coordinates of a place named in a solution (restaurant, order, or ``0``)."""
        if label == "0":
            if courier is None:
                raise KeyError("origin 0 needs the courier")
            c = next(c for c in self.couriers if c.id == courier)
            return (c.x, c.y)
        if label in self.restaurants:
            return self.restaurants[label]
        o = next((o for o in self.orders if o.id == label), None)
        if o is None:
            raise KeyError(f"unknown place {label!r}")
        return (o.x, o.y)

    def minutes(self, a: tuple[float, float], b: tuple[float, float]) -> int:
        """The instance's travel time: ceil(euclidean metres / metres per minute)."""
        return travel_minutes(a[0] - b[0], a[1] - b[1], self.meters_per_minute)


def travel_minutes(dx: float, dy: float, meters_per_minute: float) -> int:
    return math.ceil(math.sqrt(dx * dx + dy * dy) / meters_per_minute)


def _lines(folder: Path, name: str) -> list[str]:
    path = folder / name
    try:
        return path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise MdrpFormatError(f"{path}: cannot read ({exc.strerror})") from None


def _rows(folder: Path, name: str, columns: Sequence[str]) -> list[list[str]]:
    path = folder / name
    lines = _lines(folder, name)
    if not lines:
        raise MdrpFormatError(f"{path}: empty file (expected a header line)")
    header = [h.strip() for h in lines[0].split("\t")]
    if header[: len(columns)] != list(columns):
        raise MdrpFormatError(f"{path}:1: header {header} does not start with {list(columns)}")
    out = []
    for n, line in enumerate(lines[1:], 2):
        if not line.strip():
            continue
        cells = [c.strip() for c in line.split("\t")]
        if len(cells) < len(columns):
            raise MdrpFormatError(f"{path}:{n}: expected {len(columns)} columns, got {len(cells)}")
        out.append([*cells[: len(columns)], str(n)])
    return out


def _num(folder: Path, name: str, row: list[str], i: int, what: str) -> float:
    try:
        value = float(row[i])
    except ValueError:
        raise MdrpFormatError(
            f"{folder / name}:{row[-1]}: {what} {row[i]!r} is not a number"
        ) from None
    if not math.isfinite(value):
        raise MdrpFormatError(f"{folder / name}:{row[-1]}: {what} must be finite")
    return value


def _minute(folder: Path, name: str, row: list[str], i: int, what: str) -> int:
    value = _num(folder, name, row, i, what)
    if value != int(value) or value < 0:
        raise MdrpFormatError(
            f"{folder / name}:{row[-1]}: {what} must be a non-negative whole minute"
        )
    return int(value)


def read_instance(path: str | Path) -> MdrpInstance:
    """Read an instance folder; errors name the file and line."""
    folder = Path(path)
    if not folder.is_dir():
        raise MdrpFormatError(f"{folder}: not a directory (expected an MDRP instance folder)")
    rest: dict[str, tuple[float, float]] = {}
    for r in _rows(folder, "restaurants.txt", ("restaurant", "x", "y")):
        rest[r[0]] = (
            _num(folder, "restaurants.txt", r, 1, "x"),
            _num(folder, "restaurants.txt", r, 2, "y"),
        )
    orders = []
    f = "orders.txt"
    for r in _rows(folder, f, ("order", "x", "y", "placement_time", "restaurant", "ready_time")):
        if r[4] not in rest:
            raise MdrpFormatError(f"{folder / f}:{r[-1]}: unknown restaurant {r[4]!r}")
        o = MdrpOrder(
            r[0],
            _num(folder, f, r, 1, "x"),
            _num(folder, f, r, 2, "y"),
            _minute(folder, f, r, 3, "placement_time"),
            r[4],
            _minute(folder, f, r, 5, "ready_time"),
        )
        if o.ready < o.placement:
            raise MdrpFormatError(f"{folder / f}:{r[-1]}: ready_time precedes placement_time")
        orders.append(o)
    couriers = []
    f = "couriers.txt"
    for r in _rows(folder, f, ("courier", "x", "y", "on_time", "off_time")):
        c = MdrpCourier(
            r[0],
            _num(folder, f, r, 1, "x"),
            _num(folder, f, r, 2, "y"),
            _minute(folder, f, r, 3, "on_time"),
            _minute(folder, f, r, 4, "off_time"),
        )
        if c.off <= c.on:
            raise MdrpFormatError(f"{folder / f}:{r[-1]}: off_time must follow on_time")
        couriers.append(c)
    f = "instance_parameters.txt"
    lines = [ln for ln in _lines(folder, f) if ln.strip()]
    if len(lines) != 2 or not lines[0].startswith("meters_per_minute"):
        raise MdrpFormatError(f"{folder / f}: expected a header line and one line of values")
    row = [c.strip() for c in lines[1].split("\t")] + ["2"]
    if len(row) < 8:
        raise MdrpFormatError(f"{folder / f}:2: expected 7 parameters, got {len(row) - 1}")
    values = [_num(folder, f, row, i, "parameter") for i in range(7)]
    if values[0] <= 0:
        raise MdrpFormatError(f"{folder / f}:2: meters_per_minute must be positive")
    ids = [o.id for o in orders] + [c.id for c in couriers] + list(rest)
    if len(set(ids)) != len(ids) or "0" in ids:
        raise MdrpFormatError(f"{folder}: ids of orders, couriers and restaurants must be unique")
    if not orders or not couriers:
        raise MdrpFormatError(f"{folder}: an instance needs orders and couriers")
    return MdrpInstance(
        name=folder.name,
        restaurants=rest,
        orders=tuple(orders),
        couriers=tuple(couriers),
        meters_per_minute=values[0],
        pickup_service_min=int(values[1]),
        dropoff_service_min=int(values[2]),
        target_min=int(values[3]),
        max_min=int(values[4]),
        pay_per_order=values[5],
        pay_per_hour=values[6],
    )


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


def mdrp_world(
    inst: MdrpInstance,
    *,
    solver_budget_s: float = 0.3,
    max_orders_per_trip: int = 3,
    metaheuristic: str = "greedy",
    drain_min: float = 120.0,
    churn_penalty: int = 3000,
    delivery_time_cost_per_s: int = 30,
) -> World:
    """A replay world: one community holding every point, the instance's rules and times."""
    if inst.pickup_service_min != inst.dropoff_service_min:
        raise MdrpFormatError("the replay needs equal pickup and drop-off service times")
    if inst.pickup_service_min % 2:
        raise MdrpFormatError("service minutes must be even (half before the hand-over)")
    pts = [*inst.restaurants.values(), *((o.x, o.y) for o in inst.orders)]
    pts += [(c.x, c.y) for c in inst.couriers]
    arr = np.array(pts, dtype=float)
    cx, cy = (float(v) for v in np.round(arr.mean(axis=0)))
    radius = float(np.sqrt(((arr - [cx, cy]) ** 2).sum(axis=1)).max()) + 500.0
    if radius > 20_000:
        raise MdrpFormatError(f"{inst.name}: points spread over {radius:.0f} m, more than 20 km")
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
            capacity=max_orders_per_trip,
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
            h3_resolution=9 if radius <= 5000 else 8,
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
        ),
        routing=RoutingParams(use_vroom=False, metaheuristic=metaheuristic, isolate=False),  # type: ignore[arg-type]
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
