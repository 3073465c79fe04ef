"""Anomalies an operator must see: rules over a community's KPIs and its ticks' health.

``evaluate`` is pure: KPI tiles and the tick health in, the alerts that hold
now out. ``AlertBook`` compares what holds with what the event feed shows
raised, so a caller turns each evaluation into ``alert.raised`` /
``alert.cleared`` events only when something changed, whichever dispatcher
raised it before; it also keeps the ticks' health and the counts metrics show.

Rules (thresholds in ``AlertThresholds``):

- ``on_time_low``: the on-time share of the last hour fell below a floor
  (only once enough orders were delivered for the share to mean something);
- ``at_risk_spike``: many open orders and jobs are at risk at once, both in
  number and as a share of the open work;
- ``stale_workers``: a large share of the workers on shift sent no recent fix;
- ``tick_failing``: the community's last ticks failed;
- ``tick_over_budget``: the last tick ran well past the community's budget.
"""

from __future__ import annotations

import threading
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field

from dispatch.ops.view import Kpis

__all__ = ["ALERT_KINDS", "Alert", "AlertBook", "AlertThresholds", "TickHealth", "evaluate"]

ALERT_KINDS = ("on_time_low", "at_risk_spike", "stale_workers", "tick_failing", "tick_over_budget")


@dataclass(frozen=True)
class AlertThresholds:
    """When each alert fires; validated on construction (``ValueError``)."""

    on_time_below: float = 0.85
    on_time_min_deliveries: int = 5
    at_risk_min: int = 3
    at_risk_share: float = 0.25
    stale_share_above: float = 0.3
    stale_min_workers: int = 3
    tick_failures: int = 2
    tick_over_budget_ratio: float = 1.5

    def __post_init__(self) -> None:
        for name in ("on_time_below", "at_risk_share", "stale_share_above"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must lie in [0, 1], got {value!r}")
        for name in ("on_time_min_deliveries", "at_risk_min", "stale_min_workers", "tick_failures"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1")
        if not 1.0 <= self.tick_over_budget_ratio <= 100.0:
            raise ValueError("tick_over_budget_ratio must lie in [1, 100]")


@dataclass(frozen=True)
class TickHealth:
    """How a community's recent ticks went, as the dispatcher that ran them saw it."""

    consecutive_failures: int = 0
    last_error: str | None = None
    last_duration_s: float | None = None
    budget_s: float | None = None


@dataclass(frozen=True)
class Alert:
    kind: str  # one of ALERT_KINDS
    severity: str  # "warning" or "critical"
    message: str
    value: float
    threshold: float


def _on_time(k: Kpis, t: AlertThresholds) -> Alert | None:
    share = k.on_time_share
    if share is None or k.delivered_last_hour < t.on_time_min_deliveries:
        return None
    if share >= t.on_time_below:
        return None
    return Alert(
        "on_time_low",
        "critical" if share < t.on_time_below / 2 else "warning",
        f"{share:.0%} of the last hour's {k.delivered_last_hour} deliveries kept their "
        f"promise (floor {t.on_time_below:.0%})",
        share,
        t.on_time_below,
    )


def _at_risk(k: Kpis, t: AlertThresholds) -> Alert | None:
    open_work = k.open_orders + k.open_jobs
    if k.at_risk < t.at_risk_min or not open_work:
        return None
    share = k.at_risk / open_work
    if share < t.at_risk_share:
        return None
    return Alert(
        "at_risk_spike",
        "warning",
        f"{k.at_risk} of {open_work} open orders and jobs are at risk ({share:.0%})",
        float(k.at_risk),
        float(t.at_risk_min),
    )


def _stale(k: Kpis, t: AlertThresholds) -> Alert | None:
    if k.stale_workers < t.stale_min_workers or not k.workers_on_shift:
        return None
    share = k.stale_workers / k.workers_on_shift
    if share <= t.stale_share_above:
        return None
    return Alert(
        "stale_workers",
        "warning",
        f"{k.stale_workers} of {k.workers_on_shift} workers on shift sent no recent position "
        f"({share:.0%})",
        share,
        t.stale_share_above,
    )


def _ticks(h: TickHealth, t: AlertThresholds) -> list[Alert]:
    out = []
    if h.consecutive_failures >= t.tick_failures:
        out.append(
            Alert(
                "tick_failing",
                "critical",
                f"the last {h.consecutive_failures} ticks failed: {h.last_error or 'unknown'}",
                float(h.consecutive_failures),
                float(t.tick_failures),
            )
        )
    if h.last_duration_s is not None and h.budget_s:
        ratio = h.last_duration_s / h.budget_s
        if ratio > t.tick_over_budget_ratio:
            out.append(
                Alert(
                    "tick_over_budget",
                    "warning",
                    f"the last tick took {h.last_duration_s:.1f} s, {ratio:.1f}× its "
                    f"{h.budget_s:g} s budget",
                    ratio,
                    t.tick_over_budget_ratio,
                )
            )
    return out


def evaluate(kpis: Kpis, health: TickHealth, thresholds: AlertThresholds) -> tuple[Alert, ...]:
    """Every alert that holds for these KPIs and tick health, in ``ALERT_KINDS`` order."""
    found = [rule(kpis, thresholds) for rule in (_on_time, _at_risk, _stale)]
    alerts = [a for a in found if a is not None] + _ticks(health, thresholds)
    return tuple(sorted(alerts, key=lambda a: ALERT_KINDS.index(a.kind)))


@dataclass
class AlertBook:
    """What each community's last evaluation found, and its ticks' health (thread-safe)."""

    _active: dict[str, dict[str, Alert]] = field(default_factory=dict)
    _health: dict[str, TickHealth] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def health(self, community_id: str) -> TickHealth:
        with self._lock:
            return self._health.get(community_id, TickHealth())

    def tick_done(self, community_id: str, duration_s: float, budget_s: float) -> None:
        with self._lock:
            self._health[community_id] = TickHealth(0, None, duration_s, budget_s)

    def tick_failed(self, community_id: str, error: str) -> None:
        with self._lock:
            old = self._health.get(community_id, TickHealth())
            self._health[community_id] = TickHealth(
                old.consecutive_failures + 1, error, old.last_duration_s, old.budget_s
            )

    def update(
        self, community_id: str, alerts: tuple[Alert, ...], raised_before: Collection[str]
    ) -> tuple[list[Alert], list[str]]:
        """Record what holds now; against the kinds raised before (as the feed shows
        them), the alerts to raise and the kinds to clear."""
        now = {a.kind: a for a in alerts}
        with self._lock:
            self._active[community_id] = now
        raised = [a for kind, a in now.items() if kind not in raised_before]
        cleared = sorted(kind for kind in raised_before if kind not in now)
        return raised, cleared

    def active_counts(self) -> Mapping[str, int]:
        """How many communities had each kind of alert holding at their last evaluation."""
        counts = dict.fromkeys(ALERT_KINDS, 0)
        with self._lock:
            for alerts in self._active.values():
                for kind in alerts:
                    counts[kind] += 1
        return counts
