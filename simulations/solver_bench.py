"""Solver benchmark on Solomon VRPTW and Li & Lim PDPTW files.

Each instance is read, turned into a closed-route RoutingProblem, solved by
``solve_routing`` within the limit, and certified in double precision
(``check_float``) as well as by the integer checker. ``baseline`` runs plain
OR-Tools (PATH_CHEAPEST_ARC + guided local search, no warm start) in the same
run; ``peers`` runs PyVRP and VROOM with the same limit. Distances are the
real-valued Euclidean totals; gaps are against the BKS beside the files.
"""

from __future__ import annotations

import json
import math
import platform
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from pathlib import Path

import numpy as np

from solver.checker import check_routes
from solver.instances import (
    check_float,
    euclidean_distance,
    routes_to_ids,
    to_routing_problem,
)
from solver.read import Instance, find_bks, read_instance
from solver.routing import RoutingParams, run_ortools, solve_routing

SCALE = 1000


@dataclass
class BenchRow:
    instance: str
    kind: str
    routes: list[list[int]]
    vehicles: int
    distance: float | None
    feasible: bool
    solve_s: float
    backend: str
    bks: float | None = None
    gap_pct: float | None = None
    violations: list[str] = field(default_factory=list)
    baseline_distance: float | None = None
    baseline_s: float | None = None
    peers: dict[str, float | None] = field(default_factory=dict)
    peer_s: dict[str, float] = field(default_factory=dict)


def _gap(distance: float | None, bks: float | None) -> float | None:
    if distance is None or bks is None or bks <= 0:
        return None
    return (distance / bks - 1.0) * 100.0


def solve_instance(path: Path, time_limit_s: float, params: RoutingParams | None) -> BenchRow:
    """Our solver on one file, timed from reading the problem to the answer."""
    inst = read_instance(path)
    t0 = time.perf_counter()
    problem = to_routing_problem(inst, SCALE)
    result = solve_routing(problem, time_limit_s, params=params)
    wall = time.perf_counter() - t0
    ids = routes_to_ids(inst, result.routes)
    violations = check_float(inst, ids)
    report = check_routes(problem, result)
    violations += [f"integer check: {v}" for v in report.violations]
    complete = not result.dropped
    distance = euclidean_distance(inst, ids) if complete else None
    bks = find_bks(path)
    ref = bks.reference if bks else None
    return BenchRow(
        instance=inst.name,
        kind=inst.kind,
        routes=ids,
        vehicles=len(ids),
        distance=distance,
        feasible=complete and not violations,
        solve_s=wall,
        backend=result.backend,
        bks=ref,
        gap_pct=_gap(distance, ref),
        violations=violations[:5],
    )


def baseline_instance(inst: Instance, time_limit_s: float) -> tuple[float | None, float]:
    """Plain OR-Tools, stopped at 1.1 × the limit if its first solution overruns."""
    t0 = time.perf_counter()
    problem = to_routing_problem(inst, SCALE)
    routes, _ = run_ortools(
        problem, time_limit_s, t0 + time_limit_s * 1.1, plain=True, isolate=True
    )
    wall = time.perf_counter() - t0
    if routes is None:
        return None, wall
    ids = routes_to_ids(inst, routes)
    served = sum(len(r) for r in ids)
    if served != inst.num_nodes - 1 or check_float(inst, ids):
        return None, wall
    return euclidean_distance(inst, ids), wall


def vroom_peer(inst: Instance, time_limit_s: float) -> tuple[float | None, float]:
    """VROOM at its default exploration level with the same time limit."""
    import vroom

    t0 = time.perf_counter()
    problem = to_routing_problem(inst, SCALE)
    inp = vroom.Input()
    inp.set_durations_matrix("car", problem.travel_time[0].tolist())
    inp.set_costs_matrix("car", problem.travel_cost.tolist())  # type: ignore[union-attr]
    depot_tw = vroom.TimeWindow(int(inst.ready[0] * SCALE), int(inst.due[0] * SCALE))
    for k in range(inst.num_vehicles):
        inp.add_vehicle(
            vroom.Vehicle(k + 1, start=0, end=0, capacity=[inst.capacity], time_window=depot_tw)
        )

    def step_tw(i: int) -> list[vroom.TimeWindow]:
        return [vroom.TimeWindow(math.ceil(inst.ready[i] * SCALE), int(inst.due[i] * SCALE))]

    if inst.kind == "pdptw":
        for p, d in inst.pairs.tolist():
            inp.add_job(
                vroom.Shipment(
                    vroom.ShipmentStep(
                        p,
                        location=p,
                        default_service=int(inst.service[p] * SCALE),
                        time_windows=step_tw(p),
                    ),
                    vroom.ShipmentStep(
                        d,
                        location=d,
                        default_service=int(inst.service[d] * SCALE),
                        time_windows=step_tw(d),
                    ),
                    amount=[int(inst.demand[p])],
                )
            )
    else:
        for j in range(1, inst.num_nodes):
            inp.add_job(
                vroom.Job(
                    j,
                    location=j,
                    default_service=int(inst.service[j] * SCALE),
                    delivery=[int(inst.demand[j])],
                    time_windows=step_tw(j),
                )
            )
    sol = inp.solve(exploration_level=5, nb_threads=2, timeout=timedelta(seconds=time_limit_s))
    rows = np.asarray(sol._routes_numpy())
    routes: dict[int, list[int]] = {}
    for row in rows:
        kind = row["type"]
        kind = kind.decode() if isinstance(kind, bytes) else str(kind)
        if kind in ("job", "pickup", "delivery"):
            routes.setdefault(int(row["vehicle_id"]), []).append(int(row["id"]))
    wall = time.perf_counter() - t0
    ids = list(routes.values())
    if sum(len(r) for r in ids) != inst.num_nodes - 1 or check_float(inst, ids):
        return None, wall
    return euclidean_distance(inst, ids), wall


def pyvrp_peer(inst: Instance, time_limit_s: float) -> tuple[float | None, float]:
    """PyVRP's iterated local search with the same time limit."""
    import pyvrp
    from pyvrp.stop import MaxRuntime

    t0 = time.perf_counter()
    problem = to_routing_problem(inst, SCALE)
    tt, cost = problem.travel_time[0], problem.travel_cost
    assert cost is not None
    m = pyvrp.Model()
    locs = [m.add_location(float(inst.x[i]), float(inst.y[i])) for i in range(inst.num_nodes)]
    depot = m.add_depot(
        locs[0], tw_early=int(inst.ready[0] * SCALE), tw_late=int(inst.due[0] * SCALE)
    )
    m.add_vehicle_type(
        inst.num_vehicles,
        capacity=inst.capacity,
        start_depot=depot,
        end_depot=depot,
        tw_early=int(inst.ready[0] * SCALE),
        tw_late=int(inst.due[0] * SCALE),
    )
    lo = [math.ceil(inst.ready[i] * SCALE) for i in range(inst.num_nodes)]
    hi = [int(inst.due[i] * SCALE) for i in range(inst.num_nodes)]
    svc = [int(inst.service[i] * SCALE) for i in range(inst.num_nodes)]
    if inst.kind == "pdptw":
        for p, d in inst.pairs.tolist():
            m.add_shipment(
                locs[p],
                locs[d],
                lo[p],
                hi[p],
                svc[p],
                lo[d],
                hi[d],
                svc[d],
                amount=int(inst.demand[p]),
            )
    else:
        for j in range(1, inst.num_nodes):
            m.add_client(
                locs[j],
                delivery=int(inst.demand[j]),
                service_duration=svc[j],
                tw_early=lo[j],
                tw_late=hi[j],
            )
    for i in range(inst.num_nodes):
        for j in range(inst.num_nodes):
            if i != j:
                m.add_edge(locs[i], locs[j], distance=int(cost[i, j]), duration=int(tt[i, j]))
    build = time.perf_counter() - t0
    res = m.solve(stop=MaxRuntime(max(0.05, time_limit_s - build)), display=False)
    wall = time.perf_counter() - t0
    if not res.is_feasible():
        return None, wall
    return float(res.best.distance()) / SCALE, wall


PEERS: dict[str, Callable[[Instance, float], tuple[float | None, float]]] = {
    "pyvrp": pyvrp_peer,
    "vroom": vroom_peer,
}


def run_bench(
    files: Sequence[Path],
    time_limit_s: float,
    *,
    baseline: bool = False,
    peers: bool = False,
    params: RoutingParams | None = None,
    on_row: Callable[[BenchRow], None] | None = None,
) -> list[BenchRow]:
    """Solve every file (and the baseline and peers when asked) one at a time."""
    rows: list[BenchRow] = []
    for path in files:
        row = solve_instance(Path(path), time_limit_s, params)
        inst = read_instance(path)
        if baseline:
            row.baseline_distance, row.baseline_s = baseline_instance(inst, time_limit_s)
        if peers:
            for name, fn in PEERS.items():
                try:
                    dist, secs = fn(inst, time_limit_s)
                except ImportError:
                    dist, secs = None, 0.0
                row.peers[name] = dist
                row.peer_s[name] = secs
        rows.append(row)
        if on_row is not None:
            on_row(row)
    return rows


def summary(rows: Sequence[BenchRow]) -> dict[str, dict[str, float | int | None]]:
    """Per family (vrptw / pdptw): mean gap, unsolved count, worst wall time, ratios."""
    out: dict[str, dict[str, float | int | None]] = {}
    for kind in sorted({r.kind for r in rows}):
        sel = [r for r in rows if r.kind == kind]
        gaps = [r.gap_pct for r in sel if r.gap_pct is not None]
        stats: dict[str, float | int | None] = {
            "instances": len(sel),
            "feasible": sum(r.feasible for r in sel),
            "mean_gap_pct": float(np.mean(gaps)) if gaps else None,
            "max_gap_pct": float(np.max(gaps)) if gaps else None,
            "max_solve_s": max(r.solve_s for r in sel),
        }
        base = [r for r in sel if r.baseline_s is not None]
        if base:
            bg = [_gap(r.baseline_distance, r.bks) for r in base]
            solved = [g for g in bg if g is not None]
            stats["baseline_unsolved"] = len(bg) - len(solved)
            stats["baseline_mean_gap_pct"] = float(np.mean(solved)) if solved else None
            ratios = [
                r.distance / r.baseline_distance for r in base if r.distance and r.baseline_distance
            ]
            stats["ratio_vs_baseline"] = float(np.mean(ratios)) if ratios else None
        for name in PEERS:
            ratios = [
                r.distance / r.peers[name]  # type: ignore[operator]
                for r in sel
                if r.distance and r.peers.get(name)
            ]
            if any(name in r.peers for r in sel):
                pg = [_gap(r.peers.get(name), r.bks) for r in sel if name in r.peers]
                solved = [g for g in pg if g is not None]
                stats[f"{name}_mean_gap_pct"] = float(np.mean(solved)) if solved else None
                stats[f"{name}_unsolved"] = len(pg) - len(solved)
                stats[f"ratio_vs_{name}"] = float(np.mean(ratios)) if ratios else None
        out[kind] = stats
    return out


def write_json(path: Path, rows: Sequence[BenchRow]) -> None:
    """The machine-readable result file described in the README."""
    payload = {
        "results": [
            {
                "instance": r.instance,
                "routes": r.routes,
                "vehicles": r.vehicles,
                "distance": r.distance,
                "feasible": r.feasible,
                "solve_s": r.solve_s,
                "gap_pct": r.gap_pct,
                "backend": r.backend,
                "baseline_distance": r.baseline_distance,
                "peers": r.peers,
            }
            for r in rows
        ],
        "summary": summary(rows),
    }
    path.write_text(json.dumps(payload, indent=1))


def machine_facts() -> dict[str, str]:
    import ortools

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import os

    return {
        "cpu": cpu,
        "cores": str(os.cpu_count()),
        "python": platform.python_version(),
        "ortools": ortools.__version__,
    }


def row_dict(row: BenchRow) -> dict[str, object]:
    return asdict(row)
