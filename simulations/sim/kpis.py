"""Key performance indicators of a finished run, as a flat JSON-able dict.

Definitions (times in minutes, rates in [0, 1]):

- ``on_time_rate``: delivered orders handed over by their promise / delivered orders.
- ``click_to_door_*``: delivery time minus order time, over delivered orders.
- ``ready_to_pickup_p50_min``: pickup time minus the time the merchant really had
  the order ready, over picked-up orders.
- ``courier_utilization``: couriers' time travelling or in service / their shift time.
- ``orders_per_courier_hour``: delivered orders / courier shift hours.
- ``km_per_order``: kilometres couriers travelled / delivered orders.
- ``jobs_on_time_rate``: jobs with a due time (booked window or emergency), not
  cancelled, reached by it / such jobs. A job due after the run ended and not yet
  reached is not judged: nothing was late about it when the day stopped.
- ``emergency_response_p90_min``: emergency arrival minus creation, 90th percentile.
- ``mean_surge_multiplier`` / ``max_surge_multiplier``: over every quote given.
- ``unassigned_at_end``: open orders and jobs without a worker when the run ended.
- ``solver_fallbacks``: ticks whose optimiser found nothing better than the regret-insertion
  plan.
- ``tick_p95_ms``: 95th percentile of the wall time of a tick (the one noisy figure).
- Money, over delivered orders only (a cancelled or failed order is refunded), in
  the rule set's currency: ``delivery_fees`` (each order's fee, base × multiplier,
  locked when it was placed), ``order_value`` (the baskets' value), ``revenue``
  (their sum), ``fees_<tier>`` (delivery fees paid by each member tier) and
  ``courier_earnings_per_hour``: couriers' pay (``courier_fee_share`` of the fees
  plus ``courier_per_delivery`` per delivery, the scenario's ``[economics]``) per
  courier shift hour.
Percentiles interpolate linearly; a KPI without data is ``None``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from dispatch.model import Priority, WorkerKind
from simulations.sim.records import SimulationResult

#: KPIs that depend on the machine (wall time); left out of determinism checks.
TIMING_KPIS = frozenset({"tick_p95_ms", "tick_mean_ms", "wall_s"})


def percentile(values: Sequence[float], q: float) -> float | None:
    return None if not values else float(np.percentile(np.asarray(values, dtype=float), q))


def mean(values: Sequence[float]) -> float | None:
    return None if not values else float(np.mean(np.asarray(values, dtype=float)))


def _r(x: float | None, digits: int = 4) -> float | None:
    return None if x is None else round(x, digits)


def shift_seconds(result: SimulationResult, kind: WorkerKind) -> float:
    """Scheduled shift time of the workers of one kind, clipped to the run."""
    return sum(
        max(0.0, min(a.plan.end_s, result.end_s) - a.plan.start_s)
        for a in result.agents
        if a.plan.kind == kind
    )


def compute_kpis(result: SimulationResult) -> dict[str, Any]:
    """The KPI dict of a run (see the module docstring for definitions)."""
    orders = result.orders
    delivered = [o for o in orders if o.state == "delivered" and o.delivered_s is not None]
    c2d = [(o.delivered_s - o.created_s) / 60.0 for o in delivered if o.delivered_s is not None]
    picked = [o for o in orders if o.picked_s is not None]
    r2p = [max(0.0, (o.picked_s - o.ready_s) / 60.0) for o in picked if o.picked_s is not None]
    couriers = [a for a in result.agents if a.plan.kind == WorkerKind.COURIER]
    shift_s = shift_seconds(result, WorkerKind.COURIER)
    busy_s = sum(a.travel_s + a.service_s for a in couriers)
    km = sum(a.metres for a in couriers) / 1000.0
    jobs = result.jobs
    due = [
        j
        for j in jobs
        if j.due_s is not None
        and j.state != "cancelled"
        and (j.due_s <= result.end_s or j.arrived_s is not None)
    ]
    due_ok = [j for j in due if j.arrived_s is not None and j.arrived_s <= j.due_s + 1e-6]  # type: ignore[operator]
    emergencies = [j for j in jobs if j.emergency and j.arrived_s is not None]
    response = [(j.arrived_s - j.created_s) / 60.0 for j in emergencies if j.arrived_s is not None]
    mults = [q.multiplier for q in result.quotes]
    states = [o.state for o in orders]
    open_orders = sum(s in ("pending", "assigned", "picked_up") for s in states)
    solve = [t.solve_ms for t in result.ticks]
    return {
        "orders_total": len(orders),
        "orders_delivered": len(delivered),
        "on_time_rate": _r(mean([float(o.on_time) for o in delivered])),
        "click_to_door_p50_min": _r(percentile(c2d, 50)),
        "click_to_door_p90_min": _r(percentile(c2d, 90)),
        "click_to_door_p95_min": _r(percentile(c2d, 95)),
        "ready_to_pickup_p50_min": _r(percentile(r2p, 50)),
        "courier_utilization": _r(busy_s / shift_s if shift_s > 0 else None),
        "orders_per_courier_hour": _r(len(delivered) / (shift_s / 3600.0) if shift_s else None),
        "km_per_order": _r(km / len(delivered) if delivered else None),
        "jobs_total": len(jobs),
        "jobs_on_time_rate": _r(len(due_ok) / len(due) if due else None),
        "emergency_response_p90_min": _r(percentile(response, 90)),
        "mean_surge_multiplier": _r(mean(mults)),
        "max_surge_multiplier": _r(max(mults) if mults else None),
        "quotes_declined": sum(1 for q in result.quotes if not q.accepted),
        "unassigned_at_end": sum(s == "pending" for s in states)
        + sum(j.state == "pending" for j in jobs),
        "solver_fallbacks": sum(1 for t in result.ticks if t.fallback),
        "tick_p95_ms": _r(percentile(solve, 95), 1),
        # more detail
        "quotes_total": len(result.quotes),
        "orders_cancelled": states.count("cancelled"),
        "orders_failed": states.count("failed"),
        "orders_open_at_end": open_orders,
        "click_to_door_mean_min": _r(mean(c2d)),
        "jobs_completed": sum(j.state == "completed" for j in jobs),
        "jobs_cancelled": sum(j.state == "cancelled" for j in jobs),
        "emergencies": sum(j.emergency for j in jobs),
        "ticks": len(result.ticks),
        "ticks_skipped": result.ticks_skipped,
        "tick_mean_ms": _r(mean(solve), 1),
        "courier_hours": _r(shift_s / 3600.0, 3),
        "simulated_hours": _r(result.end_s / 3600.0, 3),
        "worker_conflicts": result.conflicts,
        "trip_rule_overrides": result.trip_rule_overrides,
        "wall_s": _r(result.wall_s, 2),
        **money_kpis(result, shift_s),
    }


def money_kpis(result: SimulationResult, courier_shift_s: float) -> dict[str, Any]:
    """Revenue, fees per member tier and courier earnings (module docstring)."""
    delivered = [o for o in result.orders if o.state == "delivered"]
    fees = sum(o.fee for o in delivered)
    value = sum(o.value for o in delivered)
    econ = result.world.economics
    pay = econ.courier_fee_share * fees + econ.courier_per_delivery * len(delivered)
    hours = courier_shift_s / 3600.0
    out: dict[str, Any] = {
        "revenue": round(fees + value, 2),
        "order_value": round(value, 2),
        "delivery_fees": round(fees, 2),
        "mean_delivery_fee": _r(fees / len(delivered) if delivered else None, 2),
        "courier_earnings_per_hour": _r(pay / hours if hours > 0 else None, 2),
    }
    for tier in Priority:
        out[f"fees_{tier.value}"] = round(sum(o.fee for o in delivered if o.priority == tier), 2)
    return out


def comparable(kpis: dict[str, Any]) -> dict[str, Any]:
    """The KPIs without the machine-dependent timings (for determinism checks)."""
    return {k: v for k, v in kpis.items() if k not in TIMING_KPIS}


def kpi_cell(v: Any) -> str:
    """A KPI as a table cell: '–' for no data, three decimals below 10, one above."""
    if v is None:
        return "–"
    if isinstance(v, float):
        return f"{v:.3f}" if abs(v) < 10 else f"{v:.1f}"
    return str(v)
