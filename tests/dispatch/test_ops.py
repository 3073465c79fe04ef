"""dispatch.ops: worker statuses, live routes, KPI arithmetic and the alert rules."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from dispatch import Engine, EngineSettings, ManualClock
from dispatch.events import new_event
from dispatch.model import (
    Community,
    LatLng,
    Order,
    OrderState,
    Plan,
    PlannedStop,
    Price,
    StopKind,
    Worker,
    WorkerKind,
    WorkerStatus,
)
from dispatch.ops import (
    AlertBook,
    AlertThresholds,
    DeliveryWindow,
    Kpis,
    OpsConsole,
    TickHealth,
    build_view,
    evaluate,
    live_routes,
    percentile,
)
from dispatch.policies import RegretInsertionPolicy
from dispatch.requests import CommunitySpec, LocationUpdate, WorkerSpec
from dispatch.store.memory import MemoryStore
from dispatch.surge import SurgeSnapshot

NOW = 1_767_225_600.0
HERE = LatLng(31.23, 121.47)
CELL = 0x8928308280FFFFF


def _order(oid: str, state: OrderState, worker: str | None, at_risk: bool = False) -> Order:
    return Order(
        oid,
        "c1",
        HERE,
        HERE,
        NOW,
        NOW,
        NOW + 1800,
        Price(10, 1, 10, 1),
        state=state,
        worker_id=worker,
        at_risk=at_risk,
    )


def _worker(
    wid: str, fix_age: float | None, status: WorkerStatus = WorkerStatus.AVAILABLE
) -> Worker:
    ts = None if fix_age is None else NOW - fix_age
    return Worker(wid, WorkerKind.COURIER, "c1", status=status, position=HERE, position_ts=ts)


def _stop(kind: StopKind, oid: str) -> PlannedStop:
    return PlannedStop(kind, oid, HERE, NOW + 60, NOW + 120)


def test_live_routes_drop_closed_moved_and_picked_up_work() -> None:
    """A pickup already made, work now on another worker, and closed work leave the route."""
    plan = Plan(
        "c1",
        3,
        NOW,
        {
            "w1": (
                _stop(StopKind.PICKUP, "a"),
                _stop(StopKind.DROPOFF, "a"),
                _stop(StopKind.DROPOFF, "gone"),
            ),
            "w2": (_stop(StopKind.PICKUP, "b"),),
        },
    )
    orders = [_order("a", OrderState.PICKED_UP, "w1"), _order("b", OrderState.ASSIGNED, "w3")]
    routes = live_routes(plan, orders, [])
    assert routes == {"w1": (_stop(StopKind.DROPOFF, "a"),)}
    assert live_routes(None, orders, []) == {}


def test_worker_statuses_and_kpis() -> None:
    """Idle, busy (stops), stale (old fix or none), offline (off or on break), retired
    workers left out, and the tiles."""
    workers = [
        _worker("idle", 5),
        _worker("busy", 5),
        _worker("old", 61),
        _worker("never", None),
        _worker("off", 5, WorkerStatus.OFFLINE),
        _worker("break", 5, WorkerStatus.ON_BREAK),
        _worker("gone", None, WorkerStatus.RETIRED),  # not shown at all
    ]
    orders = [
        _order("a", OrderState.ASSIGNED, "busy", at_risk=True),
        _order("b", OrderState.PENDING, None),
    ]
    plan = Plan("c1", 1, NOW, {"busy": (_stop(StopKind.PICKUP, "a"),)})
    surge = SurgeSnapshot("c1", NOW, 4, {})
    community = Community("c1", "Riverside", HERE)
    view = build_view(community, [HERE], [CELL], orders, [], workers, plan, surge, [], NOW, 60.0)
    status = {w.id: w.status for w in view.workers}
    assert status == {
        "idle": "idle",
        "busy": "busy",
        "old": "stale",
        "never": "stale",
        "off": "offline",
        "break": "offline",
    }
    k = view.kpis
    assert (k.open_orders, k.at_risk, k.couriers_online, k.couriers_busy) == (2, 1, 2, 1)
    assert (k.stale_workers, k.workers_on_shift, k.mean_surge) == (2, 4, 1.0)
    assert k.on_time_share is None and k.click_to_door_p90_s is None
    assert [c.cell for c in view.cells] == [CELL] and len(view.cells[0].boundary) == 6
    assert view.rule_version == 4


def test_percentile_is_nearest_rank() -> None:
    """p90 of 1..10 is 9, of one value that value, of nothing None."""
    assert percentile([float(x) for x in range(10, 0, -1)], 90) == 9.0
    assert percentile([7.0], 90) == 7.0
    assert percentile([], 90) is None


def _kpis(**kw: object) -> Kpis:
    base = Kpis(
        open_orders=10,
        open_jobs=0,
        at_risk=0,
        delivered_last_hour=0,
        on_time_share=None,
        click_to_door_p90_s=None,
        couriers_online=5,
        couriers_busy=2,
        technicians_online=0,
        stale_workers=0,
        workers_on_shift=5,
        mean_surge=1.0,
    )
    return dataclasses.replace(base, **kw)  # type: ignore[arg-type]


T = AlertThresholds()


def test_quiet_communities_raise_nothing() -> None:
    """Good numbers, or too few deliveries to judge, raise no alert."""
    assert evaluate(_kpis(), TickHealth(), T) == ()
    assert evaluate(_kpis(delivered_last_hour=4, on_time_share=0.0), TickHealth(), T) == ()
    assert evaluate(_kpis(delivered_last_hour=9, on_time_share=0.9), TickHealth(), T) == ()


def test_each_rule_fires_past_its_threshold() -> None:
    """on-time share, at-risk spike, stale share, failing ticks and ticks over budget."""
    k = _kpis(
        delivered_last_hour=10, on_time_share=0.8, at_risk=3, stale_workers=3, workers_on_shift=8
    )
    health = TickHealth(consecutive_failures=2, last_error="boom", last_duration_s=3.1, budget_s=2)
    kinds = [(a.kind, a.severity) for a in evaluate(k, health, T)]
    assert kinds == [
        ("on_time_low", "warning"),
        ("at_risk_spike", "warning"),
        ("stale_workers", "warning"),
        ("tick_failing", "critical"),
        ("tick_over_budget", "warning"),
    ]
    # just under each threshold: nothing
    k = _kpis(
        delivered_last_hour=10, on_time_share=0.85, at_risk=2, stale_workers=3, workers_on_shift=10
    )
    health = TickHealth(consecutive_failures=1, last_duration_s=3.0, budget_s=2)
    assert evaluate(k, health, T) == ()


def test_the_book_raises_and_clears_against_what_was_raised_before() -> None:
    """An alert that holds is raised unless the feed shows it raised; a kind raised
    before that no longer holds is cleared; counts follow the last evaluation."""
    book = AlertBook()
    (alert,) = evaluate(_kpis(at_risk=5), TickHealth(), T)
    assert book.update("c1", (alert,), ()) == ([alert], [])
    assert book.update("c1", (alert,), {"at_risk_spike"}) == ([], [])
    assert book.active_counts()["at_risk_spike"] == 1
    assert book.update("c1", (), {"at_risk_spike", "tick_failing"}) == (
        [],
        ["at_risk_spike", "tick_failing"],
    )
    assert book.active_counts()["at_risk_spike"] == 0
    book.tick_failed("c1", "x")
    book.tick_failed("c1", "y")
    assert book.health("c1").consecutive_failures == 2
    book.tick_done("c1", 1.0, 2.0)
    assert book.health("c1") == TickHealth(0, None, 1.0, 2.0)


@pytest.mark.parametrize(
    "bad",
    [{"on_time_below": 1.2}, {"at_risk_min": 0}, {"tick_over_budget_ratio": 0.5}],
)
def test_thresholds_check_themselves(bad: dict[str, float]) -> None:
    """Out-of-range thresholds are refused when made."""
    with pytest.raises(ValueError):
        AlertThresholds(**bad)  # type: ignore[arg-type]


class _CountingStore(MemoryStore):
    """A memory store that counts feed reads."""

    def __init__(self) -> None:
        super().__init__()
        self.reads = 0

    def events_after(self, seq: int, limit: int = 1000, community_id: str | None = None) -> Any:
        self.reads += 1
        return super().events_after(seq, limit, community_id)


def test_the_delivery_window_skips_old_history_and_keeps_the_last_hour() -> None:
    """Five hours of feed: the first refresh bisects to the last hour (a few reads, not
    the whole feed), counts its deliveries, and later ones arrive incrementally."""
    store = _CountingStore()
    store.put_community(Community("c1", "Riverside", HERE))
    t0 = NOW - 5 * 3600

    def deliver(n: int, at: float, late: bool) -> None:
        created = at - (2400 if late else 900)
        o = dataclasses.replace(
            _order(f"o{n}", OrderState.DELIVERED, "w1"),
            created_at=created,
            promised_by=created + 1800,
            delivered_at=at,
        )
        noise = [new_event(at, "c1", "worker.upserted", "w1", {}) for _ in range(20)]
        store.write(
            "c1",
            orders=[o],
            events=[*noise, new_event(at, "c1", "order.delivered", o.id, o)],
            expect={o.id: 0},
        )

    for n in range(300):  # one a minute for five hours, every third one late
        deliver(n, t0 + 60 * n, late=n % 3 == 0)
    window = DeliveryWindow(store, "c1")
    got = window.refresh(NOW)
    assert len(got) == 60 and sum(not d.on_time for d in got) == 20
    assert store.reads < 40, store.reads  # the feed holds 6 300 events: 7 pages alone
    assert max(d.click_to_door_s for d in got) == 2400.0
    deliver(300, NOW + 30, late=False)
    got = window.refresh(NOW + 60)
    assert len(got) == 60 and got[-1].ts == NOW + 30  # one in, the oldest out


def test_two_dispatchers_raise_and_clear_an_alert_once_between_them() -> None:
    """Two consoles on one store (two workers taking turns on a community) agree through
    the feed: one raises, the other sees it raised; one clears, the other sees it cleared."""
    engine = Engine(EngineSettings(), MemoryStore(), ManualClock(), policy=RegretInsertionPolicy())
    engine.upsert_community(CommunitySpec("c1", "Riverside", HERE))
    for wid in ("w1", "w2", "w3"):  # on shift, never a position: stale
        engine.upsert_worker(WorkerSpec(wid, WorkerKind.COURIER, "c1"))
    first, second = OpsConsole(engine), OpsConsole(engine)
    assert [a.kind for a in first.evaluate("c1").raised] == ["stale_workers"]
    again = second.evaluate("c1")
    assert [a.kind for a in again.active] == ["stale_workers"] and again.raised == ()
    for wid in ("w1", "w2", "w3"):
        engine.update_location(LocationUpdate(wid, HERE.lat, HERE.lng))
    assert second.evaluate("c1").cleared == ("stale_workers",)
    assert first.evaluate("c1").cleared == ()
    kinds = [(e.type, e.entity_id) for e in engine.events() if e.type.startswith("alert.")]
    assert kinds == [("alert.raised", "stale_workers"), ("alert.cleared", "stale_workers")]
