"""What each KPI is called, its unit and how to round it, for reports and tables.

One place, so the simulation report, the backtest report and the command line
say "on time (%)" rather than ``on_time_rate``. ``fmt`` renders a value for
people (rates as percentages); ``None`` (a KPI without data) renders as "–".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class KpiLabel:
    """A KPI's label, unit, decimals and which direction is better (None: neither)."""

    label: str
    unit: str = ""
    digits: int = 1
    percent: bool = False  # a rate in [0, 1] shown as a percentage
    better: str | None = None  # "higher" | "lower" | None

    @property
    def title(self) -> str:
        unit = "%" if self.percent else self.unit
        return f"{self.label} ({unit})" if unit else self.label

    def fmt(self, value: Any, *, signed: bool = False) -> str:
        """The value rounded for a table (percentage points for a signed rate)."""
        if value is None:
            return "–"
        x = float(value) * (100.0 if self.percent else 1.0)
        sign = "+" if signed else ""
        return f"{x:{sign},.{self.digits}f}"


CURRENCY = "CNY"

#: KPIs in report order (the keys of ``simulations.sim.kpis.compute_kpis``).
KPI_LABELS: dict[str, KpiLabel] = {
    "revenue": KpiLabel("revenue (order value + delivery fees)", CURRENCY, 0, better="higher"),
    "order_value": KpiLabel("order value", CURRENCY, 0, better="higher"),
    "delivery_fees": KpiLabel("delivery fees", CURRENCY, 0, better="higher"),
    "mean_delivery_fee": KpiLabel("mean delivery fee", CURRENCY, 2),
    "fees_standard": KpiLabel("fees paid by standard members", CURRENCY, 0),
    "fees_silver": KpiLabel("fees paid by silver members", CURRENCY, 0),
    "fees_gold": KpiLabel("fees paid by gold members", CURRENCY, 0),
    "fees_diamond": KpiLabel("fees paid by diamond members", CURRENCY, 0),
    "quotes_total": KpiLabel("quotes", "count", 0),
    "quotes_declined": KpiLabel("declined quotes", "count", 1, better="lower"),
    "orders_total": KpiLabel("orders placed", "count", 1, better="higher"),
    "orders_delivered": KpiLabel("deliveries", "count", 1, better="higher"),
    "orders_cancelled": KpiLabel("orders cancelled", "count", 1, better="lower"),
    "on_time_rate": KpiLabel("on time", digits=1, percent=True, better="higher"),
    "click_to_door_p50_min": KpiLabel("click-to-door p50", "min", 1, better="lower"),
    "click_to_door_p90_min": KpiLabel("click-to-door p90", "min", 1, better="lower"),
    "courier_utilization": KpiLabel("courier utilisation", digits=1, percent=True),
    "courier_earnings_per_hour": KpiLabel(
        "courier earnings per shift hour", f"{CURRENCY}/h", 1, better="higher"
    ),
    "orders_per_courier_hour": KpiLabel("deliveries per courier hour", "1/h", 2),
    "km_per_order": KpiLabel("distance per delivery", "km", 2, better="lower"),
    "mean_surge_multiplier": KpiLabel("mean surge multiplier", "×", 3),
    "max_surge_multiplier": KpiLabel("max surge multiplier", "×", 2),
    "jobs_total": KpiLabel("technician jobs", "count", 1),
    "jobs_on_time_rate": KpiLabel("jobs on time", digits=1, percent=True, better="higher"),
    "emergency_response_p90_min": KpiLabel("emergency response p90", "min", 1, better="lower"),
    "unassigned_at_end": KpiLabel("unassigned at end", "count", 0, better="lower"),
    "solver_fallbacks": KpiLabel("solver fallbacks", "count", 0),
    "tick_p95_ms": KpiLabel("tick p95 (wall time)", "ms", 0),
}


def label_of(key: str) -> KpiLabel:
    """The KPI's label, or one made from its key."""
    return KPI_LABELS.get(key) or KpiLabel(key.replace("_", " "), digits=2)
