"""Quotes: base price × the cell's surge multiplier, with the reasons spelled out.

The multiplier comes from a ``SurgeSnapshot`` (computed by ``update_surge``)
and is rounded to two decimals and kept within the floor and cap the rules
give at ``now`` (so a snapshot older than the rules never breaks a cap).
Emergency jobs of a service whose rule has ``emergency_surge = false`` get the
neutral multiplier 1.0 (within [floor, cap]). Money is rounded half-up to cents.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from dispatch.errors import InvalidInput
from dispatch.model import Price, ServiceType
from dispatch.surge.field import SurgeSnapshot
from dispatch.surge.rules import RuleSet

_CENT = Decimal("0.01")


def cents(amount: float) -> float:
    """``amount`` rounded half-up to two decimals (2.675 → 2.68, unlike ``round``)."""
    return float(Decimal(repr(amount)).quantize(_CENT, rounding=ROUND_HALF_UP))


@dataclass(frozen=True)
class PriceBreakdown:
    base: float
    multiplier: float
    total: float
    rule_version: int
    explanation: Mapping[str, Any] = field(default_factory=dict)
    currency: str = "CNY"

    def to_price(self) -> Price:
        """The price to lock on an order or job."""
        return Price(self.base, self.multiplier, self.total, self.rule_version, self.currency)


def _check(name: str, value: float | None, *, optional: bool = False) -> float:
    if value is None and optional:
        return 0.0
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or value < 0
    ):
        raise InvalidInput(f"{name} must be a finite number >= 0")
    return float(value)


def base_price(
    rules: RuleSet, service_type: ServiceType, distance_m: float, duration_s: float | None = None
) -> tuple[float, dict[str, Any]]:
    """The price before surge, in cents, and how it was made (see ``Pricing``)."""
    p = rules.pricing[service_type]
    km = _check("distance_m", distance_m) / 1000.0
    hours = max(_check("duration_s", duration_s, optional=True) / 3600.0, p.min_hours)
    raw = p.base_fee + p.per_km * km + p.per_hour * hours
    base = cents(max(raw, p.min_total))
    return base, {
        "base_fee": p.base_fee,
        "distance_km": round(km, 3),
        "per_km": p.per_km,
        "hours": round(hours, 3),
        "per_hour": p.per_hour,
        "min_total": p.min_total,
        "min_total_applied": raw < p.min_total,
    }


def price_quote(
    rules: RuleSet,
    snapshot: SurgeSnapshot,
    service_type: ServiceType,
    cell: int,
    distance_m: float,
    now: float,
    duration_s: float | None = None,
    *,
    emergency: bool = False,
) -> PriceBreakdown:
    """Price a delivery (``distance_m`` pickup→dropoff) or a technician job
    (``duration_s``) whose origin lies in ``cell``, at ``now``."""
    if not math.isfinite(now):
        raise InvalidInput("now must be a finite number of seconds")
    base, base_info = base_price(rules, service_type, distance_m, duration_s)
    eff = rules.effective(service_type, now)
    exempt = emergency and not rules.rule(service_type).emergency_surge
    cs = snapshot.cells.get(cell)
    d = snapshot.detail(cell, service_type)
    m = 1.0 if exempt or d is None else d.multiplier
    m = min(max(round(m, 2), eff.floor), eff.cap)
    total = cents(base * m)
    explanation: dict[str, Any] = {
        "service": service_type.value,
        "cell": format(cell, "x"),
        "in_field": cs is not None,
        "demand": cs.demand if cs else 0.0,
        "supply": cs.supply if cs else 0.0,
        "ratio": round(cs.ratio, 4) if cs else 0.0,
        "smoothed_ratio": round(cs.smoothed_ratio, 4) if cs else 0.0,
        "curve_segment": [list(pt) for pt in d.segment] if d else None,
        "curve_value": round(d.curve_value, 4) if d else None,
        "target": round(d.target, 4) if d else None,
        "override": eff.override,
        "scale": eff.scale,
        "floor": eff.floor,
        "cap": eff.cap,
        "clamped": d.clamped if d and not exempt else None,
        "rate_limited": bool(d and d.rate_limited and not exempt),
        "emergency_exempt": exempt,
        "rule_version": rules.version,
        "rules_name": rules.name,
        "snapshot_ts": snapshot.ts,
        "snapshot_rule_version": snapshot.rule_version,
        "base": base_info,
    }
    return PriceBreakdown(base, m, total, rules.version, explanation, rules.currency)
