"""Grubhub Meal Delivery Routing Problem (MDRP) instances: the reader.

An instance folder holds tab-separated files with a header line:
``restaurants.txt`` (restaurant x y), ``orders.txt`` (order x y placement_time
restaurant ready_time), ``couriers.txt`` (courier x y on_time off_time) and
``instance_parameters.txt`` (meters_per_minute, pickup and dropoff service
minutes, target and maximum click-to-door, pay per order and per hour).
Coordinates are planar metres, times integer minutes from the start of the day.
The simulator replays an instance through ``simulations.sim.replay``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

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
