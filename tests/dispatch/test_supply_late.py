"""Surge demand counts deliveries the plan brings after their promise (``late_weight``)."""

from __future__ import annotations

import pytest

import geo
from dispatch.model import (
    Community,
    LatLng,
    Order,
    OrderState,
    Plan,
    PlannedStop,
    Price,
    StopKind,
)
from dispatch.supply import MarketView, count_demand_supply, late_deliveries
from dispatch.surge import default_rules, parse_rules, rules_to_dict
from tests.dispatch.conftest import CENTER, offset

COMMUNITY = Community("c1", "Riverside", CENTER)
NOW = 10_000.0


def _order(oid: str, pickup: LatLng, promised_by: float, state: OrderState) -> Order:
    return Order(
        id=oid,
        community_id="c1",
        pickup=pickup,
        dropoff=offset(800, 0),
        created_at=NOW - 3600.0,  # outside the demand window: only open work counts
        ready_at=NOW,
        promised_by=promised_by,
        price=Price(5.0, 1.0, 5.0, 0),
        state=state,
        worker_id="w1",
    )


def _dropoff(order: Order, eta: float) -> PlannedStop:
    return PlannedStop(StopKind.DROPOFF, order.id, order.dropoff, eta, eta + 60.0)


def _view(orders: list[Order], etas: dict[str, float]) -> MarketView:
    by_id = {o.id: o for o in orders}
    stops = tuple(_dropoff(by_id[oid], eta) for oid, eta in etas.items())
    plan = Plan("c1", 1, NOW, {"w1": stops})
    return MarketView(COMMUNITY, orders, [], [], plan, NOW)


def _demand(view: MarketView, late_weight: float) -> dict[int, float]:
    demand, _ = count_demand_supply(
        view,
        demand_window_s=900.0,
        soon_free_s=300.0,
        staleness_s=60.0,
        orders_per_trip=lambda c, w: 3,
        late_weight=late_weight,
    )
    return demand


def test_a_delivery_planned_after_its_promise_weighs_more_at_its_pickup() -> None:
    here, there = offset(0, 0), offset(0, 1500)
    on_time = _order("o1", here, NOW + 1800.0, OrderState.ASSIGNED)
    late = _order("o2", there, NOW + 600.0, OrderState.ASSIGNED)
    carried_late = _order("o3", there, NOW + 300.0, OrderState.PICKED_UP)
    view = _view([on_time, late, carried_late], {"o1": NOW + 900, "o2": NOW + 900, "o3": NOW + 400})
    assert late_deliveries(view) == {"o2", "o3"}
    c_here = geo.cell_of(here.lat, here.lng, COMMUNITY.h3_resolution)
    c_there = geo.cell_of(there.lat, there.lng, COMMUNITY.h3_resolution)
    plain = _demand(view, 0.0)
    assert plain == {c_here: 1.0, c_there: 1.0}  # the picked-up order is no open demand
    weighted = _demand(view, 1.5)
    # the late unpicked order counts 1 + 1.5; the late order on board counts 1.5
    assert weighted == {c_here: 1.0, c_there: pytest.approx(1.0 + 1.5 + 1.5)}


def test_no_plan_or_no_late_stop_leaves_demand_as_it_was() -> None:
    o = _order("o1", offset(0, 0), NOW + 1800.0, OrderState.PENDING)
    without_plan = MarketView(COMMUNITY, [o], [], [], None, NOW)
    assert late_deliveries(without_plan) == frozenset()
    on_time = _view([o], {"o1": NOW + 1800.0})  # at the promise exactly is on time
    assert late_deliveries(on_time) == frozenset()
    assert _demand(on_time, 2.0) == _demand(on_time, 0.0)


def test_late_weight_is_a_checked_rule_field_that_round_trips() -> None:
    assert default_rules().late_weight >= 0.0
    data = rules_to_dict(default_rules())
    data["late_weight"] = 2.5
    assert parse_rules(data).late_weight == 2.5
    assert rules_to_dict(parse_rules(data))["late_weight"] == 2.5
    for bad in (-1.0, 101.0, "high"):
        data["late_weight"] = bad
        with pytest.raises(ValueError, match="late_weight"):
            parse_rules(data)
