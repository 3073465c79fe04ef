"""The surge field of a community: per H3 cell demand, supply, ratio and multipliers.

``update_surge`` is pure: the caller passes demand and supply per cell, the
time and the previous ``SurgeState``, and gets a ``SurgeSnapshot`` plus the
state to keep for the next update. Steps (per cell, per service type):

1. demand and supply are summed over the cell's k-ring, every cell of the disk
   with weight 1 (spread from each non-empty cell to its disk; ``neighbours``
   must be symmetric, as H3 disks are);
2. ratio = demand / max(supply, ``min_supply``), at most ``max_ratio``, 0 without demand;
3. EWMA over time: ``s += (1 - 0.5 ** (dt / half_life)) * (ratio - s)``; a cell
   the state does not hold had ratio 0;
4. target = curve(s) × scale within [floor, cap] (time-of-day override applied);
5. the multiplier moves from its previous value towards the target by at most
   ``max_change_per_min`` × elapsed minutes, then floor and cap are applied
   again (after a rule change they hold at once).

A fresh state (no previous update) has no history: the smoothed ratio is the
raw ratio and multipliers start at their targets. Cells whose surroundings are
empty sit at the "neutral" multiplier (curve at ratio 0), tracked and
rate-limited like any cell so that a uniform field stays uniform.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import geo
from dispatch.errors import InvalidInput
from dispatch.model import ServiceType
from dispatch.surge.rules import EffectiveRule, Point, RuleSet

Neighbours = Callable[[int, int], Sequence[int]]

#: A cell leaves the state once its smoothed ratio is below this, it has no demand
#: and its multipliers are neutral.
_FORGET_RATIO = 1e-3
_SAME = 1e-9


@dataclass(frozen=True, slots=True)
class ServiceSurge:
    """How one service's multiplier in one cell came about (for explanations)."""

    multiplier: float
    target: float  # curve value within [floor, cap], before the rate limit
    curve_value: float  # curve(smoothed ratio) × scale
    segment: tuple[Point, Point]  # curve points around the smoothed ratio
    override: str | None
    scale: float
    floor: float
    cap: float
    clamped: str | None  # "floor" or "cap" when the curve value lay outside them
    rate_limited: bool  # the multiplier has not reached its target yet


@dataclass(frozen=True, slots=True)
class CellSurge:
    cell: int
    demand: float  # summed over the k-ring
    supply: float
    ratio: float
    smoothed_ratio: float
    multiplier: Mapping[ServiceType, float]
    detail: Mapping[ServiceType, ServiceSurge] = field(default_factory=dict)


@dataclass(frozen=True)
class SurgeSnapshot:
    """The surge field of one community at ``ts`` under rules ``rule_version``."""

    community_id: str
    ts: float
    rule_version: int
    cells: Mapping[int, CellSurge]
    neutral: Mapping[ServiceType, ServiceSurge] = field(default_factory=dict)

    def multiplier(self, cell: int, service: ServiceType) -> float:
        """The multiplier of a service in a cell (cells not in the map: the neutral one)."""
        d = self.detail(cell, service)
        return 1.0 if d is None else d.multiplier

    def detail(self, cell: int, service: ServiceType) -> ServiceSurge | None:
        c = self.cells.get(cell)
        if c is not None and service in c.detail:
            return c.detail[service]
        return self.neutral.get(service)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form (cells as hex strings, as the API shows them)."""
        return {
            "community_id": self.community_id,
            "ts": self.ts,
            "rule_version": self.rule_version,
            "neutral": {s.value: d.multiplier for s, d in self.neutral.items()},
            "cells": [
                {
                    "cell": format(c.cell, "x"),
                    "demand": c.demand,
                    "supply": c.supply,
                    "ratio": c.ratio,
                    "smoothed_ratio": c.smoothed_ratio,
                    "multiplier": {s.value: m for s, m in c.multiplier.items()},
                }
                for c in self.cells.values()
            ],
        }


@dataclass(frozen=True, slots=True)
class CellState:
    smoothed_ratio: float
    multiplier: Mapping[ServiceType, float]


@dataclass(frozen=True)
class SurgeState:
    """What one update leaves for the next: time, smoothed ratios, multipliers.

    Only cells that are not neutral are kept; ``neutral`` holds the multiplier
    of every other cell. ``ts`` None means no update has happened yet.
    """

    ts: float | None = None
    rule_version: int = 0
    cells: Mapping[int, CellState] = field(default_factory=dict)
    neutral: Mapping[ServiceType, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "ts": self.ts,
            "rule_version": self.rule_version,
            "neutral": {s.value: m for s, m in self.neutral.items()},
            "cells": {
                format(c, "x"): {
                    "smoothed_ratio": st.smoothed_ratio,
                    "multiplier": {s.value: m for s, m in st.multiplier.items()},
                }
                for c, st in self.cells.items()
            },
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SurgeState:
        """Inverse of ``to_dict``; multipliers of unknown service types are dropped."""
        try:
            ts = data.get("ts")
            cells = {
                int(key, 16): CellState(
                    _finite(v["smoothed_ratio"]), _services(v.get("multiplier", {}))
                )
                for key, v in data.get("cells", {}).items()
            }
            return cls(
                ts=None if ts is None else _finite(ts),
                rule_version=int(data.get("rule_version", 0)),
                cells=cells,
                neutral=_services(data.get("neutral", {})),
            )
        except (AttributeError, KeyError, TypeError, ValueError) as exc:
            raise InvalidInput(f"malformed surge state: {exc!r}") from exc


def _finite(x: Any) -> float:
    v = float(x)
    if not math.isfinite(v):
        raise ValueError(f"{x!r} is not finite")
    return v


def _services(raw: Mapping[str, Any]) -> dict[ServiceType, float]:
    known = {s.value for s in ServiceType}
    return {ServiceType(k): _finite(v) for k, v in raw.items() if k in known}


def _spread(
    values: Mapping[int, float], k: int, neighbours: Neighbours, what: str
) -> dict[int, float]:
    """Each cell's value summed over its k-ring (by spreading each value to its disk)."""
    out: dict[int, float] = {}
    for cell, v in values.items():
        if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v) or v < 0:
            raise InvalidInput(f"{what} of cell {cell:x} must be a finite number >= 0, not {v!r}")
        if v == 0:
            continue
        for n in (cell,) if k == 0 else neighbours(cell, k):
            out[n] = out.get(n, 0.0) + float(v)
    return out


def _surge(eff: EffectiveRule, ratio: float, prev: float | None, step: float) -> ServiceSurge:
    value, a, b = eff.curve.locate(ratio)
    raw = value * eff.scale
    target = min(max(raw, eff.floor), eff.cap)
    m = target if prev is None else min(max(target, prev - step), prev + step)
    m = min(max(m, eff.floor), eff.cap)
    clamped = "cap" if raw > eff.cap else "floor" if raw < eff.floor else None
    return ServiceSurge(
        m,
        target,
        raw,
        (a, b),
        eff.override,
        eff.scale,
        eff.floor,
        eff.cap,
        clamped,
        abs(m - target) > _SAME,
    )


def update_surge(
    rules: RuleSet,
    state: SurgeState | None,
    demand_by_cell: Mapping[int, float],
    supply_by_cell: Mapping[int, float],
    now: float,
    neighbours: Neighbours | None = None,
    community_id: str = "",
) -> tuple[SurgeSnapshot, SurgeState]:
    """The field at ``now`` and the state to keep (pure: no clock, no store).

    ``neighbours(cell, k)`` lists the cells within k steps (default ``geo.disk``).
    A ``now`` earlier than the state's time is treated as no time passing.
    """
    if not math.isfinite(now):
        raise InvalidInput("now must be a finite number of seconds")
    nb = neighbours or geo.disk
    demand = _spread(demand_by_cell, rules.k_ring, nb, "demand")
    supply = _spread(supply_by_cell, rules.k_ring, nb, "supply")
    prev = state or SurgeState()
    fresh = prev.ts is None
    dt = 0.0 if prev.ts is None else max(0.0, now - prev.ts)
    alpha = 1.0 if fresh else -math.expm1(-math.log(2.0) * dt / rules.ewma_half_life_s)
    step = math.inf if fresh else rules.max_change_per_min * dt / 60.0
    eff = {s: rules.effective(s, now) for s in ServiceType}
    neutral = {s: _surge(e, 0.0, prev.neutral.get(s), step) for s, e in eff.items()}
    neutral_m = {s: d.multiplier for s, d in neutral.items()}

    cells: dict[int, CellSurge] = {}
    kept: dict[int, CellState] = {}
    memo: dict[tuple[ServiceType, float, float | None], ServiceSurge] = {}
    for cell in sorted(set(demand) | set(supply) | set(prev.cells)):
        d, s = demand.get(cell, 0.0), supply.get(cell, 0.0)
        ratio = 0.0 if d == 0 else min(d / max(s, rules.min_supply), rules.max_ratio)
        old = prev.cells.get(cell)
        before = 0.0 if old is None else old.smoothed_ratio
        smooth = ratio if fresh else before + alpha * (ratio - before)
        detail: dict[ServiceType, ServiceSurge] = {}
        for svc, e in eff.items():
            p = old.multiplier.get(svc) if old is not None else None
            if p is None:
                p = prev.neutral.get(svc)
            key = (svc, smooth, p)
            got = memo.get(key)
            if got is None:
                got = memo[key] = _surge(e, smooth, p, step)
            detail[svc] = got
        mult = {svc: x.multiplier for svc, x in detail.items()}
        if (
            d > 0
            or smooth >= _FORGET_RATIO
            or any(abs(m - neutral_m[svc]) > _SAME for svc, m in mult.items())
        ):
            kept[cell] = CellState(smooth, mult)
        elif s == 0:
            continue  # nothing here: the neutral value answers for this cell
        cells[cell] = CellSurge(cell, d, s, ratio, smooth, mult, detail)

    ts = now if prev.ts is None else max(now, prev.ts)
    snapshot = SurgeSnapshot(community_id, now, rules.version, cells, neutral)
    return snapshot, SurgeState(ts, rules.version, kept, neutral_m)


def preview(
    rules: RuleSet,
    demand_by_cell: Mapping[int, float],
    supply_by_cell: Mapping[int, float],
    now: float,
    neighbours: Neighbours | None = None,
    community_id: str = "",
) -> SurgeSnapshot:
    """The field these rules give for one demand/supply picture, without history
    (no smoothing, no rate limit): what an analyst checks before activating rules."""
    snap, _ = update_surge(
        rules, None, demand_by_cell, supply_by_cell, now, neighbours, community_id
    )
    return snap


def backtest(
    rules: RuleSet,
    frames: Iterable[tuple[float, Mapping[int, float], Mapping[int, float]]],
    neighbours: Neighbours | None = None,
    community_id: str = "",
    state: SurgeState | None = None,
) -> list[SurgeSnapshot]:
    """Replay ``(now, demand_by_cell, supply_by_cell)`` frames in order through
    ``update_surge`` (a recorded or simulated day) and return every snapshot."""
    out: list[SurgeSnapshot] = []
    for now, demand, supply in frames:
        snap, state = update_surge(rules, state, demand, supply, now, neighbours, community_id)
        out.append(snap)
    return out
