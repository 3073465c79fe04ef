"""The simulator: determinism, conservation of orders, KPI arithmetic, injected policies."""

from __future__ import annotations

import itertools
from collections import Counter
from dataclasses import replace

import pytest

import geo
from dispatch.clock import ManualClock
from dispatch.community import CommunitySpec
from dispatch.engine import Engine
from dispatch.errors import InvalidInput
from dispatch.model import LatLng, OrderState, ServiceType, StopKind, Vehicle, WorkerKind
from dispatch.policies import NearestIdlePolicy, OptimizerPolicy, RegretInsertionPolicy
from dispatch.requests import LocationUpdate, OrderRequest, WorkerSpec
from dispatch.settings import EngineSettings
from dispatch.store.memory import MemoryStore
from dispatch.tick.build import TickProblem
from simulations.sim.demand import build_world
from simulations.sim.eventlog import replay
from simulations.sim.kpis import comparable, compute_kpis
from simulations.sim.runner import (
    REPRODUCIBLE_BUDGET_S,
    REPRODUCIBLE_SOLUTIONS,
    SimulationOptions,
    prepare,
    run,
)
from simulations.sim.scenario import Scenario
from simulations.sim.simulator import Simulation
from simulations.sim.world import Behaviour, Merchant, OrderArrival, WorkerPlan, World
from solver import RoutingResult
from solver.objective import evaluate
from solver.routing import RoutingParams

CENTER = LatLng(31.2304, 121.4737)


@pytest.mark.parametrize("policy", ["nearest-idle", "optimizer"])
def test_same_seed_same_kpis(tiny: Scenario, policy: str) -> None:
    """Two runs of one seed agree on every KPI but wall-clock timings."""
    a = compute_kpis(Simulation(build_world(tiny, 5), policy=policy).run())
    b = compute_kpis(Simulation(build_world(tiny, 5), policy=policy).run())
    assert comparable(a) == comparable(b)
    assert a["orders_total"] > 0


def test_a_policy_name_or_object_gives_the_same_run(tiny: Scenario) -> None:
    """A registry name builds the policy with the world's solver parameters; the result
    records the policy's own name; an unknown name is InvalidInput naming the known ones."""
    world = build_world(tiny, 5)
    by_name = Simulation(world, policy="regret-insertion")
    by_object = Simulation(world, policy=RegretInsertionPolicy())
    assert by_name.engine.policy == by_object.engine.policy == RegretInsertionPolicy()
    assert Simulation(world).engine.policy == OptimizerPolicy(world.routing)
    a, b = by_name.run(), by_object.run()
    assert a.policy == b.policy == "regret-insertion"
    assert comparable(compute_kpis(a)) == comparable(compute_kpis(b))
    with pytest.raises(InvalidInput, match="nearest-idle"):
        Simulation(world, policy="greedy")


def test_reproducible_runs_end_every_search_by_work(tiny: Scenario) -> None:
    """--reproducible: searches capped by a solution count under a budget only a stuck
    search reaches, and two runs of the optimizer agree on every KPI."""
    options = SimulationOptions(scenario=tiny, seed=5, reproducible=True, report=False)
    world, _, _ = prepare(options)
    assert world.routing.solution_limit == REPRODUCIBLE_SOLUTIONS
    assert world.community.solver_budget_s == REPRODUCIBLE_BUDGET_S
    assert prepare(replace(options, reproducible=False))[0].routing.solution_limit is None
    a, b = run(options).kpis, run(options).kpis
    assert comparable(a) == comparable(b) and a["orders_delivered"] > 0


def test_other_seed_other_day(tiny: Scenario) -> None:
    """Another seed draws another day (arrivals differ)."""
    a, b = build_world(tiny, 1), build_world(tiny, 2)
    assert [o.t for o in a.orders] != [o.t for o in b.orders]


def test_every_order_ends_in_exactly_one_state(tiny: Scenario) -> None:
    """Created orders = delivered + cancelled + failed + open, each once, as the log says."""
    result = Simulation(build_world(tiny, 7), policy="nearest-idle").run()
    k = compute_kpis(result)
    ids = [o.id for o in result.orders]
    assert len(ids) == len(set(ids)) == k["orders_total"]
    states = Counter(o.state for o in result.orders)
    assert set(states) <= {"delivered", "cancelled", "failed", "pending", "assigned", "picked_up"}
    assert (
        k["orders_delivered"] + k["orders_cancelled"] + k["orders_failed"] + k["orders_open_at_end"]
        == k["orders_total"]
    )
    assert k["orders_cancelled"] > 0  # the tiny scenario has impatient customers
    created = [e for e in result.events if e["type"] == "order.created"]
    assert len(created) == k["orders_total"]
    history = replay(result.events)
    for o in result.orders:
        assert history[o.id].final == o.state
    for o in result.orders:
        if o.state == "delivered":
            assert o.picked_s is not None and o.delivered_s is not None
            assert o.created_s <= o.picked_s <= o.delivered_s


def _hand_made_world() -> tuple[World, LatLng]:
    proj = geo.LocalProjection(CENTER.lat, CENTER.lng)
    lat, lng = proj.to_latlng([0.0], [600.0])
    home = LatLng(float(lat[0]), float(lng[0]))
    merchant = Merchant("m1", CENTER, ServiceType.TAKEOUT, 300.0)
    orders = (
        OrderArrival(t=60.0, merchant=0, dropoff=home, prep_estimate_s=300.0, prep_actual_s=300.0),
        OrderArrival(
            t=1500.0, merchant=0, dropoff=home, prep_estimate_s=120.0, prep_actual_s=120.0
        ),
    )
    courier = WorkerPlan(
        "c1", WorkerKind.COURIER, Vehicle.BICYCLE, start_s=0.0, end_s=3600.0, home=CENTER
    )
    world = World(
        name="hand-made",
        community=CommunitySpec("hand", "Hand", CENTER, radius_m=1000.0, dispatch_interval_s=30.0),
        t0=1_767_225_600.0,
        horizon_s=2400.0,
        end_s=3600.0,
        merchants=(merchant,),
        orders=orders,
        jobs=(),
        workers=(courier,),
        settings=EngineSettings(pickup_service_s=120, dropoff_service_s=60),
    )
    return world, home


def test_kpi_arithmetic_on_a_hand_made_day() -> None:
    """Two orders, one courier: every KPI follows from travel and service times by hand."""
    world, home = _hand_made_world()
    result = Simulation(world, policy="nearest-idle", surge=False).run()
    k = compute_kpis(result)
    bike = geo.profile("bicycle")
    t = geo.eta_s(CENTER.lat, CENTER.lng, home.lat, home.lng, bike)  # merchant → home
    back = geo.eta_s(home.lat, home.lng, CENTER.lat, CENTER.lng, bike)
    # o1: ready at 360 with the courier waiting there; picked 360, leaves 480, at the door 480+t
    c2d_1 = 480 + t - 60
    # o2: placed 1500, courier at the home: at the merchant 1500+back (ready 1620), leaves +120
    pick_2 = max(1500 + back, 1620)
    c2d_2 = pick_2 + 120 + t - 1500
    assert k["orders_total"] == k["orders_delivered"] == 2
    assert k["on_time_rate"] == 1.0
    assert k["click_to_door_p50_min"] == pytest.approx((c2d_1 + c2d_2) / 2 / 60, abs=1e-3)
    low, high = sorted([c2d_1, c2d_2])
    assert k["click_to_door_p90_min"] == pytest.approx((low + 0.9 * (high - low)) / 60, abs=1e-3)
    assert k["ready_to_pickup_p50_min"] == pytest.approx((pick_2 - 1620) / 2 / 60, abs=1e-3)
    # the courier starts at the merchant: three legs (to the door, back, to the door)
    metres = 3 * float(geo.haversine_m(CENTER.lat, CENTER.lng, home.lat, home.lng)) * 1.3
    assert k["km_per_order"] == pytest.approx(metres / 1000 / 2, rel=1e-3)
    assert result.end_s == 2400.0  # all done at the first sample after demand stopped
    busy = 2 * t + back + 2 * 120 + 2 * 60
    assert k["courier_utilization"] == pytest.approx(busy / 2400.0, abs=1e-4)
    assert k["orders_per_courier_hour"] == pytest.approx(2 / (2400 / 3600), abs=1e-4)
    assert k["mean_surge_multiplier"] == 1.0 and k["quotes_declined"] == 0
    assert k["unassigned_at_end"] == 0 and k["jobs_total"] == 0


def test_nearest_idle_sends_the_nearest_idle_courier() -> None:
    """Orders go to the nearest courier with no work; a busy courier gets nothing more."""
    clock = ManualClock()
    counter = itertools.count()
    engine = Engine(
        EngineSettings(),
        MemoryStore(),
        clock,
        policy=NearestIdlePolicy(),
        ids=lambda p: f"{p}{next(counter)}",
    )
    engine.upsert_community(CommunitySpec("c", "C", CENTER, radius_m=2000.0))
    proj = geo.LocalProjection(CENTER.lat, CENTER.lng)
    spots = {"near": (100.0, 0.0), "far": (900.0, 0.0)}
    for wid, (x, y) in spots.items():
        engine.upsert_worker(WorkerSpec(wid, WorkerKind.COURIER, "c"))
        lat, lng = proj.to_latlng([x], [y])
        engine.update_location(LocationUpdate(wid, float(lat[0]), float(lng[0])))
    lat, lng = proj.to_latlng([0.0, 300.0], [0.0, 800.0])
    pickup, dropoff = LatLng(float(lat[0]), float(lng[0])), LatLng(float(lat[1]), float(lng[1]))
    req = OrderRequest("c", pickup, dropoff)
    first = engine.create_order(req)
    engine.tick("c")
    assert engine.get_order(first.id).worker_id == "near"
    second = engine.create_order(req)
    engine.tick("c")
    assert engine.get_order(second.id).worker_id == "far"
    third = engine.create_order(req)
    result = engine.tick("c")
    assert engine.get_order(third.id).state == OrderState.PENDING
    assert result.unassigned == 1
    assert [s.kind.value for s in engine.route("near")] == ["pickup", "dropoff"]


def test_surge_counts_only_the_room_the_dispatcher_uses() -> None:
    """A courier with one order and room for three is 2/3 free under the engine's bundling,
    but not free at all under one-order-per-trip dispatch: room it never uses is no supply."""
    frees = []
    clock = ManualClock()
    params = RoutingParams(use_vroom=False, isolate=False)
    engines = [
        Engine(EngineSettings(), MemoryStore(), clock, policy=OptimizerPolicy(params)),
        Engine(EngineSettings(), MemoryStore(), clock, policy=NearestIdlePolicy()),
    ]
    for engine in engines:
        engine.upsert_community(CommunitySpec("c", "C", CENTER, radius_m=2000.0))
        engine.upsert_worker(WorkerSpec("w", WorkerKind.COURIER, "c", capacity=3))
        engine.update_location(LocationUpdate("w", CENTER.lat, CENTER.lng))
        proj = geo.LocalProjection(CENTER.lat, CENTER.lng)
        lat, lng = proj.to_latlng([1500.0, 1800.0], [0.0, 0.0])
        far = (LatLng(float(lat[0]), float(lng[0])), LatLng(float(lat[1]), float(lng[1])))
        engine.create_order(OrderRequest("c", *far))
        engine.tick("c")
        _, supply = engine.demand_supply("c")
        frees.append(sum(supply.values()))
    assert frees[0] == pytest.approx(1 - 2 / 6)
    assert frees[1] == 0.0


def test_idle_couriers_ride_back_towards_the_merchants() -> None:
    """With idle_return_m the courier waits near the merchant after a delivery (halfway inside
    the limit, so it does not ride again), so the second
    order is picked up the moment it is ready; without it the courier starts from the home."""
    world, home = _hand_made_world()
    stays = compute_kpis(Simulation(world, policy="nearest-idle", surge=False).run())
    returning_world = replace(world, behaviour=Behaviour(idle_return_m=200.0))
    returns = compute_kpis(Simulation(returning_world, policy="nearest-idle", surge=False).run())
    bike = geo.profile("bicycle")
    back = geo.eta_s(home.lat, home.lng, CENTER.lat, CENTER.lng, bike)
    assert 1500 + back > 1620  # from the home the courier is late for the second order
    late_by = 1500 + back - 1620
    assert stays["ready_to_pickup_p50_min"] == pytest.approx(late_by / 2 / 60, abs=1e-3)
    assert returns["ready_to_pickup_p50_min"] == 0.0
    assert returns["click_to_door_p90_min"] < stays["click_to_door_p90_min"]
    # legs: to the door, back to 100 m short of the merchant (after each delivery), the last
    # 100 m to the merchant, to the door again
    one_way = float(geo.haversine_m(CENTER.lat, CENTER.lng, home.lat, home.lng)) * 1.3
    metres = 2 * one_way + 2 * one_way * 500.0 / 600.0 + one_way * 100.0 / 600.0
    assert returns["km_per_order"] == pytest.approx(metres / 1000 / 2, rel=0.03)


def test_couriers_report_their_arrival_at_the_counter() -> None:
    """A courier reaching a pickup tells the engine (``arrived_at_pickup``), as its app would:
    once per order, at the moment it gets there (o1: the courier waits at the merchant when
    the order comes; o2: it rides back from the first home)."""
    world, home = _hand_made_world()
    result = Simulation(world, policy="nearest-idle", surge=False).run()
    back = geo.eta_s(home.lat, home.lng, CENTER.lat, CENTER.lng, geo.profile("bicycle"))
    arrivals = [e for e in result.events if e["type"] == "order.arrived_at_pickup"]
    created = {e["entity_id"]: e["ts"] for e in result.events if e["type"] == "order.created"}
    first, second = sorted(created, key=created.__getitem__)
    assert [e["entity_id"] for e in arrivals] == [first, second]
    assert [e["ts"] - world.t0 for e in arrivals] == pytest.approx([60.0, 1500.0 + back])
    assert all(e["data"]["worker_id"] == "c1" for e in arrivals)


def test_the_engine_learns_the_couriers_hand_over() -> None:
    """The engine is told how far into a pickup its simulated couriers are handed the food
    (the world's hand-over: 0 on a default day, half the service on an MDRP day), unless
    the world's engine settings already name it."""
    world, _ = _hand_made_world()
    assert Simulation(world).engine.settings.pickup_handover_s == 0
    half = replace(world, handover_s=60.0)
    assert Simulation(half).engine.settings.pickup_handover_s == 60
    named = replace(half, settings=replace(world.settings, pickup_handover_s=90))
    assert Simulation(named).engine.settings.pickup_handover_s == 90


class _ScriptedPolicy:
    """Plans by a script (test only): before ``split_s`` the first courier collects both
    orders as one bundle; from then on the late order goes to the second courier. Plans are
    scheduled and priced by the solver's own ``evaluate``."""

    name = "scripted"
    orders_per_trip = None
    tick_on_arrival = False

    def __init__(self, clock: ManualClock, split_at: float) -> None:
        self.clock, self.split_at = clock, split_at

    def solve(self, tick: TickProblem, budget_s: float) -> RoutingResult:
        index = {(s.kind, s.entity_id): i for i, s in enumerate(tick.stops)}
        late_at = self.split_at + 600.0  # the late order is ready after that
        early = [o.id for o in tick.orders if (o.ready_at or 0.0) < late_at]
        late = [o.id for o in tick.orders if (o.ready_at or 0.0) >= late_at]
        pick = [(StopKind.PICKUP, i) for i in early + late]
        drop = [(StopKind.DROPOFF, i) for i in early + late]
        if self.clock.now() < self.split_at:
            plans = {"c1": pick + drop}
        else:
            plans = {
                "c1": [(StopKind.PICKUP, i) for i in early]
                + [(StopKind.DROPOFF, i) for i in early],
                "c2": [(StopKind.PICKUP, i) for i in late] + [(StopKind.DROPOFF, i) for i in late],
            }
        routes = [[index[k] for k in plans.get(w.id, []) if k in index] for w in tick.workers]
        return evaluate(tick.problem, routes, backend="scripted")


def test_an_mdrp_bundle_is_not_held_for_a_member_taken_away() -> None:
    """MDRP: a courier waiting at the counter for a two-order bundle (the second order ready
    much later) is handed the first order as soon as a tick gives the second to another
    courier, not at the second order's ready time."""
    proj = geo.LocalProjection(CENTER.lat, CENTER.lng)
    lat, lng = proj.to_latlng([0.0, 800.0], [600.0, 0.0])
    door = LatLng(float(lat[0]), float(lng[0]))
    elsewhere = LatLng(float(lat[1]), float(lng[1]))
    merchant = Merchant("m1", CENTER, ServiceType.TAKEOUT, 300.0)
    orders = (
        OrderArrival(t=60.0, merchant=0, dropoff=door, prep_estimate_s=240.0, prep_actual_s=240.0),
        OrderArrival(
            t=60.0, merchant=0, dropoff=door, prep_estimate_s=1740.0, prep_actual_s=1740.0
        ),
    )
    couriers = (
        WorkerPlan("c1", WorkerKind.COURIER, Vehicle.BICYCLE, 0.0, 7200.0, home=CENTER),
        WorkerPlan("c2", WorkerKind.COURIER, Vehicle.BICYCLE, 0.0, 7200.0, home=elsewhere),
    )
    world = World(
        name="mdrp bundle",
        community=CommunitySpec(
            "hand",
            "Hand",
            CENTER,
            radius_m=1500.0,
            dispatch_interval_s=60.0,
            single_merchant_trips=True,
        ),
        t0=1_767_225_600.0,
        horizon_s=2400.0,
        end_s=7200.0,
        merchants=(merchant,),
        orders=orders,
        jobs=(),
        workers=couriers,
        settings=EngineSettings(pickup_service_s=240, dropoff_service_s=240),
        handover_s=120.0,
        mdrp=True,
        tick_when_idle=True,
    )
    split_s = 900.0
    policy = _ScriptedPolicy(ManualClock(), world.t0 + split_s)
    sim = Simulation(world, policy=policy, surge=False)
    policy.clock = sim.state.clock
    result = sim.run()
    by_ready = sorted(result.orders, key=lambda r: r.ready_s)
    first, second = by_ready
    assert first.worker == "c1" and second.worker == "c2"
    assert first.state == second.state == "delivered"
    # c1 stands at the counter from the first tick on and the first order is ready at 300 s:
    # once the split tick takes the second order away, the first is handed over at once
    assert first.picked_s is not None and first.picked_s <= split_s + 60.0
    assert first.picked_s < second.ready_s
    assert second.picked_s is not None and second.picked_s >= second.ready_s
    assert [(t.courier, len(t.orders)) for t in result.trips] == [("c1", 1), ("c2", 1)]


def _reporting(tiny: Scenario, share: float, lead_min: float) -> Scenario:
    groups = [
        g.model_copy(update={"ready_reports": share, "report_lead_min": lead_min})
        for g in tiny.merchants
    ]
    return tiny.model_copy(update={"merchants": groups})


def test_kitchen_reports_leave_the_rest_of_the_day_as_it_was(tiny: Scenario) -> None:
    """Switching reports on draws nothing from the day's other streams: same requests, same
    real prep times; every order reports, ``report_lead_min`` before its food is out (at
    once when it cooks faster); with reports off none does."""
    off = build_world(tiny, 3)
    on = build_world(_reporting(tiny, 1.0, 2.0), 3)
    assert len(on.orders) == len(off.orders) > 0
    for a, b in zip(off.orders, on.orders, strict=True):
        assert replace(b, report_after_s=None) == a and a.report_after_s is None
        assert b.report_after_s == max(0.0, b.prep_actual_s - 120.0)
    half = build_world(_reporting(tiny, 0.5, 0.0), 3)
    reporting = [o for o in half.orders if o.report_after_s is not None]
    assert 0 < len(reporting) < len(half.orders)
    assert all(o.report_after_s == o.prep_actual_s for o in reporting)


def test_kitchens_report_the_real_ready_time_to_the_engine(tiny: Scenario) -> None:
    """Each reporting order still at the counter when its kitchen speaks gets one
    ``order.ready`` carrying the real ready time (as the engine counts it, less the
    hand-over), at the moment the kitchen speaks; the run conserves its orders."""
    world = build_world(_reporting(tiny, 1.0, 3.0), 7)
    result = Simulation(world, policy="nearest-idle").run()
    reports = [e for e in result.events if e["type"] == "order.ready"]
    assert reports
    by_id = {o.id: o for o in result.orders}
    arrival = {o.id: world.orders[o.arrival] for o in result.orders}
    for e in reports:
        o, a = by_id[e["entity_id"]], arrival[e["entity_id"]]
        assert a.report_after_s is not None
        assert e["ts"] - world.t0 == pytest.approx(o.created_s + a.report_after_s)
        assert e["data"]["ready_at"] - world.t0 == pytest.approx(o.ready_s - world.handover_s)
        assert o.picked_s is None or o.picked_s >= e["ts"] - world.t0 - 1e-6
    assert len({e["entity_id"] for e in reports}) == len(reports)
    k = compute_kpis(result)
    assert (
        k["orders_delivered"] + k["orders_cancelled"] + k["orders_failed"] + k["orders_open_at_end"]
        == k["orders_total"]
    )
