"""Solver benchmark on Solomon VRPTW and Li & Lim PDPTW files.

Each instance is read (format detected), turned into a closed-route
RoutingProblem, solved by ``solve_routing`` within the limit, and certified in
double precision (``check_float``) as well as by the integer checker. The wall
time runs from building the problem to the answer. ``baseline`` runs plain
OR-Tools (PATH_CHEAPEST_ARC + guided local search, no warm start, stopped at
the limit) in the same run; ``peers`` runs PyVRP and VROOM with the same
limit. Distances are real-valued Euclidean totals; gaps are against the BKS in
the ``bks.csv`` beside the instances' folder.
"""

from __future__ import annotations

import json
import os
import platform
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

import numpy as np

from simulations.bench.peers import PEERS, PeerMissing
from solver.checker import check_routes
from solver.instances import check_float, euclidean_distance, routes_to_ids, to_routing_problem
from solver.portfolio import Portfolio
from solver.read import Instance, find_bks, read_instance
from solver.routing import RoutingParams, solve_routing
from solver.specs import SearchSpec, Task

SCALE = 1000


@dataclass
class BenchRow:
    """One instance: our plan and, when asked, the baseline's and the peers' distances."""

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


def gap(distance: float | None, bks: float | None) -> float | None:
    """Percent above the reference (None when either is missing)."""
    if distance is None or bks is None or bks <= 0:
        return None
    return (distance / bks - 1.0) * 100.0


def certified_distance(inst: Instance, ids: list[list[int]]) -> float | None:
    """Euclidean distance of a plan that serves everyone feasibly in double precision."""
    served = sum(len(r) for r in ids)
    if served != inst.num_nodes - 1 or check_float(inst, ids):
        return None
    return euclidean_distance(inst, ids)


def solve_instance(path: Path, time_limit_s: float, params: RoutingParams | None) -> BenchRow:
    """Our solver on one file, timed from building the problem to the answer."""
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
        gap_pct=gap(distance, ref),
        violations=violations[:5],
    )


def baseline_instance(inst: Instance, time_limit_s: float) -> tuple[float | None, float]:
    """Plain OR-Tools in a child process, stopped at the limit (no answer: None)."""
    t0 = time.perf_counter()
    problem = to_routing_problem(inst, SCALE)
    plain = Task(name="plain", spec=SearchSpec(plain=True))
    with Portfolio(problem, [plain], t0 + time_limit_s) as portfolio:
        candidates, _notes = portfolio.collect()
    wall = time.perf_counter() - t0
    if not candidates:
        return None, wall
    return certified_distance(inst, routes_to_ids(inst, candidates[0].routes)), wall


def run_bench(
    files: Sequence[Path],
    time_limit_s: float,
    *,
    baseline: bool = False,
    peers: bool = False,
    params: RoutingParams | None = None,
    on_row: Callable[[BenchRow], None] | None = None,
    on_note: Callable[[str], None] | None = None,
) -> list[BenchRow]:
    """Solve every file (then the baseline and the peers when asked), one at a time."""
    rows: list[BenchRow] = []
    missing: set[str] = set()
    for path in files:
        row = solve_instance(Path(path), time_limit_s, params)
        inst = read_instance(path)
        if baseline:
            row.baseline_distance, row.baseline_s = baseline_instance(inst, time_limit_s)
        if peers:
            for name, peer in PEERS.items():
                if name in missing:
                    continue
                try:
                    ids, secs = peer(inst, time_limit_s, SCALE)
                except PeerMissing as exc:
                    missing.add(name)
                    if on_note is not None:
                        on_note(str(exc))
                    continue
                row.peers[name] = None if ids is None else certified_distance(inst, ids)
                row.peer_s[name] = secs
        rows.append(row)
        if on_row is not None:
            on_row(row)
    return rows


def _mean(values: Sequence[float | None]) -> float | None:
    kept = [v for v in values if v is not None]
    return float(np.mean(kept)) if kept else None


def summary(rows: Sequence[BenchRow]) -> dict[str, dict[str, float | int | None]]:
    """Per family (vrptw / pdptw): gaps, feasibility, worst wall time, baseline and peers."""
    out: dict[str, dict[str, float | int | None]] = {}
    for kind in sorted({r.kind for r in rows}):
        sel = [r for r in rows if r.kind == kind]
        gaps = [r.gap_pct for r in sel if r.gap_pct is not None]
        worst = max(sel, key=lambda r: -1e9 if r.gap_pct is None else r.gap_pct)
        stats: dict[str, float | int | None] = {
            "instances": len(sel),
            "feasible": sum(r.feasible for r in sel),
            "mean_gap_pct": _mean(gaps),
            "max_gap_pct": worst.gap_pct,
            "max_solve_s": max(r.solve_s for r in sel),
        }
        if any(r.baseline_s is not None for r in sel):
            base = [r for r in sel if r.baseline_s is not None]
            stats["baseline_unsolved"] = sum(r.baseline_distance is None for r in base)
            stats["baseline_mean_gap_pct"] = _mean([gap(r.baseline_distance, r.bks) for r in base])
            stats["ours_over_baseline"] = _mean(
                [
                    r.distance / r.baseline_distance
                    for r in base
                    if r.distance and r.baseline_distance
                ]
            )
        for name in PEERS:
            ran = [r for r in sel if name in r.peers]
            if not ran:
                continue
            stats[f"{name}_unsolved"] = sum(r.peers[name] is None for r in ran)
            stats[f"{name}_mean_gap_pct"] = _mean([gap(r.peers[name], r.bks) for r in ran])
            stats[f"ours_over_{name}"] = _mean(
                [
                    r.distance / peer
                    for r in ran
                    if r.distance and (peer := r.peers[name]) is not None
                ]
            )
            stats[f"{name}_max_s"] = max(r.peer_s[name] for r in ran)
        out[kind] = stats
    return out


def write_json(path: Path, rows: Sequence[BenchRow]) -> None:
    """The documented result file; extra figures sit beside ``results``, not inside."""
    payload = {
        "results": [
            {
                "instance": r.instance,
                "routes": r.routes,
                "vehicles": r.vehicles,
                "distance": r.distance,
                "feasible": r.feasible,
                "solve_s": r.solve_s,
            }
            for r in rows
        ],
        "details": {
            r.instance: {
                "kind": r.kind,
                "bks": r.bks,
                "gap_pct": r.gap_pct,
                "backend": r.backend,
                "violations": r.violations,
                "baseline_distance": r.baseline_distance,
                "peers": r.peers,
            }
            for r in rows
        },
        "summary": summary(rows),
    }
    path.write_text(json.dumps(payload, indent=1))


def machine_facts() -> dict[str, str]:
    """CPU model, core count and the versions that shape the figures."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    facts = {
        "cpu": cpu,
        "cores": str(os.cpu_count()),
        "load at the end": " ".join(f"{x:.1f}" for x in os.getloadavg()),
        "python": platform.python_version(),
    }
    for dist in ("ortools", "pyvroom", "pyvrp"):
        try:
            facts[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            facts[dist] = "not installed"
    return facts


def _fmt(x: float | None, spec: str = ".2f") -> str:
    return "—" if x is None else format(x, spec)


def table_rows(
    rows: Sequence[BenchRow], *, baseline: bool, peers: bool
) -> tuple[list[str], list[list[str]]]:
    """Header and cells of the results table (shared by the console and Markdown)."""
    header = ["instance", "vehicles", "distance", "BKS", "gap %", "feasible", "seconds"]
    if baseline:
        header += ["plain OR-Tools", "ours / plain"]
    if peers:
        header += [f"ours / {name}" for name in PEERS]
    cells: list[list[str]] = []
    for r in rows:
        line = [
            r.instance,
            str(r.vehicles),
            _fmt(r.distance),
            _fmt(r.bks),
            _fmt(r.gap_pct),
            "yes" if r.feasible else "NO",
            _fmt(r.solve_s),
        ]
        if baseline:
            base = r.baseline_distance
            line.append(_fmt(base) if base else "no solution")
            line.append(_fmt(r.distance / base, ".3f") if base and r.distance else "—")
        if peers:
            for name in PEERS:
                peer = r.peers.get(name)
                line.append(_fmt(r.distance / peer, ".3f") if peer and r.distance else "—")
        cells.append(line)
    return header, cells


def summary_lines(rows: Sequence[BenchRow]) -> list[str]:
    """One plain-text line per family with the headline figures."""
    lines = []
    for kind, s in summary(rows).items():
        parts = [f"{k} {_fmt(v, '.3f') if isinstance(v, float) else v}" for k, v in s.items()]
        lines.append(f"{kind}: " + ", ".join(parts))
    return lines


def markdown(
    rows: Sequence[BenchRow],
    time_limit_s: float,
    *,
    baseline: bool,
    peers: bool,
    command: str,
    stamp: str,
) -> str:
    """A RESULTS.md section: command, machine, table and summary."""
    header, cells = table_rows(rows, baseline=baseline, peers=peers)
    facts = machine_facts()
    out = [
        "",
        f"### Solver, {time_limit_s:g} s per instance ({stamp})",
        "",
        f"Command: `{command}`",
        "",
        "Machine: " + ", ".join(f"{k} {v}" for k, v in facts.items()),
        "",
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
        *("| " + " | ".join(line) + " |" for line in cells),
        "",
        "Summary (gap: Solomon against the distance-only BKS, Li & Lim against the BKS):",
        "",
        *(f"- {line}" for line in summary_lines(rows)),
        "",
    ]
    return "\n".join(out)
