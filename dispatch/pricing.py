"""Quotes for the engine: surge from the community's state, priced by ``dispatch.surge``.

``dispatch.surge`` is pure (rules, field, prices). This module is the engine's
side of it: it counts demand (open work by cell, plus everything placed within
the rule set's demand window) and supply (fresh workers with room left in their
trip under the dispatcher's bundling rule, or soon free) per H3 cell, keeps the
smoothing state in the store, caches the field for a few seconds, and adds an
ETA to the price.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import geo
from dispatch.model import (
    DELIVERY_SERVICES,
    Community,
    OrderState,
    ServiceType,
    WorkerKind,
    WorkerStatus,
)
from dispatch.requests import Quote
from dispatch.surge import (
    InvalidRules,
    RuleSet,
    SurgeSnapshot,
    SurgeState,
    default_rules,
    load_rules,
    parse_rules,
    price_quote,
    rules_to_dict,
    update_surge,
)

if TYPE_CHECKING:
    from dispatch.engine import Engine

__all__ = [
    "InvalidRules",
    "Pricer",
    "QuoteContext",
    "RuleSet",
    "SurgeSnapshot",
    "load_rules",
    "parse_rules",
    "rules_to_dict",
]


@dataclass(frozen=True)
class QuoteContext:
    community: Community
    service_type: ServiceType
    cell: int
    distance_m: float
    duration_s: float
    emergency: bool
    now: float


class Pricer:
    """Holds the active rule set and the per-community surge fields."""

    def __init__(self, rules: RuleSet | None = None, refresh_s: float = 5.0) -> None:
        self.rules = rules or default_rules()
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
            and cached.rule_version == self.rules.version
        ):
            return cached
        demand, supply = self.demand_supply(engine, community, now)
        stored = engine.store.get_surge_state(community.id)
        try:
            state = SurgeState.from_dict(stored) if stored else None
        except ValueError:  # an unreadable old record: start smoothing afresh
            state = None
        snap, new_state = update_surge(
            self.rules, state, demand, supply, now, geo.disk, community.id
        )
        engine.store.put_surge_state(community.id, new_state.to_dict())
        self._snapshots[community.id] = snap
        return snap

    def demand_supply(
        self, engine: Engine, community: Community, now: float
    ) -> tuple[dict[int, float], dict[int, float]]:
        """Demand and supply per cell from the store (before k-ring smoothing)."""
        res = community.h3_resolution
        recent = now - self.rules.demand_window_s
        demand: dict[int, float] = {}
        for o in engine.store.list_open_orders(community.id):
            if o.state in (OrderState.PENDING, OrderState.ASSIGNED) or o.created_at >= recent:
                c = geo.cell_of(o.pickup.lat, o.pickup.lng, res)
                demand[c] = demand.get(c, 0.0) + 1.0
        for j in engine.store.list_open_jobs(community.id):
            c = geo.cell_of(j.location.lat, j.location.lng, res)
            demand[c] = demand.get(c, 0.0) + 1.0
        plan = engine.store.get_plan(community.id)
        supply: dict[int, float] = {}
        soon = now + self.rules.soon_free_s
        for w in engine.store.list_workers(community.id):
            if w.cell is None or w.position_ts is None:
                continue
            if now - w.position_ts > engine.settings.location_staleness_s:
                continue
            if w.status not in (WorkerStatus.AVAILABLE, WorkerStatus.BUSY):
                continue
            stops = plan.routes.get(w.id, ()) if plan else ()
            if w.kind == WorkerKind.TECHNICIAN:
                free = 1.0 if not stops or stops[-1].departs <= soon else 0.0
            else:  # a trip's room: each order is two stops until picked up
                room = 2.0 * engine.orders_per_trip(community, w)
                free = max(0.0, 1.0 - len(stops) / room)
                if stops and stops[-1].departs <= soon:
                    free = 1.0
            supply[w.cell] = supply.get(w.cell, 0.0) + free
        return demand, supply

    def quote(self, engine: Engine, ctx: QuoteContext) -> Quote:
        snap = self.snapshot(engine, ctx.community, ctx.now)
        pb = price_quote(
            self.rules,
            snap,
            ctx.service_type,
            ctx.cell,
            ctx.distance_m,
            ctx.now,
            ctx.duration_s or None,
            emergency=ctx.emergency,
        )
        return Quote(
            self._eta(engine, ctx),
            pb.base,
            pb.multiplier,
            pb.total,
            pb.rule_version,
            dict(pb.explanation),
        )

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
