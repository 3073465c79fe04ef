"""Prometheus metrics with a registry per app (many apps can live in one process).

Names carry the ``dispatch_`` prefix and base units (seconds). Labels are
bounded: route templates, methods, status classes, states, outcomes. The one
id-like label is ``community`` on the surge gauge: communities are created by
operators (tens, not millions), and past ``MAX_COMMUNITY_LABELS`` the rest are
folded into ``other``. Worker, order and job ids never become labels.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping, Sequence

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from dispatch.engine import Engine
from dispatch.errors import DispatchError
from dispatch.model import Order
from dispatch.ops import ALERT_KINDS, Alert
from dispatch.requests import TickResult

log = logging.getLogger(__name__)

MAX_COMMUNITY_LABELS = 100
_OPEN_ORDER_STATES = ("pending", "assigned", "picked_up")
_OPEN_JOB_STATES = ("pending", "assigned", "en_route", "in_service")


class _OpenWork(Collector):
    """Open orders and jobs by state, read from the engine at scrape time."""

    def __init__(self, engine: Callable[[], Engine | None]) -> None:
        self._engine = engine

    def collect(self) -> Iterator[GaugeMetricFamily]:
        orders = GaugeMetricFamily("dispatch_orders", "Open orders by state", labels=["state"])
        jobs = GaugeMetricFamily("dispatch_jobs", "Open technician jobs by state", labels=["state"])
        risk = GaugeMetricFamily(
            "dispatch_at_risk",
            "Open orders and jobs flagged at risk of missing their promise",
            labels=["kind"],
        )
        engine = self._engine()
        order_counts = dict.fromkeys(_OPEN_ORDER_STATES, 0)
        job_counts = dict.fromkeys(_OPEN_JOB_STATES, 0)
        at_risk = {"order": 0, "job": 0}
        if engine is not None:
            try:
                for community in engine.list_communities():
                    for o in engine.open_orders(community.id):
                        order_counts[o.state.value] = order_counts.get(o.state.value, 0) + 1
                        at_risk["order"] += int(o.at_risk)
                    for j in engine.open_jobs(community.id):
                        job_counts[j.state.value] = job_counts.get(j.state.value, 0) + 1
                        at_risk["job"] += int(j.at_risk)
            except DispatchError as exc:  # a scrape must not fail because the store is down
                log.warning("metrics could not read open work: %s", exc)
        for state, n in order_counts.items():
            orders.add_metric([state], n)
        for state, n in job_counts.items():
            jobs.add_metric([state], n)
        for kind, n in at_risk.items():
            risk.add_metric([kind], n)
        yield orders
        yield jobs
        yield risk


class _DispatcherAge(Collector):
    """Seconds since a dispatcher last completed a step, read at scrape time."""

    def __init__(self, age: Callable[[], float | None]) -> None:
        self._age = age

    def collect(self) -> Iterator[GaugeMetricFamily]:
        gauge = GaugeMetricFamily(
            "dispatch_dispatcher_age_seconds",
            "Seconds since a dispatcher (tick worker) last completed a step",
        )
        try:
            age = self._age()
        except DispatchError as exc:  # a scrape must not fail because the store is down
            log.warning("metrics could not read the dispatcher's health: %s", exc)
            age = None
        if age is not None:
            gauge.add_metric([], age)
        yield gauge


class Metrics:
    """The metrics of one app and the few calls the routes and the ticker make."""

    def __init__(
        self,
        engine: Callable[[], Engine | None] = lambda: None,
        dispatcher_age: Callable[[], float | None] = lambda: None,
    ) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.request_seconds = Histogram(
            "dispatch_http_request_duration_seconds",
            "HTTP request latency by route template",
            ["method", "route", "status_class"],
            registry=r,
        )
        self.tick_seconds = Histogram(
            "dispatch_tick_duration_seconds",
            "Duration of dispatch ticks (building, solving and committing)",
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 3, 5, 10),
            registry=r,
        )
        self.tick_start_delay = Histogram(
            "dispatch_tick_start_delay_seconds",
            "How long after its community fell due a tick started",
            buckets=(0.1, 0.5, 1, 2, 5, 10, 20, 30, 60, 120),
            registry=r,
        )
        self.ticks = Counter(
            "dispatch_ticks_total", "Dispatch ticks by outcome", ["outcome"], registry=r
        )
        self.fallbacks = Counter(
            "dispatch_solver_fallbacks_total",
            "Ticks that fell back to the regret-insertion plan",
            registry=r,
        )
        self.worker_step_failures = Counter(
            "dispatch_worker_step_failures_total",
            "Tick-worker steps that failed on the store (retried with backoff)",
            registry=r,
        )
        self.tick_retries = Counter(
            "dispatch_tick_retries_total",
            "Tick commits retried after losing a version race to a concurrent write",
            registry=r,
        )
        self.deliveries = Counter(
            "dispatch_deliveries_total",
            "Orders delivered, by member tier and whether they met their promise",
            ["tier", "on_time"],
            registry=r,
        )
        self.click_to_door = Histogram(
            "dispatch_click_to_door_seconds",
            "From order to door, by member tier",
            ["tier"],
            buckets=(600, 900, 1200, 1500, 1800, 2100, 2400, 2700, 3000, 3600, 5400),
            registry=r,
        )
        self.engine_calls = Counter(
            "dispatch_engine_calls_total",
            "Hot engine calls by how they ran: loop (awaited on the event loop, Redis) or "
            "thread (a cache to fill, a held quote, a retry, a store that cannot await)",
            ["path"],
            registry=r,
        )
        self.locations = Counter(
            "dispatch_location_updates_total",
            "Location updates by outcome",
            ["outcome"],
            registry=r,
        )
        self.quote_multiplier = Histogram(
            "dispatch_quote_surge_multiplier",
            "Surge multipliers of quotes and accepted orders (a ratio)",
            buckets=(1.0, 1.1, 1.25, 1.5, 1.75, 2.0, 2.5, 3.0, 5.0),
            registry=r,
        )
        self.surge = Gauge(
            "dispatch_surge_multiplier",
            "Latest surge multiplier priced in a community (a ratio)",
            ["community"],
            registry=r,
        )
        self.alerts_active = Gauge(
            "dispatch_alerts_active",
            "Communities with an ops alert raised, by kind (see dispatch.ops.alerts)",
            ["kind"],
            registry=r,
        )
        self.alerts_raised = Counter(
            "dispatch_alerts_raised_total", "Ops alerts raised, by kind", ["kind"], registry=r
        )
        for kind in ALERT_KINDS:
            self.alerts_active.labels(kind).set(0)
        r.register(_OpenWork(engine))
        r.register(_DispatcherAge(dispatcher_age))
        self._communities: set[str] = set()

    def observe_tick(self, result: TickResult) -> None:
        if result.skipped:
            self.ticks.labels("skipped").inc()
            return
        self.ticks.labels("done").inc()
        self.tick_seconds.observe(result.solve_ms / 1000.0)
        if result.fallback:
            self.fallbacks.inc()
        if result.retries:
            self.tick_retries.inc(result.retries)

    def observe_delivery(self, order: Order) -> None:
        """A delivered order: on time or late by tier, and its click-to-door time."""
        if order.delivered_at is None:
            return
        tier = order.priority.value
        on_time = order.delivered_at <= order.promised_by
        self.deliveries.labels(tier, "true" if on_time else "false").inc()
        self.click_to_door.labels(tier).observe(max(0.0, order.delivered_at - order.created_at))

    def observe_locations(self, accepted: int, rejected: int) -> None:
        if accepted:
            self.locations.labels("accepted").inc(accepted)
        if rejected:
            self.locations.labels("rejected").inc(rejected)

    def observe_price(self, community_id: str, multiplier: float) -> None:
        self.quote_multiplier.observe(multiplier)
        if community_id not in self._communities:
            if len(self._communities) >= MAX_COMMUNITY_LABELS:
                community_id = "other"
            else:
                self._communities.add(community_id)
        self.surge.labels(community_id).set(multiplier)

    def observe_alerts(self, raised: Sequence[Alert], active: Mapping[str, int]) -> None:
        """Alerts just raised, and how many communities have each kind raised now."""
        for alert in raised:
            self.alerts_raised.labels(alert.kind).inc()
        for kind, n in active.items():
            self.alerts_active.labels(kind).set(n)

    def render(self) -> bytes:
        return generate_latest(self.registry)
