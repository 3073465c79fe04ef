"""The ops console's service: views of a community, and alerts evaluated after ticks.

``OpsConsole`` reads what ``build_view`` needs (one market read, the surge
field quotes see, the feed of recent deliveries), keeps what does not change
between two looks (cell outlines per community version, each community's
delivery window), and turns the alert rules into events: after each tick a
dispatcher calls ``after_tick`` (or ``tick_failed``), off the request path, and
every change of a community's alerts is appended to the event feed as
``alert.raised`` (data: the alert) or ``alert.cleared`` (entity: its kind). What
counts as raised is read from the feed itself, so dispatchers taking turns on a
community (Redis workers) raise and clear each alert once between them.
"""

from __future__ import annotations

import dataclasses
import threading
from dataclasses import dataclass

from dispatch.engine import Engine
from dispatch.events import new_event
from dispatch.model import Community, LatLng
from dispatch.ops.alerts import Alert, AlertBook, AlertThresholds, evaluate
from dispatch.ops.kpis import DeliveryWindow
from dispatch.ops.view import OpsView, build_view
from dispatch.requests import TickResult

__all__ = ["AlertChange", "OpsConsole"]


@dataclass(frozen=True)
class AlertChange:
    """What one evaluation changed in a community's alerts."""

    community_id: str
    active: tuple[Alert, ...]
    raised: tuple[Alert, ...]
    cleared: tuple[str, ...]


@dataclass(frozen=True)
class _Shape:
    """What a community version's geometry gives the view: outline, cells, cell outlines."""

    fence: tuple[LatLng, ...]
    cells: tuple[int, ...]
    outlines: dict[int, tuple[LatLng, ...]]


class OpsConsole:
    """See the module docstring. One per engine; safe to call from several threads."""

    def __init__(
        self,
        engine: Engine,
        thresholds: AlertThresholds | None = None,
        window_s: float = 3600.0,
    ) -> None:
        self.engine = engine
        self.thresholds = thresholds or AlertThresholds()
        self.window_s = window_s
        self.book = AlertBook()
        self._windows: dict[str, DeliveryWindow] = {}
        self._shapes: dict[tuple[str, int], _Shape] = {}
        self._lock = threading.Lock()

    def _window(self, community_id: str) -> DeliveryWindow:
        with self._lock:
            window = self._windows.get(community_id)
            if window is None:
                window = DeliveryWindow(self.engine.store, community_id, self.window_s)
                self._windows[community_id] = window
            return window

    def view(self, community_id: str) -> OpsView:
        """The community now (``NotFound`` when it does not exist)."""
        engine = self.engine
        community = engine.get_community(community_id)
        engine.rules(community_id)  # picks up rules another process activated
        now = engine.clock.now()
        market = engine.market.view(community, now)
        surge = engine.pricer.snapshot(community, now)
        deliveries = self._window(community_id).refresh(now)
        shape = self._shape(community)
        view = build_view(
            community,
            shape.fence,
            shape.cells,
            market.orders,
            market.jobs,
            market.workers,
            market.plan,
            surge,
            deliveries,
            now,
            engine.settings.location_staleness_s,
            shape.outlines,
        )
        if len(shape.outlines) < len(view.cells):
            shape.outlines.update({c.cell: c.boundary for c in view.cells})
        return view

    def _shape(self, community: Community) -> _Shape:
        key = (community.id, community.version)
        with self._lock:
            shape = self._shapes.get(key)
        if shape is None:
            fence = self.engine.fence(community)
            shape = _Shape(
                tuple(LatLng(lat, lng) for lat, lng in fence.boundary_latlng()),
                fence.cells(community.h3_resolution),
                {},
            )
            with self._lock:
                self._shapes = {k: v for k, v in self._shapes.items() if k[0] != community.id}
                self._shapes[key] = shape
        return shape

    def alerts(self, view: OpsView) -> tuple[Alert, ...]:
        """The alerts that hold for this view and the community's last ticks."""
        return evaluate(view.kpis, self.book.health(view.community.id), self.thresholds)

    def after_tick(self, result: TickResult) -> AlertChange | None:
        """Record a tick's duration, then re-evaluate its community (None if skipped)."""
        if result.skipped:
            return None
        community = self.engine.get_community(result.community_id)
        self.book.tick_done(community.id, result.solve_ms / 1000.0, community.solver_budget_s)
        return self.evaluate(community.id)

    def tick_failed(self, community_id: str, error: BaseException) -> AlertChange:
        """Record a failed tick, then re-evaluate its community."""
        self.book.tick_failed(community_id, f"{type(error).__name__}: {error}")
        return self.evaluate(community_id)

    def evaluate(self, community_id: str) -> AlertChange:
        """Evaluate the rules now; append an event for each alert raised or cleared."""
        active = self.alerts(self.view(community_id))  # the view reads the feed up to now
        before = self._window(community_id).raised_alerts()
        raised, cleared = self.book.update(community_id, active, before)
        now = self.engine.clock.now()
        events = [
            new_event(now, community_id, "alert.raised", a.kind, dataclasses.asdict(a))
            for a in raised
        ]
        events += [
            new_event(now, community_id, "alert.cleared", kind, {"kind": kind}) for kind in cleared
        ]
        if events:
            self.engine.store.append_events(events)
        return AlertChange(community_id, active, tuple(raised), tuple(cleared))
