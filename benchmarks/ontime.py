"""On-time share of the default day, and where its late deliveries come from.

Run:
  .venv/bin/python benchmarks/ontime.py --seeds 0 1 --surge on off \
      [--variant NAME:section.key=JSON,...] [--variant NAME:rules=PATH] \
      [--policies optimizer nearest-idle] [--hours 8] [--jobs 2] [--reproducible] \
      [--no-base] [--results-md PATH]

Each (seed, surge, variant or policy) is one simulated day; days run interleaved
(the variants of one seed and surge side by side, ``--jobs`` at a time), so a
busy machine hurts every variant alike. A variant overrides scenario fields
(``engine.promise_buffer_s=900``, ``community.max_orders_per_trip=2``; a
``merchants.`` field is set on every merchant group; a name without a section is a
top-level field, ``idle_return_m=500``) or the surge rule set (``rules=path.toml``)
of the optimizer policy; "base" is the scenario as shipped (``--no-base``: left out,
when an earlier reproducible run already gave it). ``--reproducible`` ends every
tick's search by work, not by the clock: the figures then do not depend on the
machine's load (slower).

Late deliveries are split by what made them late:
- unreachable: the kitchen's real ready time, the pickup service and the fastest
  courier profile's direct ride already pass the promise (no dispatch helps);
- slow pickup: the courier reached the counter more than 3 minutes after the
  food was really ready;
- long ride: the ride from pickup to door took more than 3 minutes over the
  courier's own direct ride (a bundle or a detour);
- other: neither (a slow vehicle on a long direct ride, or small delays adding up).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]  # benchmarks/http.py
sys.path.insert(0, str(_HERE.parent))

import geo  # noqa: E402
from benchmarks.common import publish  # noqa: E402
from simulations.sim.records import OrderRecord, SimulationResult  # noqa: E402
from simulations.sim.runner import SimulationOptions, run  # noqa: E402
from simulations.sim.scenario import load_scenario, parse_scenario  # noqa: E402

#: Minutes of delay at the counter or on the ride that count as a cause.
SLACK_MIN = 3.0
FASTEST = "scooter"  # the fastest courier profile of the default scenario


def _ride_s(vehicle: str, o: OrderRecord) -> float:
    return float(
        geo.eta_s(o.pickup.lat, o.pickup.lng, o.dropoff.lat, o.dropoff.lng, geo.profile(vehicle))
    )


def decompose(result: SimulationResult) -> dict[str, Any]:
    """Late deliveries by cause and by hour of placement, and how late they were on average.

    Causes: see the module docstring. ``late_min_mean``: mean minutes past the promise of
    the late deliveries (a plan that keeps more promises may break the rest by more).
    """
    world = result.world
    vehicle = {w.id: w.vehicle.value for w in world.workers}
    pickup_s = 120.0
    causes: Counter[str] = Counter()
    by_hour: Counter[int] = Counter()
    served: Counter[int] = Counter()
    past: list[float] = []
    for o in result.orders:
        if o.delivered_s is None or o.picked_s is None:
            continue
        served[int(o.created_s // 3600)] += 1
        if o.on_time:
            continue
        by_hour[int(o.created_s // 3600)] += 1
        past.append((o.delivered_s - o.promised_s) / 60.0)
        if o.ready_s + pickup_s + _ride_s(FASTEST, o) > o.promised_s:
            causes["unreachable"] += 1
        elif o.picked_s - o.ready_s > SLACK_MIN * 60 + pickup_s:
            causes["slow pickup"] += 1
        elif o.delivered_s - o.picked_s - _ride_s(vehicle.get(o.worker or "", FASTEST), o) > (
            SLACK_MIN * 60
        ):
            causes["long ride"] += 1
        else:
            causes["other"] += 1
    return {
        "causes": dict(causes),
        "late_by_hour": {h: [by_hour[h], served[h]] for h in sorted(served)},
        "late_min_mean": sum(past) / len(past) if past else None,
    }


def overridden(data: dict[str, Any], overrides: dict[str, Any]) -> Path | None:
    """Set a variant's fields on a dumped scenario (in place); its surge rule file, if any.

    ``section.key`` sets a field of a section (``merchants.key``: of every merchant
    group), ``key`` a top-level field, ``rules`` names the rule file.
    """
    rules = None
    for key, value in overrides.items():
        if key == "rules":
            rules = Path(value)
            continue
        section, dot, name = key.partition(".")
        if not dot:
            data[key] = value
        elif section == "merchants":
            for group in data["merchants"]:
                group[name] = value
        else:
            data[section][name] = value
    return rules


def planned_days(
    seeds: list[int],
    surges: list[str],
    variants: list[tuple[str, dict[str, Any]]],
    policies: list[str],
    hours: float,
    reproducible: bool,
) -> list[dict[str, Any]]:
    """One job per (seed, surge, variant or baseline policy), variants of a day side by side."""
    jobs = []
    for seed in seeds:
        for surge in surges:
            day = {"seed": seed, "surge": surge == "on", "hours": hours}
            day["reproducible"] = reproducible
            for label, overrides in variants:
                jobs.append({"label": label, "policy": "optimizer", "set": overrides, **day})
            for policy in policies:
                jobs.append({"label": policy, "policy": policy, "set": {}, **day})
    return jobs


def _day(job: dict[str, Any]) -> dict[str, Any]:
    data = load_scenario("default").model_dump()
    rules = overridden(data, job["set"])
    data["hours"] = job["hours"]
    scenario = parse_scenario(data, source=f"default ({job['label']})")
    started = time.perf_counter()
    out = run(
        SimulationOptions(
            scenario=scenario,
            seed=job["seed"],
            policy=job["policy"],  # built from the world's solver settings (reproducible too)
            surge=job["surge"],
            rules=rules,
            reproducible=job["reproducible"],
            write_events=False,
            report=False,
        )
    )
    return {
        **job,
        "kpis": out.kpis,
        "late": decompose(out.result),
        "wall_s": time.perf_counter() - started,
    }


def _minutes(value: float | None) -> str:
    return "–" if value is None else f"{value:.1f}"


def variant(text: str) -> tuple[str, dict[str, Any]]:
    """``NAME:key=json,...`` (``rules=`` takes a path) as a name and its overrides."""
    name, _, rest = text.partition(":")
    out: dict[str, Any] = {}
    for part in filter(None, rest.split(",")):
        key, _, value = part.partition("=")
        out[key] = value if key == "rules" else json.loads(value)
    return name, out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--surge", nargs="+", choices=["on", "off"], default=["on"])
    ap.add_argument("--variant", action="append", default=[], help="NAME:key=json,...")
    ap.add_argument("--policies", nargs="*", default=[], help="baselines run as shipped")
    ap.add_argument("--hours", type=float, default=8.0)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--reproducible", action="store_true", help="searches end by work")
    ap.add_argument("--no-base", dest="base", action="store_false", help="run the variants only")
    ap.add_argument("--json", type=Path, default=None, help="write every day's figures here")
    ap.add_argument("--results-md", type=Path, default=None)
    args = ap.parse_args(argv)
    variants = [("base", {})] if args.base else []
    variants += [variant(v) for v in args.variant]
    jobs = planned_days(
        args.seeds, args.surge, variants, args.policies, args.hours, args.reproducible
    )
    load_start = os.getloadavg()[0]
    with ProcessPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        days = list(pool.map(_day, jobs))
    load_end = os.getloadavg()[0]
    if args.json is not None:
        args.json.write_text(json.dumps(days, indent=1, default=str) + "\n", encoding="utf-8")
    command = "python benchmarks/ontime.py " + " ".join(argv or sys.argv[1:])
    lines = [
        f"Command: `{command}`  ",
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}; load average {load_start:.1f} at the start, "
        f"{load_end:.1f} at the end.",
        "",
        "| seed | surge | run | orders | declined quotes | delivered | on time | c2d p90 min "
        "| late | min late (mean) | unreachable | slow pickup | long ride | other | wall s |",
        "|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for d in days:
        k, c = d["kpis"], d["late"]["causes"]
        late = sum(c.values())
        lines.append(
            f"| {d['seed']} | {'on' if d['surge'] else 'off'} | {d['label']} "
            f"| {k['orders_total']} | {k['quotes_declined']} | {k['orders_delivered']} "
            f"| {k['on_time_rate']:.3f} | {k['click_to_door_p90_min']:.1f} | {late} "
            f"| {_minutes(d['late']['late_min_mean'])} "
            f"| {c.get('unreachable', 0)} | {c.get('slow pickup', 0)} | {c.get('long ride', 0)} "
            f"| {c.get('other', 0)} | {d['wall_s']:.0f} |"
        )
    publish(lines, args.results_md)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
