"""Quotes: surge from a narrow view of the community, priced by ``dispatch.surge``.

``dispatch.surge`` is pure (rules, field, prices). The ``Pricer`` holds the
active rule set and, per community, a market state recomputed at most every
``refresh_s`` seconds from a ``MarketView`` (open work, workers, plan) that a
``MarketSource`` provides: the surge field and a ``SupplyIndex`` of fresh
workers by cell. The smoothing state lives in a ``SurgeStates`` store. It never
sees the engine. ETAs come from the injected travel model.

A quote reads the cached state only, so its cost does not grow with the
community: one surge lookup and a nearest-worker lookup over a few cells. With
``background=True`` (servers) a stale state is served while one thread per
community recomputes it, so no request pays for the pass over every record;
without it (the simulator, tests: deterministic) the request that finds the
state stale recomputes it first.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import geo
from dispatch.eta import CANDIDATES, quote_eta_s
from dispatch.model import DELIVERY_SERVICES, Community, LatLng, ServiceType, WorkerKind
from dispatch.requests import Quote
from dispatch.supply import (
    MarketSource,
    MarketView,
    SupplyIndex,
    TripRule,
    count_demand_supply,
)
from dispatch.surge import (
    InvalidRules,
    PriceBreakdown,
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

log = logging.getLogger(__name__)


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


@dataclass(frozen=True)
class MarketState:
    """What quotes read of a community: its surge field and where its fresh workers are."""

    snapshot: SurgeSnapshot
    index: SupplyIndex
    ts: float


class Pricer:
    """The active rule set and the per-community market states.

    market: reads a community's view; states: keeps smoothing state;
    matrices: travel times for ETAs; staleness_s: older fixes are no supply;
    orders_per_trip: the dispatcher's bundling rule (room it never uses is no supply);
    refresh_s: the longest a market state is served before it is recomputed;
    background: recompute stale states in a thread instead of in the request.
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
        background: bool = False,
    ) -> None:
        self.market = market
        self.states = states
        self.matrices = matrices
        self.staleness_s = staleness_s
        self.orders_per_trip = orders_per_trip
        self.rules = rules or default_rules()
        self.refresh_s = refresh_s
        self.background = background
        self._cache: dict[str, MarketState] = {}
        self._own: dict[str, RuleSet] = {}  # communities' own rule sets (override the global)
        self._lock = threading.Lock()
        self._refreshing: set[str] = set()

    def set_rules(self, rules: RuleSet) -> None:
        with self._lock:
            self.rules = rules
            self._cache.clear()

    def own_rules(self, community_id: str) -> RuleSet | None:
        """The community's own rule set, if it has one."""
        return self._own.get(community_id)

    def set_own_rules(self, community_id: str, rules: RuleSet | None) -> None:
        """Give a community its own rule set (None: back to the global one)."""
        with self._lock:
            if rules is None:
                self._own.pop(community_id, None)
            else:
                self._own[community_id] = rules
            self._cache.pop(community_id, None)

    def rules_for(self, community_id: str) -> RuleSet:
        """The rule set that prices a community: its own, else the global one."""
        return self._own.get(community_id) or self.rules

    def demand_supply(self, view: MarketView) -> tuple[dict[int, float], dict[int, float]]:
        """Demand and supply per cell of a view (before k-ring smoothing)."""
        rules = self.rules_for(view.community.id)
        return count_demand_supply(
            view,
            demand_window_s=rules.demand_window_s,
            soon_free_s=rules.soon_free_s,
            staleness_s=self.staleness_s,
            orders_per_trip=self.orders_per_trip,
            late_weight=rules.late_weight,
        )

    def state(self, community: Community, now: float, *, fresh: bool = False) -> MarketState:
        """The community's market state, recomputed when older than ``refresh_s``."""
        cached = self._cache.get(community.id)
        version = self.rules_for(community.id).version
        usable = cached is not None and cached.snapshot.rule_version == version
        if not fresh and usable and cached is not None:
            if now - cached.ts < self.refresh_s:
                return cached
            if self.background:
                self._refresh_later(community, now)
                return cached
        return self._compute(community, now)

    def cached(self, community_id: str) -> MarketState | None:
        """The state quotes would read now, without refreshing it."""
        return self._cache.get(community_id)

    def snapshot(self, community: Community, now: float, *, fresh: bool = False) -> SurgeSnapshot:
        """The community's surge field (see ``state``)."""
        return self.state(community, now, fresh=fresh).snapshot

    def _compute(self, community: Community, now: float) -> MarketState:
        view = self.market.view(community, now)
        demand, supply = self.demand_supply(view)
        stored = self.states.get_surge_state(community.id)
        try:
            prev = SurgeState.from_dict(stored) if stored else None
        except ValueError:  # an unreadable old record: start smoothing afresh
            prev = None
        snap, new_state = update_surge(
            self.rules_for(community.id), prev, demand, supply, now, geo.disk, community.id
        )
        self.states.put_surge_state(community.id, new_state.to_dict())
        state = MarketState(snap, SupplyIndex(view.workers, now, self.staleness_s), now)
        with self._lock:
            old = self._cache.get(community.id)
            if old is None or old.ts <= now:
                self._cache[community.id] = state
        return state

    def _refresh_later(self, community: Community, now: float) -> None:
        """Recompute in a thread of its own, one at a time per community."""
        with self._lock:
            if community.id in self._refreshing:
                return
            self._refreshing.add(community.id)

        def run() -> None:
            try:
                self._compute(community, now)
            except Exception:  # the stale state keeps serving; the next quote tries again
                log.exception("surge refresh of %s failed", community.id)
            finally:
                with self._lock:
                    self._refreshing.discard(community.id)

        threading.Thread(target=run, name=f"surge-{community.id}", daemon=True).start()

    def price(self, ctx: QuoteContext) -> PriceBreakdown:
        """The price of a validated request (no ETA: what accepting an order needs)."""
        return self._price(ctx, self.state(ctx.community, ctx.now))

    def _price(self, ctx: QuoteContext, state: MarketState) -> PriceBreakdown:
        return price_quote(
            self.rules_for(ctx.community.id),
            state.snapshot,
            ctx.service_type,
            ctx.cell,
            ctx.distance_m,
            ctx.now,
            ctx.duration_s or None,
            emergency=ctx.emergency,
        )

    def quote(self, ctx: QuoteContext) -> Quote:
        """Price and ETA of a validated request from the cached market state."""
        state = self.state(ctx.community, ctx.now)
        pb = self._price(ctx, state)
        kind = (
            WorkerKind.COURIER if ctx.service_type in DELIVERY_SERVICES else WorkerKind.TECHNICIAN
        )
        eta = quote_eta_s(
            state.index.nearest(kind, ctx.cell, CANDIDATES),
            ctx.origin,
            ctx.destination,
            matrices=self.matrices,
            fallback_s=ctx.community.delivery_sla_s,
        )
        return Quote(
            eta,
            pb.base,
            pb.multiplier,
            pb.total,
            pb.rule_version,
            dict(pb.explanation),
            currency=pb.currency,
        )
