"""Quotes: surge from a narrow view of the community, priced by ``dispatch.surge``.

``dispatch.surge`` is pure (rules, field, prices). The ``Pricer`` holds the
active rule set and, per community, the surge field recomputed at most every
``refresh_s`` seconds from a ``MarketView`` (open work, workers, plan) that a
``MarketSource`` provides; the smoothing state lives in a ``SurgeStates``
store. It never sees the engine. ETAs come from the injected travel model.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import geo
from dispatch.eta import quote_eta_s
from dispatch.model import DELIVERY_SERVICES, Community, LatLng, ServiceType, WorkerKind
from dispatch.requests import Quote
from dispatch.supply import MarketSource, MarketView, TripRule, count_demand_supply
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

__all__ = [
    "InvalidRules",
    "Pricer",
    "QuoteContext",
    "RuleSet",
    "SurgeSnapshot",
    "SurgeStates",
    "load_rules",
    "parse_rules",
    "rules_to_dict",
]


class SurgeStates(Protocol):
    """Where each community's smoothing state is kept between refreshes."""

    def get_surge_state(self, community_id: str) -> dict[str, Any] | None: ...
    def put_surge_state(self, community_id: str, data: Mapping[str, Any]) -> None: ...


@dataclass(frozen=True)
class QuoteContext:
    """A validated request to price: where it starts (and ends), what it is, when."""

    community: Community
    service_type: ServiceType
    cell: int
    origin: LatLng
    destination: LatLng | None
    distance_m: float
    duration_s: float
    emergency: bool
    now: float


class Pricer:
    """The active rule set and the per-community surge fields.

    market: reads a community's view; states: keeps smoothing state;
    matrices: travel times for ETAs; staleness_s: older fixes are no supply;
    orders_per_trip: the dispatcher's bundling rule (room it never uses is no supply).
    """

    def __init__(
        self,
        market: MarketSource,
        states: SurgeStates,
        matrices: geo.MatrixProvider,
        *,
        staleness_s: float,
        orders_per_trip: TripRule,
        rules: RuleSet | None = None,
        refresh_s: float = 5.0,
    ) -> None:
        self.market = market
        self.states = states
        self.matrices = matrices
        self.staleness_s = staleness_s
        self.orders_per_trip = orders_per_trip
        self.rules = rules or default_rules()
        self.refresh_s = refresh_s
        self._snapshots: dict[str, SurgeSnapshot] = {}

    def set_rules(self, rules: RuleSet) -> None:
        self.rules = rules
        self._snapshots.clear()

    def demand_supply(self, view: MarketView) -> tuple[dict[int, float], dict[int, float]]:
        """Demand and supply per cell of a view (before k-ring smoothing)."""
        return count_demand_supply(
            view,
            demand_window_s=self.rules.demand_window_s,
            soon_free_s=self.rules.soon_free_s,
            staleness_s=self.staleness_s,
            orders_per_trip=self.orders_per_trip,
        )

    def snapshot(
        self,
        community: Community,
        now: float,
        *,
        fresh: bool = False,
        view: MarketView | None = None,
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
        demand, supply = self.demand_supply(view or self.market.view(community, now))
        stored = self.states.get_surge_state(community.id)
        try:
            state = SurgeState.from_dict(stored) if stored else None
        except ValueError:  # an unreadable old record: start smoothing afresh
            state = None
        snap, new_state = update_surge(
            self.rules, state, demand, supply, now, geo.disk, community.id
        )
        self.states.put_surge_state(community.id, new_state.to_dict())
        self._snapshots[community.id] = snap
        return snap

    def quote(self, ctx: QuoteContext) -> Quote:
        """Price and ETA of a validated request."""
        snap = self.snapshot(ctx.community, ctx.now)
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
        kind = (
            WorkerKind.COURIER if ctx.service_type in DELIVERY_SERVICES else WorkerKind.TECHNICIAN
        )
        eta = quote_eta_s(
            [w for w in self.market.workers(ctx.community) if w.kind == kind],
            ctx.origin,
            ctx.destination,
            ctx.now,
            staleness_s=self.staleness_s,
            matrices=self.matrices,
            fallback_s=ctx.community.delivery_sla_s,
        )
        return Quote(eta, pb.base, pb.multiplier, pb.total, pb.rule_version, dict(pb.explanation))
