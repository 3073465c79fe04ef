"""Independent feasibility check and metrics of an MDRP solution, read from its files.

Reproduces the checks of Grubhub's public evaluator (see the solution format
notes): each order in at most one trip; no trip assigned before its orders
were placed; every pickup no later than the courier's off time and no earlier
than each order's ready time; a trip's orders from one restaurant; drop-offs
in the trip's sequence at least the drop-off service apart; moves continuous
(each origin is the previous destination, the first one ``0``), never leaving
before arriving, with travel minutes = ceil(euclidean metres / metres per
minute); pickups and drop-offs where the courier's timeline puts it at that
minute (arrived strictly before, not yet left). It also checks that the orders
file agrees with the instance and the trips. Only the files are read.

Usage: ``python -m simulations.mdrp INSTANCE_DIR SOLUTION_DIR [--json]``
"""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from simulations.mdrp.instance import MdrpInstance, read_instance
from simulations.mdrp.solution import ASSIGNMENTS, COURIERS, ORDERS, metric_dict


@dataclass
class CheckReport:
    feasible: bool
    violations: list[str] = field(default_factory=list)
    metrics: dict[str, Any] = field(default_factory=dict)

    @property
    def verdict(self) -> str:
        return "FEASIBLE" if self.feasible else "INFEASIBLE"


@dataclass
class _Stay:
    place: str
    arrive: float  # -inf for the starting point
    depart: float  # +inf until the next move


def _read(path: Path, header: Sequence[str]) -> list[list[str]]:
    lines = [ln.split() for ln in path.read_text(encoding="utf-8").splitlines() if ln.strip()]
    if not lines or lines[0][: len(header)] != list(header):
        raise ValueError(f"{path}: header must be {' '.join(header)!r}")
    return lines[1:]


def _minute(text: str, where: str) -> int:
    value = float(text)
    if value != int(value):
        raise ValueError(f"{where}: time {text} is not a whole minute")
    return int(value)


def check(inst: MdrpInstance, solution_dir: Path) -> CheckReport:
    """Check the three files against the instance; metrics when feasible."""
    bad: list[str] = []
    orders = {o.id: o for o in inst.orders}
    couriers = {c.id: c for c in inst.couriers}
    trips = []
    for n, row in enumerate(
        _read(solution_dir / ASSIGNMENTS, ("assignment_time", "pickup_time", "courier")), 2
    ):
        where = f"{ASSIGNMENTS}:{n}"
        if len(row) < 4:
            bad.append(f"{where}: a trip needs a courier and at least one order")
            continue
        trips.append((where, _minute(row[0], where), _minute(row[1], where), row[2], row[3:]))
    delivered: dict[str, tuple[int, int, int, int, str]] = {}
    header = ("order", "placement_time", "ready_time", "pickup_time", "dropoff_time", "courier")
    for n, row in enumerate(_read(solution_dir / ORDERS, header), 2):
        where = f"{ORDERS}:{n}"
        if len(row) != 6:
            bad.append(f"{where}: expected 6 columns")
            continue
        if row[0] in delivered:
            bad.append(f"{where}: order {row[0]} delivered twice")
        times = [_minute(x, where) for x in row[1:5]]
        delivered[row[0]] = (times[0], times[1], times[2], times[3], row[5])
    moves: dict[str, list[tuple[str, int, str, str]]] = {}
    last_courier = None
    for n, row in enumerate(_read(solution_dir / COURIERS, ("courier", "departure_time")), 2):
        where = f"{COURIERS}:{n}"
        if len(row) != 4:
            bad.append(f"{where}: expected 4 columns")
            continue
        if row[0] != last_courier and row[0] in moves:
            bad.append(f"{where}: moves of courier {row[0]} are not in one block")
        last_courier = row[0]
        moves.setdefault(row[0], []).append((where, _minute(row[1], where), row[2], row[3]))

    # trips: ids, uniqueness, information, off time, ready times, one restaurant, drop order
    seen: dict[str, str] = {}
    for where, assigned, pickup, courier, bundle in trips:
        c = couriers.get(courier)
        if c is None:
            bad.append(f"{where}: unknown courier {courier}")
            continue
        if pickup > c.off:
            bad.append(f"{where}: pickup at {pickup} after {courier}'s off time {c.off}")
        rest = set()
        prev_drop = None
        for oid in bundle:
            o = orders.get(oid)
            if o is None:
                bad.append(f"{where}: unknown order {oid}")
                continue
            if oid in seen:
                bad.append(f"{where}: order {oid} is also in {seen[oid]}")
            seen[oid] = where
            rest.add(o.restaurant)
            if assigned < o.placement:
                bad.append(f"{where}: assigned at {assigned} before {oid} was placed")
            if pickup < o.ready:
                bad.append(f"{where}: picked up at {pickup} before {oid} was ready ({o.ready})")
            got = delivered.get(oid)
            if got is None:
                bad.append(f"{where}: order {oid} has no delivery line")
                continue
            placement, ready, pick, drop, who = got
            if (placement, ready) != (o.placement, o.ready):
                bad.append(f"{ORDERS}: {oid} times differ from the instance")
            if pick != pickup or who != courier:
                bad.append(f"{ORDERS}: {oid} pickup/courier differ from its trip ({where})")
            if prev_drop is not None and drop < prev_drop + inst.dropoff_service_min:
                bad.append(f"{where}: drop-off of {oid} at {drop} too soon after {prev_drop}")
            prev_drop = drop
        if len(rest) > 1:
            bad.append(f"{where}: orders from several restaurants {sorted(rest)}")
    for oid in delivered:
        if oid not in seen:
            bad.append(f"{ORDERS}: order {oid} delivered without a trip")

    # timelines: continuity, no departure before arrival, travel times
    stays: dict[str, list[_Stay]] = {}
    driving: dict[str, float] = {}
    for cid, ms in moves.items():
        c = couriers.get(cid)
        if c is None:
            bad.append(f"{ms[0][0]}: unknown courier {cid}")
            continue
        line = [_Stay("0", -math.inf, math.inf)]
        here, free_at = "0", float(c.on)
        driving[cid] = 0.0
        for where, dep, origin, dest in ms:
            if origin != here:
                bad.append(f"{where}: {cid} leaves {origin} but is at {here}")
            if dep < free_at:
                bad.append(f"{where}: {cid} leaves at {dep} before arriving at {free_at}")
            try:
                tt = inst.minutes(inst.location(here, cid), inst.location(dest, cid))
            except (KeyError, StopIteration):
                bad.append(f"{where}: unknown place {dest}")
                break
            driving[cid] += tt
            line[-1].depart = dep
            line.append(_Stay(dest, dep + tt, math.inf))
            here, free_at = dest, dep + tt
        stays[cid] = line

    def at(cid: str, place: str, t: float) -> bool:
        return any(s.place == place and s.arrive < t <= s.depart for s in stays.get(cid, []))

    for where, _assigned, pickup, courier, bundle in trips:
        o = orders.get(bundle[0]) if bundle else None
        if o is not None and courier in couriers and not at(courier, o.restaurant, pickup):
            bad.append(f"{where}: {courier} is not at {o.restaurant} at {pickup}")
    for oid, (_p, _r, _pick, drop, who) in delivered.items():
        if oid in orders and who in couriers and not at(who, oid, drop):
            bad.append(f"{ORDERS}: {who} is not at {oid}'s door at {drop}")

    report = CheckReport(feasible=not bad, violations=bad)
    c2d = [v[3] - v[0] for v in delivered.values()]
    r2d = [v[3] - v[1] for v in delivered.values()]
    r2p = [v[2] - v[1] for v in delivered.values()]
    per = {
        cid: (
            driving.get(cid, 0.0),
            sum(1 for v in delivered.values() if v[4] == cid),
            sum(1 for t in trips if t[3] == cid),
        )
        for cid in couriers
    }
    report.metrics = metric_dict(
        inst,
        [float(x) for x in c2d],
        [float(x) for x in r2d],
        [float(x) for x in r2p],
        per,
        [len(t[4]) for t in trips],
    )
    return report


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m simulations.mdrp",
        description=__doc__.splitlines()[0] if __doc__ else None,
    )
    parser.add_argument("instance", type=Path)
    parser.add_argument("solution", type=Path)
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args(argv)
    report = check(read_instance(args.instance), args.solution)
    if args.json:
        print(json.dumps({"verdict": report.verdict, **report.__dict__}, indent=2))
    else:
        for v in report.violations:
            print(v)
        print(report.verdict)
        for k, v in report.metrics.items():
            print(f"{k}: {v}")
    return 0 if report.feasible else 1
