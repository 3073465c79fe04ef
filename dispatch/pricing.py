"""Quotes: base price, surge multiplier and ETA, with the reasons for the multiplier.

Surge per community and H3 cell: demand (open orders by pickup cell and jobs by
location) against supply (dispatchable workers with little or no committed
work), both summed over a k-ring, turned into a ratio, smoothed over time with
an exponential moving average, mapped through the service's piecewise-linear
curve, then limited in how fast it may move and clamped to floor and cap.
Rules are versioned data (``RuleSet``); the engine persists the smoothing state.
"""

from __future__ import annotations

import itertools
import json
import math
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geo
from dispatch.errors import InvalidInput
from dispatch.model import (
    DELIVERY_SERVICES,
    Community,
    OrderState,
    ServiceType,
    WorkerKind,
)
from dispatch.requests import Quote

if TYPE_CHECKING:
    from dispatch.engine import Engine


@dataclass(frozen=True)
class Curve:
    """Piecewise-linear ratio → multiplier, flat beyond its first and last points."""

    points: tuple[tuple[float, float], ...]

    def at(self, ratio: float) -> float:
        pts = self.points
        if ratio <= pts[0][0]:
            return pts[0][1]
        for (x0, y0), (x1, y1) in itertools.pairwise(pts):
            if ratio <= x1:
                return y0 + (y1 - y0) * (ratio - x0) / (x1 - x0)
        return pts[-1][1]


@dataclass(frozen=True)
class ServiceRule:
    """Surge curve and limits plus the base price of one service type."""

    curve: Curve
    floor: float = 1.0
    cap: float = 2.5
    base_fee: float = 5.0
    per_km: float = 1.5
    per_hour: float = 0.0
    min_total: float = 5.0
    surge: bool = True


@dataclass(frozen=True)
class TimeOverride:
    """Scale multipliers (and optionally cap them) during local hours [start, end)."""

    name: str
    start_hour: float
    end_hour: float
    scale: float = 1.0
    cap: float | None = None
    services: frozenset[ServiceType] | None = None

    def applies(self, local_hour: float, service: ServiceType) -> bool:
        if self.services is not None and service not in self.services:
            return False
        if self.start_hour <= self.end_hour:
            return self.start_hour <= local_hour < self.end_hour
        return local_hour >= self.start_hour or local_hour < self.end_hour


@dataclass(frozen=True)
class RuleSet:
    version: int
    name: str
    services: Mapping[ServiceType, ServiceRule]
    overrides: tuple[TimeOverride, ...] = ()
    max_change_per_min: float = 0.2
    k_ring: int = 1
    half_life_s: float = 300.0
    demand_window_s: float = 900.0
    utc_offset_min: int = 480
    allow_discounts: bool = False
    emergency_surge: bool = False
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)


_DEFAULT_CURVE = ((0.0, 1.0), (1.0, 1.0), (1.5, 1.2), (2.0, 1.5), (3.0, 2.0))
_DEFAULT_PRICES: Mapping[ServiceType, tuple[float, float, float]] = {
    ServiceType.GROCERY: (6.0, 1.5, 0.0),
    ServiceType.MEDICINE: (6.0, 1.5, 0.0),
    ServiceType.TAKEOUT: (5.0, 1.5, 0.0),
    ServiceType.CLEANING: (30.0, 0.0, 60.0),
    ServiceType.APPLIANCE_CLEANING: (40.0, 0.0, 80.0),
    ServiceType.PLUMBING: (50.0, 0.0, 90.0),
    ServiceType.REPAIR: (50.0, 0.0, 90.0),
}


def default_rules_dict() -> dict[str, Any]:
    """The shipped rule set as plain data (what an analyst edits)."""
    return {
        "name": "default",
        "max_change_per_min": 0.2,
        "k_ring": 1,
        "half_life_s": 300.0,
        "demand_window_s": 900.0,
        "utc_offset_min": 480,
        "allow_discounts": False,
        "emergency_surge": False,
        "services": {
            s.value: {
                "curve": [list(p) for p in _DEFAULT_CURVE],
                "floor": 1.0,
                "cap": 2.5,
                "base_fee": fee,
                "per_km": per_km,
                "per_hour": per_hour,
                "min_total": fee,
            }
            for s, (fee, per_km, per_hour) in _DEFAULT_PRICES.items()
        },
        "overrides": [
            {"name": "late-night", "start_hour": 23, "end_hour": 6, "scale": 1.0, "cap": 1.5},
        ],
    }


def _finite(errors: list[str], path: str, value: Any, *, low: float | None = None) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        errors.append(f"{path}: must be a finite number")
        return 0.0
    if low is not None and value < low:
        errors.append(f"{path}: must be at least {low}")
    return float(value)


def parse_rules(data: Mapping[str, Any], version: int = 0) -> RuleSet:
    """Validate rule data; every problem is reported at once, each with its field path."""
    errors: list[str] = []
    known = {
        "name",
        "version",
        "services",
        "overrides",
        "max_change_per_min",
        "k_ring",
        "half_life_s",
        "demand_window_s",
        "utc_offset_min",
        "allow_discounts",
        "emergency_surge",
    }
    for key in data:
        if key not in known:
            errors.append(f"{key}: unknown field")
    discounts = bool(data.get("allow_discounts", False))
    services: dict[ServiceType, ServiceRule] = {}
    raw_services = data.get("services", {})
    if not isinstance(raw_services, Mapping) or not raw_services:
        errors.append("services: must map service types to rules")
        raw_services = {}
    for name, rule in raw_services.items():
        path = f"services.{name}"
        try:
            service = ServiceType(name)
        except ValueError:
            errors.append(f"{path}: unknown service type")
            continue
        if not isinstance(rule, Mapping):
            errors.append(f"{path}: must be a table")
            continue
        pts_raw = rule.get("curve")
        pts: list[tuple[float, float]] = []
        if not isinstance(pts_raw, list) or len(pts_raw) < 2:
            errors.append(f"{path}.curve: needs at least two [ratio, multiplier] points")
        else:
            for i, pt in enumerate(pts_raw):
                if not isinstance(pt, list | tuple) or len(pt) != 2:
                    errors.append(f"{path}.curve[{i}]: must be [ratio, multiplier]")
                    continue
                x = _finite(errors, f"{path}.curve[{i}][0]", pt[0], low=0.0)
                y = _finite(errors, f"{path}.curve[{i}][1]", pt[1], low=0.0)
                if pts and x <= pts[-1][0]:
                    errors.append(f"{path}.curve[{i}]: ratios must increase")
                if pts and y < pts[-1][1]:
                    errors.append(f"{path}.curve[{i}]: multipliers must not decrease")
                pts.append((x, y))
        floor = _finite(errors, f"{path}.floor", rule.get("floor", 1.0), low=0.01)
        cap = _finite(errors, f"{path}.cap", rule.get("cap", 2.5), low=0.01)
        if not discounts and floor < 1.0:
            errors.append(f"{path}.floor: below 1.0 needs allow_discounts = true")
        if cap < floor:
            errors.append(f"{path}.cap: must be at least the floor")
        if cap > 10:
            errors.append(f"{path}.cap: above 10 is not allowed")
        prices = {
            k: _finite(errors, f"{path}.{k}", rule.get(k, d), low=0.0)
            for k, d in (("base_fee", 5.0), ("per_km", 0.0), ("per_hour", 0.0), ("min_total", 0.0))
        }
        services[service] = ServiceRule(
            curve=Curve(tuple(pts) if len(pts) >= 2 else _DEFAULT_CURVE),
            floor=floor,
            cap=cap,
            surge=bool(rule.get("surge", True)),
            **prices,
        )
    missing = sorted(s.value for s in ServiceType if s not in services)
    if raw_services and missing:
        errors.append(f"services: missing rules for {', '.join(missing)}")
    overrides: list[TimeOverride] = []
    for i, ov in enumerate(data.get("overrides", []) or []):
        path = f"overrides[{i}]"
        if not isinstance(ov, Mapping):
            errors.append(f"{path}: must be a table")
            continue
        start = _finite(errors, f"{path}.start_hour", ov.get("start_hour"), low=0.0)
        end = _finite(errors, f"{path}.end_hour", ov.get("end_hour"), low=0.0)
        if start >= 24 or end > 24:
            errors.append(f"{path}: hours must lie in [0, 24)")
        scale = _finite(errors, f"{path}.scale", ov.get("scale", 1.0), low=0.01)
        cap_raw = ov.get("cap")
        cap_o = None if cap_raw is None else _finite(errors, f"{path}.cap", cap_raw, low=0.01)
        svc_raw = ov.get("services")
        svcs: frozenset[ServiceType] | None = None
        if svc_raw is not None:
            try:
                svcs = frozenset(ServiceType(s) for s in svc_raw)
            except (ValueError, TypeError):
                errors.append(f"{path}.services: unknown service type")
        overrides.append(
            TimeOverride(str(ov.get("name", f"override-{i}")), start, end, scale, cap_o, svcs)
        )
    rate = _finite(errors, "max_change_per_min", data.get("max_change_per_min", 0.2), low=0.0)
    half = _finite(errors, "half_life_s", data.get("half_life_s", 300.0), low=1.0)
    window = _finite(errors, "demand_window_s", data.get("demand_window_s", 900.0), low=1.0)
    k = data.get("k_ring", 1)
    if not isinstance(k, int) or isinstance(k, bool) or not 0 <= k <= 3:
        errors.append("k_ring: must be an integer in [0, 3]")
        k = 1
    offset = data.get("utc_offset_min", 480)
    if not isinstance(offset, int) or isinstance(offset, bool) or not -720 <= offset <= 840:
        errors.append("utc_offset_min: must be an integer in [-720, 840]")
        offset = 0
    if errors:
        raise InvalidRules(errors)
    return RuleSet(
        version=version,
        name=str(data.get("name", "rules")),
        services=services,
        overrides=tuple(overrides),
        max_change_per_min=rate,
        k_ring=k,
        half_life_s=half,
        demand_window_s=window,
        utc_offset_min=offset,
        allow_discounts=discounts,
        emergency_surge=bool(data.get("emergency_surge", False)),
        raw={key: value for key, value in data.items() if key != "version"},
    )


class InvalidRules(InvalidInput):
    """A rule set failed validation; ``errors`` lists every problem with its path."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("invalid surge rules: " + "; ".join(errors))
        self.errors = errors


@dataclass(frozen=True)
class QuoteContext:
    community: Community
    service_type: ServiceType
    cell: int
    distance_m: float
    duration_s: float
    emergency: bool
    now: float


@dataclass(frozen=True)
class CellSurge:
    cell: int
    demand: float
    supply: float
    ratio: float
    smoothed_ratio: float
    multiplier: Mapping[ServiceType, float]


@dataclass(frozen=True)
class SurgeSnapshot:
    community_id: str
    ts: float
    rule_version: int
    cells: Mapping[int, CellSurge]

    def multiplier(self, cell: int, service: ServiceType) -> float | None:
        """The cell's multiplier for a service; None for a neutral cell (floor applies)."""
        c = self.cells.get(cell)
        return c.multiplier.get(service) if c is not None else None


def compute_field(
    rules: RuleSet,
    demand: Mapping[int, float],
    supply: Mapping[int, float],
    state: Mapping[str, Any] | None,
    now: float,
    neighbours: Callable[[int, int], Sequence[int]],
) -> tuple[dict[int, CellSurge], dict[str, Any]]:
    """The surge field and the smoothing state to keep (pure: no store, no clock).

    Demand and supply are summed over each cell's k-ring; the ratio is smoothed
    with a half-life EWMA; each service's curve maps it to a multiplier, which
    moves at most ``max_change_per_min`` per minute and stays in [floor, cap].
    """
    state = state or {}
    last_ts = float(state.get("ts", now))
    dt = max(0.0, now - last_ts)
    alpha = 1.0 - 0.5 ** (dt / rules.half_life_s) if state else 1.0
    prev_ratio: dict[str, float] = state.get("ratio", {})
    prev_mult: dict[str, dict[str, float]] = state.get("mult", {})
    cells = set(demand) | set(supply) | {int(c) for c in prev_ratio}
    out: dict[int, CellSurge] = {}
    new_ratio: dict[str, float] = {}
    new_mult: dict[str, dict[str, float]] = {}
    step = rules.max_change_per_min * dt / 60.0
    for cell in sorted(cells):
        ring = neighbours(cell, rules.k_ring)
        d = sum(demand.get(c, 0.0) for c in ring)
        s = sum(supply.get(c, 0.0) for c in ring)
        ratio = d / max(s, 0.5) if d > 0 else 0.0
        old = prev_ratio.get(str(cell))
        smooth = ratio if old is None else old + alpha * (ratio - old)
        before = prev_mult.get(str(cell), {})
        mults: dict[ServiceType, float] = {}
        for service, rule in rules.services.items():
            m = min(max(rule.curve.at(smooth), rule.floor), rule.cap)
            # A cell not seen before stood at the floor: surge ramps in, never jumps.
            b = before.get(service.value, rule.floor)
            m = min(max(m, b - step), b + step)
            m = min(max(m, rule.floor), rule.cap)  # floor and cap always hold
            mults[service] = round(m, 4)
        neutral = all(m <= rules.services[sv].floor + 1e-9 for sv, m in mults.items())
        if d == 0 and smooth < 1e-3 and neutral:
            continue  # neutral cells are not kept
        new_ratio[str(cell)] = smooth
        new_mult[str(cell)] = {sv.value: m for sv, m in mults.items()}
        out[cell] = CellSurge(cell, d, s, ratio, smooth, mults)
    return out, {"ts": now, "ratio": new_ratio, "mult": new_mult}


class Pricer:
    """Owns the active rule set and computes surge from the engine's state."""

    def __init__(self, rules: RuleSet | None = None, refresh_s: float = 5.0) -> None:
        self.rules = rules or parse_rules(default_rules_dict(), version=0)
        self.refresh_s = refresh_s
        self._snapshots: dict[str, SurgeSnapshot] = {}

    def set_rules(self, rules: RuleSet) -> None:
        self.rules = rules
        self._snapshots.clear()

    def snapshot(
        self, engine: Engine, community: Community, now: float, *, fresh: bool = False
    ) -> SurgeSnapshot:
        """The community's surge field, recomputed at most every ``refresh_s`` seconds."""
        cached = self._snapshots.get(community.id)
        if (
            not fresh
            and cached is not None
            and now - cached.ts < self.refresh_s
            and (cached.rule_version == self.rules.version)
        ):
            return cached
        snap = self._compute(engine, community, now)
        self._snapshots[community.id] = snap
        return snap

    def _compute(self, engine: Engine, community: Community, now: float) -> SurgeSnapshot:
        rules = self.rules
        res = community.h3_resolution
        demand: dict[int, float] = {}
        recent = now - rules.demand_window_s
        for o in engine.store.list_open_orders(community.id):
            # Demand: work still waiting for a courier, and everything placed recently.
            if o.state in (OrderState.PENDING, OrderState.ASSIGNED) or o.created_at >= recent:
                c = geo.cell_of(o.pickup.lat, o.pickup.lng, res)
                demand[c] = demand.get(c, 0.0) + 1.0
        for j in engine.store.list_open_jobs(community.id):
            c = geo.cell_of(j.location.lat, j.location.lng, res)
            demand[c] = demand.get(c, 0.0) + 1.0
        supply: dict[int, float] = {}
        plan = engine.store.get_plan(community.id)
        for w in engine.store.list_workers(community.id):
            if w.cell is None or w.position_ts is None:
                continue
            if now - w.position_ts > engine.settings.location_staleness_s:
                continue
            if w.status.value not in ("available", "busy"):
                continue
            stops = len(plan.routes.get(w.id, ())) if plan else 0
            free = max(0.0, 1.0 - stops / (2.0 * max(1, w.capacity)))
            if w.kind == WorkerKind.TECHNICIAN:
                free = 1.0 if stops == 0 else 0.0
            supply[w.cell] = supply.get(w.cell, 0.0) + free
        state = engine.store.get_surge_state(community.id)
        out, new_state = compute_field(rules, demand, supply, state, now, geo.disk)
        engine.store.put_surge_state(community.id, new_state)
        return SurgeSnapshot(community.id, now, rules.version, out)

    def quote(self, engine: Engine, ctx: QuoteContext) -> Quote:
        rules = self.rules
        rule = rules.services[ctx.service_type]
        snap = self.snapshot(engine, ctx.community, ctx.now)
        cell = snap.cells.get(ctx.cell)
        field = snap.multiplier(ctx.cell, ctx.service_type)
        mult = field if field is not None else rule.floor
        local_hour = ((ctx.now / 3600.0) + rules.utc_offset_min / 60.0) % 24.0
        used_override = None
        for ov in rules.overrides:
            if ov.applies(local_hour, ctx.service_type):
                mult *= ov.scale
                if ov.cap is not None:
                    mult = min(mult, ov.cap)
                used_override = ov.name
        if not rule.surge or (ctx.emergency and not rules.emergency_surge):
            mult = 1.0
        mult = round(max(mult, rule.floor if rule.surge else 1.0), 2)
        base = rule.base_fee + rule.per_km * ctx.distance_m / 1000.0
        base += rule.per_hour * ctx.duration_s / 3600.0
        base = round(max(base, rule.min_total), 2)
        total = round(base * mult, 2)
        eta = self._eta(engine, ctx)
        explanation: dict[str, Any] = {
            "cell": format(ctx.cell, "x"),
            "demand": cell.demand if cell else 0.0,
            "supply": cell.supply if cell else 0.0,
            "ratio": round(cell.ratio, 3) if cell else 0.0,
            "smoothed_ratio": round(cell.smoothed_ratio, 3) if cell else 0.0,
            "rule": ctx.service_type.value,
            "floor": rule.floor,
            "cap": rule.cap,
            "override": used_override,
            "emergency_exempt": bool(ctx.emergency and not rules.emergency_surge),
        }
        return Quote(eta, base, mult, total, rules.version, explanation)

    def _eta(self, engine: Engine, ctx: QuoteContext) -> float:
        """Nearest fresh worker's travel to the origin plus the trip itself, in seconds."""
        kind = (
            WorkerKind.COURIER if ctx.service_type in DELIVERY_SERVICES else WorkerKind.TECHNICIAN
        )
        lat, lng = geo.cell_center(ctx.cell)
        best = math.inf
        for w in engine.store.list_workers(ctx.community.id):
            if w.kind != kind or w.position is None or w.position_ts is None:
                continue
            if ctx.now - w.position_ts > engine.settings.location_staleness_s:
                continue
            prof = geo.profile(w.vehicle.value)
            best = min(best, geo.eta_s(w.position.lat, w.position.lng, lat, lng, prof))
        if not math.isfinite(best):
            best = ctx.community.delivery_sla_s
        trip = ctx.distance_m * 1.3 / geo.PROFILES["bicycle"].speed_mps
        return float(best + trip)


def rules_to_dict(rules: RuleSet) -> dict[str, Any]:
    """The rule set as data (what ``parse_rules`` reads), with its version."""
    return {**dict(rules.raw), "version": rules.version}


def load_rules(path: str | Path) -> RuleSet:
    """Read a rule set from a .toml or .json file (validated, version 0 until activated)."""
    p = Path(path)
    try:
        text = p.read_text()
    except OSError as exc:
        raise InvalidInput(f"cannot read rules file {p}: {exc}") from exc
    try:
        if p.suffix == ".toml":
            data = tomllib.loads(text)
        elif p.suffix == ".json":
            data = json.loads(text)
        else:
            raise InvalidInput(f"rules file {p} must end in .toml or .json")
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as exc:
        raise InvalidInput(f"rules file {p} is not valid {p.suffix[1:].upper()}: {exc}") from exc
    if not isinstance(data, Mapping):
        raise InvalidInput(f"rules file {p} must hold a table at the top")
    return parse_rules(data)
