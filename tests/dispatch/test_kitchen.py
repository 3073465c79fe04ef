"""Kitchen reports: the merchant's word on when an order's food is ready, before pickup."""

from __future__ import annotations

import dataclasses
import math

import pytest

from dispatch import Engine, ManualClock
from dispatch.errors import Conflict, InvalidInput, NotFound
from dispatch.kitchen import READY_AHEAD_S, READY_PAST_S
from dispatch.model import OrderState
from dispatch.requests import OrderRequest
from tests.dispatch.conftest import AddWorker, offset


def _order(engine: Engine, ready_in_s: float) -> str:
    now = engine.clock.now()
    return engine.create_order(
        OrderRequest("c1", offset(100, 0), offset(900, 300), ready_at=now + ready_in_s)
    ).id


def test_a_report_replaces_the_ready_time_and_is_announced(
    engine: Engine, add_worker: AddWorker, clock: ManualClock
) -> None:
    """A revised time replaces the estimate; no time means out now; each report is an
    ``order.ready`` event carrying the order as reported."""
    add_worker("w1", at=(50, 0))
    oid = _order(engine, 600)
    later = engine.kitchen_report(oid, clock.now() + 1500)
    assert later.ready_at == clock.now() + 1500 == engine.get_order(oid).ready_at
    assert later.state == OrderState.PENDING and later.version == 2
    clock.advance(120)
    out = engine.kitchen_report(oid)
    assert out.ready_at == clock.now()
    reports = [e for e in engine.events(community_id="c1") if e.type == "order.ready"]
    assert [e.data["ready_at"] for e in reports] == [clock.now() - 120 + 1500, clock.now()]


def test_a_report_drops_the_ticks_late_food_expectation(
    engine: Engine, add_worker: AddWorker, clock: ManualClock
) -> None:
    """The tick's own guess of late food (kept on the order) gives way to the kitchen's word."""
    add_worker("w1", at=(50, 0))
    oid = _order(engine, 0)
    assert engine.tick("c1").assigned == 1
    stored = engine.get_order(oid)
    guessed = dataclasses.replace(
        stored, late_food_ready_at=clock.now() + 120, version=stored.version + 1
    )
    engine.store.write("c1", orders=[guessed], expect={oid: stored.version})
    reported = engine.kitchen_report(oid, clock.now() + 400)
    assert reported.late_food_ready_at is None and reported.state == OrderState.ASSIGNED
    assert engine.get_order(oid).late_food_ready_at is None


def test_the_next_tick_plans_the_pickup_with_the_reported_time(
    engine: Engine, add_worker: AddWorker, clock: ManualClock
) -> None:
    """Food estimated 20 min out is planned then; out now, the courier next door collects it
    at once; reported late, the pickup moves after the new time."""
    add_worker("w1", at=(50, 0))
    oid = _order(engine, 1200)
    engine.tick("c1")
    planned = engine.get_order(oid).eta_pickup
    assert planned is not None and planned >= clock.now() + 1200
    engine.kitchen_report(oid)
    engine.tick("c1")
    sooner = engine.get_order(oid).eta_pickup
    assert sooner is not None and sooner < clock.now() + 300
    engine.kitchen_report(oid, clock.now() + 1500)
    engine.tick("c1")
    late = engine.get_order(oid).eta_pickup
    assert late is not None and late >= clock.now() + 1500


def test_reports_after_pickup_or_closing_are_refused(engine: Engine, add_worker: AddWorker) -> None:
    """409 once the food left the counter or the order closed; 404 for an unknown order."""
    add_worker("w1", at=(50, 0))
    picked = _order(engine, 0)
    engine.tick("c1")
    engine.order_event(picked, "picked_up", "w1")
    with pytest.raises(Conflict, match="before pickup only"):
        engine.kitchen_report(picked)
    cancelled = _order(engine, 0)
    engine.cancel_order(cancelled)
    with pytest.raises(Conflict, match="cancelled"):
        engine.kitchen_report(cancelled)
    with pytest.raises(NotFound):
        engine.kitchen_report("nope")
    assert engine.get_order(picked).state == OrderState.PICKED_UP


@pytest.mark.parametrize(
    "offset_s",
    [math.nan, math.inf, -READY_PAST_S - 1, READY_AHEAD_S + 1],
)
def test_impossible_ready_times_are_refused_and_change_nothing(
    engine: Engine, clock: ManualClock, offset_s: float
) -> None:
    """Not finite, over an hour ago or over a week ahead: InvalidInput, the order as it was."""
    oid = _order(engine, 600)
    before = engine.get_order(oid)
    with pytest.raises(InvalidInput, match="ready_at"):
        engine.kitchen_report(oid, clock.now() + offset_s)
    assert engine.get_order(oid) == before
