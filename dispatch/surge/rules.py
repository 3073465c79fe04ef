"""Surge rule sets: the versioned, validated data that analysts edit.

A ``RuleSet`` says, per service type, how a demand/supply ratio becomes a price
multiplier (a piecewise-linear ``Curve`` between a floor and a cap), which
time-of-day ``TimeOverride`` changes that, how fast multipliers may move, how
the field is smoothed, and the base price (``Pricing``). ``parse_rules`` checks
everything and reports every problem with its field path (``InvalidRules``).
The shipped defaults live in ``default_rules.toml`` next to this module; that
file documents every field.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from dispatch.errors import InvalidInput
from dispatch.model import ServiceType
from dispatch.surge._envelope import unwrap_rules
from dispatch.surge._validate import InvalidRules, Loc, Problems

#: The most time-of-day overrides a rule set may hold (each quote scans them).
MAX_OVERRIDES = 500
#: The highest cap (and curve value) a rule set may name.
MAX_CAP = 10.0
#: Local weekdays, Monday first (Python's ``date.weekday()`` numbering).
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

Point = tuple[float, float]


@dataclass(frozen=True, slots=True)
class Curve:
    """Demand/supply ratio → multiplier, linear between points, flat beyond the ends."""

    points: tuple[Point, ...]

    def at(self, ratio: float) -> float:
        return self.locate(ratio)[0]

    def locate(self, ratio: float) -> tuple[float, Point, Point]:
        """The value at ``ratio`` and the two points around it (the same point when clamped)."""
        pts = self.points
        if ratio <= pts[0][0]:
            return pts[0][1], pts[0], pts[0]
        for a, b in itertools.pairwise(pts):
            if ratio <= b[0]:
                return a[1] + (b[1] - a[1]) * (ratio - a[0]) / (b[0] - a[0]), a, b
        return pts[-1][1], pts[-1], pts[-1]


@dataclass(frozen=True, slots=True)
class ServiceRule:
    """Curve and limits of one service type.

    ``emergency_surge``: whether emergency jobs of this service are surged; when
    false (the default) an emergency is priced at the neutral multiplier 1.0
    (kept within [floor, cap]).
    """

    curve: Curve
    floor: float = 1.0
    cap: float = 2.5
    emergency_surge: bool = False


@dataclass(frozen=True, slots=True)
class TimeOverride:
    """Changes the rule of some services during local hours [start_hour, end_hour).

    A window with ``end_hour < start_hour`` runs past midnight; its weekdays are
    those on which it starts. ``None`` for weekdays or services means all. The
    override's curve, floor and cap replace the service's when given; ``scale``
    multiplies the curve value. The first matching override in the list wins.
    """

    name: str
    start_hour: float
    end_hour: float
    weekdays: frozenset[int] | None = None
    services: frozenset[ServiceType] | None = None
    curve: Curve | None = None
    floor: float | None = None
    cap: float | None = None
    scale: float = 1.0

    def applies(self, hour: float, weekday: int, service: ServiceType) -> bool:
        """Whether it covers a local hour (0-24) and weekday (0 = Monday) for a service."""
        if self.services is not None and service not in self.services:
            return False
        if self.start_hour < self.end_hour:
            inside, day = self.start_hour <= hour < self.end_hour, weekday
        elif hour >= self.start_hour:
            inside, day = True, weekday
        else:  # after midnight: the window started the day before
            inside, day = hour < self.end_hour, (weekday - 1) % 7
        return inside and (self.weekdays is None or day in self.weekdays)


@dataclass(frozen=True, slots=True)
class Pricing:
    """Base price of one service type, before surge.

    ``base = max(min_total, base_fee + per_km × km + per_hour × hours)``, where km
    is the pickup→dropoff distance of a delivery (0 for technician jobs) and
    hours is the job's duration, at least ``min_hours`` (a visit is billed for a
    minimum time). Deliveries usually set ``per_hour = 0``, technician services
    ``per_km = 0``.
    """

    base_fee: float
    per_km: float = 0.0
    per_hour: float = 0.0
    min_hours: float = 0.0
    min_total: float = 0.0


@dataclass(frozen=True, slots=True)
class EffectiveRule:
    """The rule of one service at one moment, with its override applied."""

    curve: Curve
    floor: float
    cap: float
    scale: float
    override: str | None


@dataclass(frozen=True)
class RuleSet:
    """A complete, validated surge rule set (``version`` 0 = not yet activated).

    Field meanings are documented in ``default_rules.toml``.
    """

    version: int
    name: str
    services: Mapping[ServiceType, ServiceRule]
    default: ServiceRule
    overrides: tuple[TimeOverride, ...]
    max_change_per_min: float
    k_ring: int
    ewma_half_life_s: float
    demand_window_s: float
    soon_free_s: float
    allow_discounts: bool
    pricing: Mapping[ServiceType, Pricing]
    utc_offset_min: int = 0
    updated_at: float | None = None
    min_supply: float = 0.5
    max_ratio: float = 10.0
    late_weight: float = 0.0
    currency: str = "CNY"
    description: str = ""

    def rule(self, service: ServiceType) -> ServiceRule:
        """The service's own rule, or the default one."""
        return self.services.get(service, self.default)

    def local_time(self, now: float) -> tuple[float, int]:
        """Local hour in [0, 24) and weekday (0 = Monday) at epoch seconds ``now``."""
        day, sec = divmod(now + self.utc_offset_min * 60.0, 86400.0)
        return sec / 3600.0, (int(day) + 3) % 7  # 1970-01-01 was a Thursday

    def override_at(self, service: ServiceType, now: float) -> TimeOverride | None:
        hour, weekday = self.local_time(now)
        return next((o for o in self.overrides if o.applies(hour, weekday, service)), None)

    def effective(self, service: ServiceType, now: float) -> EffectiveRule:
        """The service's curve, floor, cap and scale at ``now`` (override applied)."""
        base = self.rule(service)
        o = self.override_at(service, now)
        if o is None:
            return EffectiveRule(base.curve, base.floor, base.cap, 1.0, None)
        return EffectiveRule(
            o.curve or base.curve,
            base.floor if o.floor is None else o.floor,
            base.cap if o.cap is None else o.cap,
            o.scale,
            o.name,
        )


def with_version(rules: RuleSet, version: int, now: float) -> RuleSet:
    """The same rules, activated as ``version`` at ``now``."""
    if isinstance(version, bool) or not isinstance(version, int) or version < 0:
        raise InvalidInput("version must be a non-negative integer")
    return dataclasses.replace(rules, version=version, updated_at=float(now))


# ---- parsing -----------------------------------------------------------------------

_TOP = frozenset(
    {
        "name",
        "description",
        "version",
        "updated_at",
        "currency",
        "allow_discounts",
        "max_change_per_min",
        "k_ring",
        "ewma_half_life_s",
        "demand_window_s",
        "soon_free_s",
        "min_supply",
        "max_ratio",
        "late_weight",
        "utc_offset_min",
        "default",
        "services",
        "overrides",
        "pricing",
    }
)
_RULE = frozenset({"curve", "floor", "cap", "emergency_surge"})
_OVERRIDE = frozenset(
    {"name", "start_hour", "end_hour", "weekdays", "services", "curve", "floor", "cap", "scale"}
)
_PRICE = frozenset({"base_fee", "per_km", "per_hour", "min_hours", "min_total"})
_SERVICES = frozenset(s.value for s in ServiceType)
_UNKNOWN_SERVICE = f"unknown service type (known: {', '.join(sorted(_SERVICES))})"


def parse_rules(data: Mapping[str, Any], *, version: int | None = None) -> RuleSet:
    """Validate rule data (as read from TOML/JSON) into a ``RuleSet``.

    Every problem is collected and raised together as ``InvalidRules`` (an
    ``InvalidInput``), each with its field path. ``version`` overrides the
    data's own ``version`` (default 0: not activated).
    """
    if not isinstance(data, Mapping):
        raise InvalidRules([{"loc": [], "msg": "rules must be a table"}])
    p = Problems()
    p.table((), data, _TOP)
    get = data.get
    discounts = p.boolean(("allow_discounts",), get("allow_discounts", False)) or False
    default = _service_rule(p, ("default",), get("default"), discounts, None, True)
    services: dict[ServiceType, ServiceRule] = {}
    raw_services = get("services", {})
    if p.table(("services",), raw_services, _SERVICES, _UNKNOWN_SERVICE) is not None:
        for key, raw in raw_services.items():
            if key in _SERVICES:
                rule = _service_rule(p, ("services", key), raw, discounts, default, False)
                if rule is not None:
                    services[ServiceType(key)] = rule
    overrides = _overrides(p, get("overrides", []), discounts, services, default)
    pricing = _pricing(p, get("pricing"))
    num = p.number
    fields: dict[str, Any] = {
        "max_change_per_min": num(("max_change_per_min",), get("max_change_per_min", 0.2), gt=0),
        "ewma_half_life_s": num(
            ("ewma_half_life_s",), get("ewma_half_life_s", 180.0), gt=0, le=86400
        ),
        "demand_window_s": num(("demand_window_s",), get("demand_window_s", 900.0), gt=0, le=86400),
        "soon_free_s": num(("soon_free_s",), get("soon_free_s", 300.0), ge=0, le=86400),
        "min_supply": num(("min_supply",), get("min_supply", 0.5), gt=0, le=1000),
        "max_ratio": num(("max_ratio",), get("max_ratio", 10.0), gt=0, le=1000),
        "late_weight": num(("late_weight",), get("late_weight", 0.0), ge=0, le=100),
        "k_ring": p.integer(("k_ring",), get("k_ring", 1), ge=0, le=4),
        "utc_offset_min": p.integer(("utc_offset_min",), get("utc_offset_min", 0), ge=-720, le=840),
        "name": p.string(("name",), get("name", "rules")),
        "description": _description(p, get("description", "")),
        "currency": _currency(p, get("currency", "CNY")),
        "version": p.integer(("version",), get("version", 0), ge=0, le=2**53)
        if version is None
        else version,
        "updated_at": None
        if get("updated_at") is None
        else num(("updated_at",), get("updated_at"), ge=0),
    }
    p.raise_if_any()
    assert default is not None and pricing is not None
    return RuleSet(
        services=services,
        default=default,
        overrides=tuple(overrides),
        allow_discounts=discounts,
        pricing=pricing,
        **fields,  # every value was checked above
    )


def _description(p: Problems, value: Any) -> str:
    if not isinstance(value, str) or len(value) > 2000:
        p.add(("description",), "must be a string of at most 2000 characters")
        return ""
    return value


def _currency(p: Problems, value: Any) -> str:
    if not isinstance(value, str) or len(value) != 3 or not value.isalpha() or not value.isupper():
        p.add(("currency",), "must be a three-letter ISO 4217 code such as CNY")
        return "CNY"
    return value


def _curve(p: Problems, loc: Loc, raw: Any) -> Curve | None:
    if not isinstance(raw, list | tuple) or not 1 <= len(raw) <= 64:
        p.add(loc, "must be a list of 1 to 64 [ratio, multiplier] points")
        return None
    before = len(p.items)
    pts: list[Point] = []
    for i, pt in enumerate(raw):
        at = (*loc, i)
        if not isinstance(pt, list | tuple) or len(pt) != 2:
            p.add(at, "must be a [ratio, multiplier] pair")
            continue
        x = p.number(at, pt[0], ge=0, le=1000, what="ratio")
        y = p.number(at, pt[1], gt=0, le=MAX_CAP, what="multiplier")
        if x is None or y is None:
            continue
        if pts and x <= pts[-1][0]:
            p.add(at, f"x must increase (ratio {x:g} follows {pts[-1][0]:g})")
        elif pts and y < pts[-1][1]:
            p.add(at, f"multiplier must not decrease ({y:g} follows {pts[-1][1]:g})")
        pts.append((x, y))
    return Curve(tuple(pts)) if len(p.items) == before else None


def _floor(p: Problems, loc: Loc, raw: Any, discounts: bool) -> float | None:
    floor = p.number(loc, raw, gt=0, le=MAX_CAP)
    if floor is not None and floor < 1.0 and not discounts:
        p.add(loc, "must be at least 1 (set allow_discounts = true for lower floors)")
        return None
    return floor


def _service_rule(
    p: Problems, loc: Loc, raw: Any, discounts: bool, base: ServiceRule | None, is_default: bool
) -> ServiceRule | None:
    """Parse a rule table. The default rule needs a curve and a cap; a service's
    rule inherits missing fields from ``base`` (None when the default was invalid:
    nothing is reported twice)."""
    if raw is None:
        p.add(loc, "is required")
        return None
    t = p.table(loc, raw, _RULE)
    if t is None:
        return None
    before = len(p.items)
    if is_default:
        for key in ("curve", "cap"):
            if key not in t:
                p.add((*loc, key), "is required")
    curve = _curve(p, (*loc, "curve"), t["curve"]) if "curve" in t else None
    floor = _floor(p, (*loc, "floor"), t["floor"], discounts) if "floor" in t else None
    cap = p.number((*loc, "cap"), t["cap"], gt=0, le=MAX_CAP) if "cap" in t else None
    emergency = p.boolean((*loc, "emergency_surge"), t.get("emergency_surge", False))
    if base is not None:
        curve = curve if "curve" in t else base.curve
        floor = floor if "floor" in t else base.floor
        cap = cap if "cap" in t else base.cap
        emergency = emergency if "emergency_surge" in t else base.emergency_surge
    elif is_default and "floor" not in t:
        floor = 1.0
    if floor is not None and cap is not None and cap < floor:
        p.add((*loc, "cap"), f"must be at least the floor ({cap:g} < {floor:g})")
    if len(p.items) > before or curve is None or floor is None or cap is None:
        return None
    return ServiceRule(curve, floor, cap, bool(emergency))


def _names(p: Problems, loc: Loc, raw: Any, allowed: tuple[str, ...]) -> list[str] | None:
    if not isinstance(raw, list) or not raw:
        p.add(loc, "must be a non-empty list (leave it out to mean all)")
        return None
    bad = [str(x) for x in raw if x not in allowed]
    if bad:
        p.add(loc, f"unknown {', '.join(bad)} (known: {', '.join(allowed)})")
        return None
    return [str(x) for x in raw]


def _overrides(
    p: Problems,
    raw: Any,
    discounts: bool,
    services: Mapping[ServiceType, ServiceRule],
    default: ServiceRule | None,
) -> list[TimeOverride]:
    if not isinstance(raw, list):
        p.add(("overrides",), "must be a list of tables")
        return []
    if len(raw) > MAX_OVERRIDES:  # refused before parsing: cost and error lists stay bounded
        p.add(("overrides",), f"at most {MAX_OVERRIDES} overrides, got {len(raw)}")
        return []
    out: list[TimeOverride] = []
    seen: set[str] = set()
    for i, item in enumerate(raw):
        loc: Loc = ("overrides", i)
        t = p.table(loc, item, _OVERRIDE)
        if t is None:
            continue
        before = len(p.items)
        name = p.string((*loc, "name"), t.get("name"))
        if name is not None and name in seen:
            p.add((*loc, "name"), f"{name!r} is used by an earlier override")
        seen.add(name or "")
        start = end = None
        for key in ("start_hour", "end_hour"):
            if key not in t:
                p.add((*loc, key), "is required")
        if "start_hour" in t:
            start = p.number((*loc, "start_hour"), t["start_hour"], ge=0, lt=24)
        if "end_hour" in t:
            end = p.number((*loc, "end_hour"), t["end_hour"], ge=0, lt=24)
        if start is not None and start == end:
            p.add((*loc, "end_hour"), "must differ from start_hour")
        days = None
        if "weekdays" in t:
            names = _names(p, (*loc, "weekdays"), t["weekdays"], WEEKDAYS)
            days = None if names is None else frozenset(WEEKDAYS.index(d) for d in names)
        svcs = None
        if "services" in t:
            names = _names(p, (*loc, "services"), t["services"], tuple(sorted(_SERVICES)))
            svcs = None if names is None else frozenset(ServiceType(s) for s in names)
        curve = _curve(p, (*loc, "curve"), t["curve"]) if "curve" in t else None
        floor = _floor(p, (*loc, "floor"), t["floor"], discounts) if "floor" in t else None
        cap = p.number((*loc, "cap"), t["cap"], gt=0, le=MAX_CAP) if "cap" in t else None
        scale = p.number((*loc, "scale"), t.get("scale", 1.0), gt=0, le=MAX_CAP)
        if default is not None and (floor is not None or cap is not None):
            clash = [
                s.value
                for s in sorted(svcs or ServiceType)
                if (cap if cap is not None else services.get(s, default).cap)
                < (floor if floor is not None else services.get(s, default).floor)
            ]
            if clash:
                where = "cap" if cap is not None else "floor"
                p.add((*loc, where), f"leaves the cap below the floor for {', '.join(clash)}")
        if len(p.items) == before and name and start is not None and end is not None and scale:
            out.append(TimeOverride(name, start, end, days, svcs, curve, floor, cap, scale))
    return out


def _pricing(p: Problems, raw: Any) -> dict[ServiceType, Pricing] | None:
    if raw is None:
        p.add(("pricing",), "is required (a table per service type)")
        return None
    t = p.table(("pricing",), raw, _SERVICES, _UNKNOWN_SERVICE)
    if t is None:
        return None
    before = len(p.items)
    missing = [s.value for s in ServiceType if s.value not in t]
    if missing:
        p.add(("pricing",), f"missing prices for {', '.join(missing)}")
    out: dict[ServiceType, Pricing] = {}
    for key, item in t.items():
        if key not in _SERVICES:
            continue
        loc: Loc = ("pricing", key)
        pt = p.table(loc, item, _PRICE)
        if pt is None:
            continue
        if "base_fee" not in pt:
            p.add((*loc, "base_fee"), "is required")
            continue
        values = [
            p.number((*loc, k), pt.get(k, 0.0), ge=0, le=hi)
            for k, hi in (
                ("base_fee", 1e6),
                ("per_km", 1e4),
                ("per_hour", 1e5),
                ("min_hours", 24),
                ("min_total", 1e6),
            )
        ]
        if all(v is not None for v in values):
            out[ServiceType(key)] = Pricing(*values)  # type: ignore[arg-type]
    return out if len(p.items) == before else None


# ---- data and files -----------------------------------------------------------------


def _rule_dict(r: ServiceRule) -> dict[str, Any]:
    return {
        "curve": [list(pt) for pt in r.curve.points],
        "floor": r.floor,
        "cap": r.cap,
        "emergency_surge": r.emergency_surge,
    }


def _override_dict(o: TimeOverride) -> dict[str, Any]:
    out: dict[str, Any] = {"name": o.name, "start_hour": o.start_hour, "end_hour": o.end_hour}
    if o.weekdays is not None:
        out["weekdays"] = [WEEKDAYS[d] for d in sorted(o.weekdays)]
    if o.services is not None:
        out["services"] = sorted(s.value for s in o.services)
    if o.curve is not None:
        out["curve"] = [list(pt) for pt in o.curve.points]
    if o.floor is not None:
        out["floor"] = o.floor
    if o.cap is not None:
        out["cap"] = o.cap
    out["scale"] = o.scale
    return out


def rules_to_dict(rules: RuleSet) -> dict[str, Any]:
    """The rule set as plain JSON/TOML data; ``parse_rules`` reads it back unchanged."""
    out: dict[str, Any] = {
        "name": rules.name,
        "description": rules.description,
        "version": rules.version,
        "currency": rules.currency,
        "allow_discounts": rules.allow_discounts,
        "utc_offset_min": rules.utc_offset_min,
        "max_change_per_min": rules.max_change_per_min,
        "k_ring": rules.k_ring,
        "ewma_half_life_s": rules.ewma_half_life_s,
        "demand_window_s": rules.demand_window_s,
        "soon_free_s": rules.soon_free_s,
        "min_supply": rules.min_supply,
        "max_ratio": rules.max_ratio,
        "late_weight": rules.late_weight,
        "default": _rule_dict(rules.default),
        "services": {s.value: _rule_dict(r) for s, r in rules.services.items()},
        "overrides": [_override_dict(o) for o in rules.overrides],
        "pricing": {s.value: dataclasses.asdict(pr) for s, pr in rules.pricing.items()},
    }
    if rules.updated_at is not None:
        out["updated_at"] = rules.updated_at
    return out


def load_rules(path: str | Path) -> RuleSet:
    """Read and validate a rule set from a ``.toml`` or ``.json`` file.

    The JSON may be what ``GET /v1/surge/rules`` returns (the rules under ``rules``).
    """
    p = Path(path)
    if p.suffix not in (".toml", ".json"):
        raise InvalidInput(f"rules file {p} must end in .toml or .json")
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise InvalidInput(f"cannot read rules file {p}: {exc}") from exc
    return _parse_text(text, p.suffix, str(p))


def _parse_text(text: str, suffix: str, source: str) -> RuleSet:
    try:
        data = tomllib.loads(text) if suffix == ".toml" else json.loads(text)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as exc:
        raise InvalidInput(f"{source} is not valid {suffix[1:].upper()}: {exc}") from exc
    if not isinstance(data, Mapping):
        raise InvalidRules([{"loc": [], "msg": f"{source} must hold a table at the top"}])
    return parse_rules(unwrap_rules(data))


def default_rules() -> RuleSet:
    """The shipped rule set (``default_rules.toml`` in this package), version 0."""
    text = resources.files("dispatch.surge").joinpath("default_rules.toml").read_text("utf-8")
    return _parse_text(text, ".toml", "default_rules.toml")
