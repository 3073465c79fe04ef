"""One policy run against its hindsight bound: a JSON-able summary, and the tables.

``summarise`` runs nothing: it takes a finished run and its hindsight plan.
The share of the gap the optimizer closes compares each policy with the bound
of its own day (with surge on, each run accepts its own orders):
``1 - (bound_opt - opt) / (bound_base - base)`` for a rate where higher is
better (the optimizer's shortfall against its bound, over the baseline's).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from simulations.hindsight.day import Day
from simulations.hindsight.decompose import JOB_CAUSES, decompose
from simulations.hindsight.facts import hindsight_kpis, late_jobs, late_orders
from simulations.hindsight.solve import HindsightPlan
from simulations.sim.kpis import compute_kpis, kpi_cell
from simulations.sim.records import SimulationResult

#: A gap smaller than this is none (run KPIs are rounded to four digits).
NO_GAP = 1e-3
#: KPIs shown side by side (online run, then its bound).
COLUMNS = (
    "orders_delivered",
    "on_time_rate",
    "click_to_door_p50_min",
    "click_to_door_p90_min",
    "jobs_on_time_rate",
)


def summarise(result: SimulationResult, day: Day, plan: HindsightPlan) -> dict[str, Any]:
    """Online KPIs, the bound's KPIs, the plan's checks and the late-work decomposition."""
    online = compute_kpis(result)
    d = decompose(late_orders(result, day, plan), late_jobs(result, day, plan))
    after_run = sum(
        1
        for j in result.jobs
        if j.id in d.per_job and j.window is not None and j.window[0] >= result.end_s
    )
    return {
        "policy": result.policy,
        "seed": result.seed,
        "surge": result.surge,
        "online": {k: online.get(k) for k in (*COLUMNS, "orders_total")},
        "hindsight": hindsight_kpis(day, plan),
        "check": {
            "valid": plan.valid,
            "violations": [*plan.checker_violations, *plan.timing.violations][:10],
            "dropped_orders": list(plan.dropped_orders),
            "dropped_jobs": list(plan.dropped_jobs),
            "solve_s": round(plan.solve_s, 1),
            "backends": list(plan.backends),
            "courier_start": plan.courier_start,
        },
        "late": {
            "orders": d.late_orders,
            "orders_in_hindsight": d.orders_late_in_hindsight,
            "orders_promise_unreachable": d.orders_promise_unreachable,
            "orders_by_dispatch": d.orders_late_by_dispatch,
            "jobs": d.late_jobs,
            "jobs_in_hindsight": d.jobs_late_in_hindsight,
            "jobs_by_dispatch": d.jobs_late_by_dispatch,
            "jobs_window_after_run": after_run,
            "job_primary": dict(d.job_primary),
            "job_causes": dict(d.job_causes),
            "consistent": d.consistent,
        },
        "per_order": {
            o.id: {
                "created_s": round(o.created_s, 1),
                "promised_s": round(o.promised_s, 1),
                "hindsight_delivered_s": _round(plan.timing.delivered_s.get(o.id)),
            }
            for o in day.orders
        },
    }


def _round(x: float | None) -> float | None:
    return None if x is None else round(x, 1)


def gap_closed(opt: Mapping[str, Any], base: Mapping[str, Any], key: str) -> float | None:
    """Share of the baseline's gap to its bound that the optimizer closes (module docstring)."""
    o, bo = opt["online"].get(key), opt["hindsight"].get(key)
    b, bb = base["online"].get(key), base["hindsight"].get(key)
    if None in (o, bo, b, bb) or bb - b < NO_GAP:
        return None  # the baseline reached its bound: no gap to close
    return float(1.0 - (bo - o) / (bb - b))


def markdown(rows: Sequence[Mapping[str, Any]], baseline: str = "nearest-idle") -> list[str]:
    """The side-by-side, gap and decomposition tables of a set of runs."""
    out = [
        "| seed | run | delivered | on time | c2d p50 | c2d p90 | jobs on time "
        "| bound: delivered | on time | c2d p50 | c2d p90 | jobs on time | plan checks | solve s |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|",
    ]
    for r in rows:
        on = [kpi_cell(r["online"][k]) for k in COLUMNS]
        hs = [kpi_cell(r["hindsight"][k]) for k in COLUMNS]
        c = r["check"]
        verdict = "valid" if c["valid"] else "INVALID"
        if c["dropped_orders"] or c["dropped_jobs"]:
            verdict += f", drops {len(c['dropped_orders'])} orders / {len(c['dropped_jobs'])} jobs"
        if c.get("bound_of"):
            verdict += f", {c['bound_of']}'s bound of the same day (the better)"
        elif c.get("courier_start") == "realised":
            verdict += ", grown from the run's routes"
        out.append(
            f"| {r['seed']} | {r['policy']} | "
            + " | ".join(on)
            + " | "
            + " | ".join(hs)
            + f" | {verdict} | {c['solve_s']:.0f} |"
        )
    by_seed: dict[int, dict[str, Mapping[str, Any]]] = {}
    for r in rows:
        by_seed.setdefault(r["seed"], {})[r["policy"]] = r
    out += [
        "",
        f"Share of {baseline}'s gap to its bound that the optimizer closes "
        "(1 − optimizer's shortfall / baseline's shortfall, each against its own day's bound):",
        "",
        "| seed | on-time share | jobs on time |",
        "|---|---:|---:|",
    ]
    for seed, runs in sorted(by_seed.items()):
        if "optimizer" in runs and baseline in runs:
            o, b = runs["optimizer"], runs[baseline]
            out.append(
                f"| {seed} | {kpi_cell(gap_closed(o, b, 'on_time_rate'))} "
                f"| {kpi_cell(gap_closed(o, b, 'jobs_on_time_rate'))} |"
            )
    out += [
        "",
        "Late work, decomposed (late deliveries: delivered after the promise; late jobs: "
        "due, not cancelled, reached after the due time or never):",
        "",
        "| seed | run | late deliveries | late in hindsight (promise unreachable) "
        "| late by dispatch | late jobs | late in hindsight | late by dispatch "
        "| window opens after the run |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        late = r["late"]
        out.append(
            f"| {r['seed']} | {r['policy']} | {late['orders']} | {late['orders_in_hindsight']} "
            f"({late['orders_promise_unreachable']}) | {late['orders_by_dispatch']} "
            f"| {late['jobs']} | {late['jobs_in_hindsight']} | {late['jobs_by_dispatch']} "
            f"| {late['jobs_window_after_run']} |"
        )
    out += [
        "",
        "Late jobs by primary cause (the first that applies, in this order; "
        "in brackets: jobs showing the cause at all):",
        "",
        "| seed | run | " + " | ".join(JOB_CAUSES) + " |",
        "|---|---|" + "---:|" * len(JOB_CAUSES),
    ]
    for r in rows:
        late = r["late"]
        cells = [
            f"{late['job_primary'].get(c, 0)} ({late['job_causes'].get(c, 0)})" for c in JOB_CAUSES
        ]
        out.append(f"| {r['seed']} | {r['policy']} | " + " | ".join(cells) + " |")
    return out
