"""MDRP solutions: a replay's trips and moves, the three files Grubhub's evaluator reads,
and the MDRP metrics.

Files (space separated, one header line each, integer minutes):

- ``solution_info_assignments.txt``: ``assignment_time pickup_time courier orders...``
  (one line per trip, the bundle's orders in drop-off order);
- ``solution_info_orders.txt``: ``order placement_time ready_time pickup_time
  dropoff_time courier`` (one line per delivered order);
- ``solution_info_couriers.txt``: ``courier departure_time origin destination``
  (every move, grouped per courier in time order; ``0`` is the starting point).

The simulator computes the metrics from its own records (engine timestamps and
the couriers' clocks, ``simulations.sim.replay``), not from the files, so that
``simulations.mdrp.check`` reading the files is an independent cross-check;
both report them through ``metric_dict``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from simulations.mdrp.instance import MdrpInstance

ASSIGNMENTS = "solution_info_assignments.txt"
ORDERS = "solution_info_orders.txt"
COURIERS = "solution_info_couriers.txt"


def whole_minute(seconds: float) -> int:
    """Seconds after the day's start as whole minutes (the replay runs on whole minutes)."""
    m = round(seconds / 60.0)
    if abs(m * 60.0 - seconds) > 1e-6:
        raise ValueError(f"time {seconds} s is not a whole minute")
    return int(m)


@dataclass
class Trip:
    """An MDRP assignment: one pickup of a bundle at one merchant, then its drop-offs."""

    courier: str
    assigned_s: float
    pickup_s: float
    merchant: str
    orders: list[str] = field(default_factory=list)  # engine order ids, in drop-off order


@dataclass(frozen=True)
class Move:
    """An MDRP courier move between named places (``0`` = the courier's start)."""

    courier: str
    depart_s: float
    origin: str
    destination: str


@dataclass(frozen=True)
class Dropoff:
    """A delivered order: its MDRP id and when it reached the door (seconds)."""

    ref: str
    at_s: float


@dataclass(frozen=True)
class SolutionFiles:
    assignments: list[str]
    orders: list[str]
    couriers: list[str]


def solution_lines(
    inst: MdrpInstance,
    trips: Sequence[Trip],
    moves: Sequence[Move],
    delivered: Mapping[str, Dropoff],
) -> SolutionFiles:
    """The three files' lines (headers included); ``delivered`` maps engine order ids."""
    by_ref = {o.id: o for o in inst.orders}
    assignments = ["assignment_time pickup_time courier orders"]
    orders = ["order placement_time ready_time pickup_time dropoff_time courier"]
    for trip in sorted(trips, key=lambda t: (t.pickup_s, t.courier)):
        refs = []
        for oid in trip.orders:
            drop = delivered.get(oid)
            if drop is None:
                continue
            refs.append(drop.ref)
            src = by_ref[drop.ref]
            orders.append(
                f"{drop.ref} {src.placement} {src.ready} {whole_minute(trip.pickup_s)} "
                f"{whole_minute(drop.at_s)} {trip.courier}"
            )
        if refs:
            assignments.append(
                f"{whole_minute(trip.assigned_s)} {whole_minute(trip.pickup_s)} {trip.courier} "
                + " ".join(refs)
            )
    couriers = ["courier departure_time origin destination"]
    rank = {c.id: i for i, c in enumerate(inst.couriers)}
    ranked = sorted(enumerate(moves), key=lambda im: (rank.get(im[1].courier, len(rank)), im[0]))
    for _, m in ranked:
        couriers.append(f"{m.courier} {whole_minute(m.depart_s)} {m.origin} {m.destination}")
    return SolutionFiles(assignments, orders, couriers)


def write_solution(files: SolutionFiles, out_dir: Path) -> list[Path]:
    """Write the three solution files into ``out_dir`` (created if needed)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, lines in (
        (ASSIGNMENTS, files.assignments),
        (ORDERS, files.orders),
        (COURIERS, files.couriers),
    ):
        path = out_dir / name
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        paths.append(path)
    return paths


def summary(values: Sequence[float]) -> dict[str, float | None]:
    """Mean, 90th percentile and maximum (linear interpolation, like pandas)."""
    if not values:
        return {"mean": None, "p90": None, "max": None}
    a = np.asarray(values, dtype=float)
    return {
        "mean": round(float(a.mean()), 4),
        "p90": round(float(np.percentile(a, 90)), 4),
        "max": round(float(a.max()), 4),
    }


def metric_dict(
    inst: MdrpInstance,
    c2d: Sequence[float],
    r2d: Sequence[float],
    r2p: Sequence[float],
    per_courier: dict[str, tuple[float, int, int]],
    bundle_sizes: Sequence[int],
) -> dict[str, Any]:
    """The MDRP metrics from per-order times (minutes) and per-courier totals.

    ``per_courier[c] = (driving minutes, orders delivered, bundles picked up)``.
    Shared by the simulator and the checker so both report the same names.
    """
    overage = [max(0.0, x - inst.target_min) for x in c2d]
    util, per_hour, pay, guaranteed = [], [], [], 0
    hours = 0.0
    for c in inst.couriers:
        drive, n, bundles = per_courier.get(c.id, (0.0, 0, 0))
        shift = c.off - c.on
        hours += shift / 60.0
        busy = drive + n * inst.dropoff_service_min + bundles * inst.pickup_service_min
        util.append(busy / shift)
        per_hour.append(60.0 * n / shift)
        earned = n * inst.pay_per_order
        floor = shift * inst.pay_per_hour / 60.0
        pay.append(max(earned, floor))
        guaranteed += int(earned < floor)
    delivered = len(c2d)
    out: dict[str, Any] = {
        "orders_total": len(inst.orders),
        "orders_delivered": delivered,
        "click_to_door_mean_min": summary(c2d)["mean"],
        "click_to_door_p90_min": summary(c2d)["p90"],
        "click_to_door_overage_mean_min": summary(overage)["mean"],
        "click_to_door_overage_p90_min": summary(overage)["p90"],
        "orders_over_target": sum(1 for x in c2d if x > inst.target_min),
        "ready_to_door_mean_min": summary(r2d)["mean"],
        "ready_to_pickup_mean_min": summary(r2p)["mean"],
        "ready_to_pickup_p90_min": summary(r2p)["p90"],
        "courier_utilization_mean": summary(util)["mean"],
        "orders_per_courier_hour": round(delivered / hours, 4) if hours else None,
        "orders_per_hour_per_courier_mean": summary(per_hour)["mean"],
        "bundles": len(bundle_sizes),
        "bundle_size_mean": summary([float(b) for b in bundle_sizes])["mean"],
        "total_payment": round(sum(pay), 2),
        "share_on_guarantee": round(guaranteed / len(inst.couriers), 4),
    }
    return out
