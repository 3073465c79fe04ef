"""The tick's steps on plain values: building a problem, applying a plan, the pipeline."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import pytest

import geo
from dispatch import Conflict, EngineSettings, MemoryStore
from dispatch.model import (
    Community,
    Event,
    Job,
    JobState,
    LatLng,
    Order,
    OrderState,
    Plan,
    PlannedStop,
    Price,
    StopKind,
    Vehicle,
    Worker,
    WorkerKind,
)
from dispatch.policies import RegretInsertionPolicy
from dispatch.tick import (
    TickPipeline,
    TickProblem,
    TickSnapshot,
    apply_plan,
    build_tick_problem,
    read_snapshot,
)
from solver import RoutingResult, check_routes, evaluate, solve_regret_insertion
from solver.problem import HORIZON_MAX, NONE
from tests.dispatch.conftest import CENTER, offset

NOW = 1_000_000.0
SETTINGS = EngineSettings()
MATRICES = geo.HaversineMatrixProvider()
PRICE = Price(10.0, 1.0, 10.0, 1)


def _community(**fields: Any) -> Community:
    return Community(id="c1", name="Riverside", center=CENTER, **fields)


def _courier(wid: str, at: tuple[float, float], **fields: Any) -> Worker:
    p = offset(*at)
    return Worker(wid, WorkerKind.COURIER, "c1", position=p, position_ts=NOW, **fields)


def _order(oid: str, pickup: LatLng, dropoff: LatLng, **fields: Any) -> Order:
    return Order(oid, "c1", pickup, dropoff, NOW - 60, NOW - 60, NOW + 1740, PRICE, **fields)


def _snapshot(
    workers: Sequence[Worker],
    orders: Sequence[Order] = (),
    jobs: Sequence[Job] = (),
    plan: Plan | None = None,
    **community: Any,
) -> TickSnapshot:
    return TickSnapshot(
        _community(**community), plan, tuple(workers), tuple(orders), tuple(jobs), NOW
    )


def _route_of(tp: TickProblem, worker_id: str, *stops: tuple[StopKind, str]) -> list[list[int]]:
    """Routes in the problem's indices: ``stops`` on the worker, nobody else busy."""
    index = {(s.kind, s.entity_id): i for i, s in enumerate(tp.stops)}
    routes: list[list[int]] = [[] for _ in tp.workers]
    k = next(i for i, w in enumerate(tp.workers) if w.id == worker_id)
    routes[k] = [index[s] for s in stops]
    return routes


def test_build_is_pure_and_keeps_only_dispatchable_workers() -> None:
    """The same snapshot builds the same problem; stale and offline workers are left out."""
    stale = dataclasses.replace(_courier("old", (0, 0)), position_ts=NOW - 3600)
    snap = _snapshot(
        [_courier("w1", (0, 0)), stale],
        [_order("o1", offset(100, 0), offset(800, 0))],
    )
    a = build_tick_problem(snap, SETTINGS, MATRICES)
    b = build_tick_problem(snap, SETTINGS, MATRICES)
    assert [w.id for w in a.workers] == ["w1"]
    assert [(s.kind, s.entity_id) for s in a.stops] == [
        (StopKind.PICKUP, "o1"),
        (StopKind.DROPOFF, "o1"),
    ]
    assert a.problem.pairs is not None and a.problem.pairs.tolist() == [[0, 1]]
    assert (a.problem.travel_time == b.problem.travel_time).all()
    assert a.problem.soft_deadline is not None and b.problem.soft_deadline is not None
    assert a.problem.soft_deadline.tolist() == b.problem.soft_deadline.tolist()


def test_build_fixes_on_board_orders_to_their_courier_and_warm_starts() -> None:
    """A picked-up order is one committed dropoff; the previous plan seeds the routes."""
    on_board = _order(
        "o1", offset(100, 0), offset(800, 0), state=OrderState.PICKED_UP, worker_id="w2"
    )
    waiting = _order("o2", offset(-100, 0), offset(-800, 0))
    stop = PlannedStop(StopKind.DROPOFF, "o1", on_board.dropoff, NOW + 60, NOW + 120)
    plan = Plan("c1", 4, NOW - 10, {"w2": (stop,)})
    snap = _snapshot(
        [_courier("w1", (0, 0)), _courier("w2", (50, 0))], [on_board, waiting], plan=plan
    )
    tp = build_tick_problem(snap, SETTINGS, MATRICES)
    drop = next(i for i, s in enumerate(tp.stops) if s.entity_id == "o1")
    assert tp.problem.committed_vehicle is not None
    assert int(tp.problem.committed_vehicle[drop]) == 1  # w2 is the second worker
    assert tp.problem.vehicle_initial_load is not None
    assert tp.problem.vehicle_initial_load[:, 0].tolist() == [0, 1]
    assert tp.initial_routes == [[], [drop]]


def test_apply_assigns_versions_and_announces() -> None:
    """Assigned orders get the worker, ETAs, version + 1 and one event each; a plan event last."""
    snap = _snapshot(
        [_courier("w1", (0, 0))],
        [_order("o1", offset(100, 0), offset(800, 0), version=3)],
        plan=Plan("c1", 7, NOW - 10, {}),
    )
    tp = build_tick_problem(snap, SETTINGS, MATRICES)
    result = evaluate(
        tp.problem,
        _route_of(tp, "w1", (StopKind.PICKUP, "o1"), (StopKind.DROPOFF, "o1")),
        backend="test",
    )
    assert check_routes(tp.problem, result).feasible
    changes = apply_plan(snap, tp, result, SETTINGS, solve_ms=12.0, fallback=False)
    (o,) = changes.orders
    assert o.state == OrderState.ASSIGNED and o.worker_id == "w1" and o.version == 4
    assert o.eta_pickup is not None and o.eta_dropoff is not None and o.eta_pickup < o.eta_dropoff
    assert o.assigned_at == NOW
    assert changes.expect == {"o1": 3} and changes.expect_plan == 7
    assert changes.plan.version == 8
    assert [s.entity_id for s in changes.plan.routes["w1"]] == ["o1", "o1"]
    assert [e.type for e in changes.events] == ["order.assigned", "plan.committed"]
    assert changes.events[-1].data["assigned"] == 1 and changes.assigned == 1


def test_apply_unassigns_work_nobody_can_take_and_keeps_absent_workers_routes() -> None:
    """An assigned order left out of the plan goes back to pending (at risk); a stale
    worker's route stays in the plan for the work it carries."""
    assigned = _order(
        "o1", offset(100, 0), offset(800, 0), state=OrderState.ASSIGNED, worker_id="w1"
    )
    kept = PlannedStop(StopKind.DROPOFF, "o9", offset(0, 900), NOW + 60, NOW + 120)
    plan = Plan("c1", 2, NOW - 10, {"gone": (kept,)})
    snap = _snapshot([_courier("w1", (0, 0))], [assigned], plan=plan)
    tp = build_tick_problem(snap, SETTINGS, MATRICES)
    result = evaluate(tp.problem, [[] for _ in tp.workers], backend="test")
    changes = apply_plan(snap, tp, result, SETTINGS, solve_ms=1.0, fallback=True)
    (o,) = changes.orders
    assert o.state == OrderState.PENDING and o.worker_id is None and o.at_risk
    assert changes.unassigned == 1 and changes.assigned == 0
    assert changes.plan.routes == {"gone": (kept,)}
    assert [e.type for e in changes.events] == ["order.unassigned", "plan.committed"]
    assert changes.events[-1].data["fallback"] is True


def test_apply_leaves_unchanged_work_alone() -> None:
    """Work the plan keeps as it was is not rewritten, and a tick that changes nothing
    announces nothing (not even plan.committed)."""
    snap = _snapshot([_courier("w1", (0, 0))], [_order("o1", offset(100, 0), offset(800, 0))])
    tp = build_tick_problem(snap, SETTINGS, MATRICES)
    first = apply_plan(
        snap, tp, solve_regret_insertion(tp.problem), SETTINGS, solve_ms=1.0, fallback=False
    )
    (assigned,) = first.orders
    again = dataclasses.replace(snap, orders=(assigned,), plan=first.plan)
    tp2 = build_tick_problem(again, SETTINGS, MATRICES)
    second = apply_plan(
        again,
        tp2,
        solve_regret_insertion(tp2.problem, initial_routes=tp2.initial_routes),
        SETTINGS,
        solve_ms=1.0,
        fallback=False,
    )
    assert second.orders == () and second.expect == {}
    assert second.events == () and second.plan.version == first.plan.version + 1


def test_apply_flags_a_job_whose_skill_nobody_has() -> None:
    """A job no technician can do stays pending and is announced at risk once."""
    tech = dataclasses.replace(
        _courier("t1", (0, 0)), kind=WorkerKind.TECHNICIAN, skills=frozenset({"cleaning"})
    )
    job = Job("j1", "c1", offset(200, 0), frozenset({"plumbing"}), 1800, NOW - 5, PRICE)
    snap = _snapshot([tech], jobs=[job])
    tp = build_tick_problem(snap, SETTINGS, MATRICES)
    result = solve_regret_insertion(tp.problem)
    changes = apply_plan(snap, tp, result, SETTINGS, solve_ms=1.0, fallback=False)
    (j,) = changes.jobs
    assert j.state == JobState.PENDING and j.at_risk and j.version == 2
    assert [e.type for e in changes.events] == ["job.at_risk", "plan.committed"]


class _RacingStore(MemoryStore):
    """A memory store whose next ``races`` writes with a plan lose a version race."""

    def __init__(self, races: int) -> None:
        super().__init__()
        self.races = races

    def write(self, community_id: str, **kwargs: Any) -> list[Event]:  # type: ignore[override]
        if kwargs.get("plan") is not None and self.races > 0:
            self.races -= 1
            raise Conflict("changed concurrently (test)")
        return super().write(community_id, **kwargs)


class _Recording:
    """A policy that records what it was asked and plans by regret insertion."""

    name = "recording"
    orders_per_trip: int | None = None
    tick_on_arrival = False

    def __init__(self) -> None:
        self.budgets: list[float] = []

    def solve(self, tick: TickProblem, budget_s: float) -> RoutingResult:
        self.budgets.append(budget_s)
        return solve_regret_insertion(tick.problem, initial_routes=tick.initial_routes)


def _seed(store: MemoryStore) -> Community:
    community = _community(solver_budget_s=0.5)
    store.put_community(community)
    store.put_worker(_courier("w1", (0, 0)))
    order = _order("o1", offset(100, 0), offset(800, 0))
    store.write("c1", orders=[order], events=[], expect={"o1": 0})
    return community


@pytest.mark.parametrize("races", [0, 1, 2])
def test_pipeline_retries_a_lost_race_and_counts_it(races: int) -> None:
    """A commit that lost a version race reads again and retries; the result counts retries."""
    store = _RacingStore(races)
    community = _seed(store)
    policy = _Recording()
    result = TickPipeline(store, policy, SETTINGS, MATRICES).run(community, NOW)
    assert result.retries == races and result.assigned == 1
    assert len(policy.budgets) == races + 1
    assert all(0 < b <= community.solver_budget_s for b in policy.budgets)
    o = store.get_order("o1")
    assert o is not None and o.worker_id == "w1" and o.version == 2


def test_pipeline_gives_up_after_its_attempts() -> None:
    """Races past the bounded attempts surface as Conflict and write nothing."""
    store = _RacingStore(5)
    community = _seed(store)
    with pytest.raises(Conflict):
        TickPipeline(store, RegretInsertionPolicy(), SETTINGS, MATRICES, attempts=2).run(
            community, NOW
        )
    o = store.get_order("o1")
    assert o is not None and o.state == OrderState.PENDING and store.get_plan("c1") is None


def test_snapshot_reads_what_the_store_holds() -> None:
    """read_snapshot returns the community's plan, workers and open work at ``now``."""
    store = MemoryStore()
    community = _seed(store)
    snap = read_snapshot(store, community, NOW)
    assert snap.plan is None and snap.plan_version == 0
    assert [w.id for w in snap.workers] == ["w1"] and [o.id for o in snap.orders] == ["o1"]
    assert snap.previous_routes() == {}


def test_plan_committed_names_its_dispatcher() -> None:
    """The plan event says which dispatcher committed it."""
    snap = _snapshot([_courier("w1", (0, 0))], [_order("o1", offset(100, 0), offset(800, 0))])
    tp = build_tick_problem(snap, SETTINGS, MATRICES)
    changes = apply_plan(
        snap,
        tp,
        solve_regret_insertion(tp.problem),
        SETTINGS,
        solve_ms=1.0,
        fallback=False,
        dispatcher="worker-7",
    )
    assert changes.events[-1].type == "plan.committed"
    assert changes.events[-1].data["dispatcher"] == "worker-7"


def test_no_dispatchable_worker_means_no_routing_work() -> None:
    """With every worker stale the problem has no stops (no matrix over the open orders),
    and the open orders are reported unassigned."""
    stale = dataclasses.replace(_courier("w1", (0, 0)), position_ts=NOW - 3600)
    orders = [_order(f"o{i}", offset(100 * i, 0), offset(800, 100 * i)) for i in range(5)]
    snap = _snapshot([stale], orders)
    tp = build_tick_problem(snap, SETTINGS, MATRICES)
    assert tp.problem.num_stops == 0 and tp.problem.num_vehicles == 0
    assert tp.problem.travel_time.shape[-1] == 0
    changes = apply_plan(
        snap, tp, solve_regret_insertion(tp.problem), SETTINGS, solve_ms=0.0, fallback=False
    )
    assert changes.unassigned == 5 and changes.assigned == 0


def test_build_sets_a_couriers_pickup_deadline_from_its_shift_end() -> None:
    """A courier's shift end bounds its pickups, not its deliveries; technicians keep theirs.

    The order can be collected before the courier's shift ends but not delivered by
    then: the plan picks it up in time and hands it over after, and the checker
    agrees. Under the old rule (the shift end bounds the whole route) it is lost.
    The pickup's service starts a hand-over before the shift end at the latest, so the
    food changes hands by then (``EngineSettings.handover_s``: the whole pickup service
    when unknown, as here; the simulator names its couriers' own).
    """
    tech = dataclasses.replace(
        _courier("t1", (0, 0), shift_end=NOW + 900),
        kind=WorkerKind.TECHNICIAN,
        skills=frozenset({"cleaning"}),
    )
    snap = _snapshot(
        [_courier("w1", (0, 0), shift_end=NOW + 300), tech, _courier("w3", (9000, 9000))],
        [_order("o1", offset(100, 0), offset(2500, 0))],
    )
    tp = build_tick_problem(snap, SETTINGS, MATRICES)
    p = tp.problem
    assert [w.id for w in tp.workers] == ["w1", "t1", "w3"]
    assert p.vehicle_pickup_end is not None and p.vehicle_end_time is not None
    last_pickup = 300 - SETTINGS.pickup_service_s
    assert p.vehicle_pickup_end.tolist() == [last_pickup, HORIZON_MAX, HORIZON_MAX]
    assert p.vehicle_end_time[0] > 300 + SETTINGS.dropoff_service_s
    assert p.vehicle_end_time[1:].tolist() == [900, HORIZON_MAX]
    result = solve_regret_insertion(p)
    assert check_routes(p, result).feasible
    assert [len(r) for r in result.routes] == [2, 0, 0]
    pick_t, drop_t = result.start_times[0]
    assert pick_t + SETTINGS.handover_s <= 300 < drop_t
    named = dataclasses.replace(SETTINGS, pickup_handover_s=60)
    early = build_tick_problem(snap, named, MATRICES).problem.vehicle_pickup_end
    assert early is not None and early.tolist() == [240, HORIZON_MAX, HORIZON_MAX]
    old_rule = p.replace(vehicle_pickup_end=None, vehicle_end_time=[300, 900, HORIZON_MAX])
    assert solve_regret_insertion(old_rule).routes[0] == ()


def test_a_pickups_last_safe_moment_comes_from_the_couriers_rides_not_a_technicians_car() -> None:
    """The pickup carries the promise's last moment for a direct ride: a ride by a
    courier's vehicle (here a bicycle), even when a technician on shift drives a car."""
    bike = _courier("w1", (0, 0), vehicle=Vehicle.BICYCLE)
    car = dataclasses.replace(
        _courier("t1", (0, 0), vehicle=Vehicle.CAR),
        kind=WorkerKind.TECHNICIAN,
        skills=frozenset({"cleaning"}),
    )
    order = _order("o1", offset(100, 0), offset(2500, 0))
    alone = build_tick_problem(_snapshot([bike], [order]), SETTINGS, MATRICES).problem
    both = build_tick_problem(_snapshot([bike, car], [order]), SETTINGS, MATRICES).problem
    assert alone.soft_deadline is not None and both.soft_deadline is not None
    assert both.soft_deadline.tolist() == alone.soft_deadline.tolist()
    p, d = (int(x) for x in alone.pairs[0])  # type: ignore[index]
    loc = alone.stop_location
    ride = int(alone.travel_time[0, loc[p], loc[d]]) + SETTINGS.pickup_service_s
    assert alone.soft_deadline[p] == max(0, int(order.promised_by - NOW) - ride)


def test_a_courier_that_finishes_its_rides_is_planned_from_the_counter_it_rides_to() -> None:
    """With ``rides_finish`` (the MDRP's couriers never turn round mid-ride), a courier whose
    committed route begins with a pickup it has not reached keeps that order and starts at
    that counter when it gets there; a courier at its counter and every other order stay
    free. Without it the courier is planned from where it is."""
    merchant, near = offset(1500, 0), offset(-200, 0)
    riding = _order("o1", merchant, offset(1500, 800), state=OrderState.ASSIGNED, worker_id="w1")
    other = _order("o2", near, offset(-200, 600))
    at_counter = _order("o3", near, offset(-200, -600), state=OrderState.ASSIGNED, worker_id="w2")
    plan = Plan(
        "c1",
        3,
        NOW - 60,
        {
            "w1": (PlannedStop(StopKind.PICKUP, "o1", merchant, NOW + 200, NOW + 200),),
            "w2": (PlannedStop(StopKind.PICKUP, "o3", near, NOW, NOW),),
        },
    )
    snap = _snapshot(
        [_courier("w1", (0, 0)), _courier("w2", (-200, 0))], [riding, other, at_counter], plan=plan
    )
    finish = dataclasses.replace(SETTINGS, rides_finish=True)
    free = build_tick_problem(snap, SETTINGS, MATRICES).problem
    tp = build_tick_problem(snap, finish, MATRICES)
    p = tp.problem
    pick = {s.entity_id: i for i, s in enumerate(tp.stops) if s.kind == StopKind.PICKUP}
    drop = {s.entity_id: i for i, s in enumerate(tp.stops) if s.kind == StopKind.DROPOFF}
    assert p.vehicle_start_time is not None and p.committed_vehicle is not None
    assert free.vehicle_start_time is not None and p.tw_end is not None
    ride = int(free.travel_time[0, 0, free.stop_location[pick["o1"]]])
    assert ride > 0
    assert p.vehicle_start.tolist() == [p.stop_location[pick["o1"]], 1]
    assert free.vehicle_start.tolist() == [0, 1]
    assert p.vehicle_start_time.tolist() == [ride, 0]
    assert p.committed_vehicle[pick["o1"]] == p.committed_vehicle[drop["o1"]] == 0
    assert p.committed_vehicle[pick["o3"]] == p.committed_vehicle[pick["o2"]] == NONE
    assert p.tw_end[pick["o1"]] == ride
    result = solve_regret_insertion(p, initial_routes=tp.initial_routes)
    assert check_routes(p, result).feasible
    assert result.routes[0][0] == pick["o1"] and result.start_times[0][0] == ride
    # reaching the counter after its last pickup: it still starts there, the order is free
    ending = dataclasses.replace(snap.workers[0], shift_end=NOW + ride // 2)
    late = build_tick_problem(
        dataclasses.replace(snap, workers=(ending, snap.workers[1])), finish, MATRICES
    ).problem
    assert late.committed_vehicle is not None and late.vehicle_start_time is not None
    assert late.vehicle_start.tolist() == p.vehicle_start.tolist()
    assert late.vehicle_start_time.tolist() == [ride, 0]
    assert late.committed_vehicle[pick["o1"]] == NONE
    assert check_routes(late, solve_regret_insertion(late)).feasible


def test_a_courier_that_finishes_its_pickup_service_rides_on_when_it_ends() -> None:
    """With ``rides_finish``, a courier handed its food (``picked_up``) a hand-over into the
    pickup service stays at the counter until the service ends; without it the tick plans
    the ride to the door from now."""
    on_board = _order(
        "o1",
        offset(0, 0),
        offset(900, 0),
        state=OrderState.PICKED_UP,
        worker_id="w1",
        picked_up_at=NOW - 60,
    )
    snap = _snapshot([_courier("w1", (0, 0)), _courier("w2", (50, 0))], [on_board])
    mdrp = dataclasses.replace(
        SETTINGS, pickup_service_s=240, pickup_handover_s=120, rides_finish=True
    )
    finish = build_tick_problem(snap, mdrp, MATRICES).problem
    free = build_tick_problem(snap, dataclasses.replace(mdrp, rides_finish=False), MATRICES).problem
    assert finish.vehicle_start_time is not None and free.vehicle_start_time is not None
    assert finish.vehicle_start_time.tolist() == [60, 0]  # 240 - 120 - 60 s still to serve
    assert free.vehicle_start_time.tolist() == [0, 0]
    result = solve_regret_insertion(finish)
    assert check_routes(finish, result).feasible and result.start_times[0][0] > 60


def test_a_courier_that_finishes_its_door_service_rides_on_when_it_ends() -> None:
    """With ``rides_finish``, a courier that handed over an order since the last plan stays
    at that door until the plan's drop-off service ends; an order still on board, or no
    ``rides_finish``, leaves the courier free now."""
    door = offset(900, 0)
    waiting = _order("o2", offset(0, 0), offset(0, 900))
    on_board = _order(
        "o3", offset(0, 0), offset(0, -900), state=OrderState.PICKED_UP, worker_id="w2"
    )
    plan = Plan(
        "c1",
        5,
        NOW - 120,
        {
            "w1": (PlannedStop(StopKind.DROPOFF, "o1", door, NOW - 60, NOW + 180),),
            "w2": (PlannedStop(StopKind.DROPOFF, "o3", door, NOW - 60, NOW + 180),),
        },
    )
    snap = _snapshot(
        [_courier("w1", (900, 0)), _courier("w2", (900, 0))], [waiting, on_board], plan=plan
    )
    finish = build_tick_problem(snap, dataclasses.replace(SETTINGS, rides_finish=True), MATRICES)
    free = build_tick_problem(snap, SETTINGS, MATRICES)
    assert finish.problem.vehicle_start_time is not None
    assert free.problem.vehicle_start_time is not None
    assert finish.problem.vehicle_start_time.tolist() == [180, 0]
    assert free.problem.vehicle_start_time.tolist() == [0, 0]
    result = solve_regret_insertion(finish.problem)
    assert check_routes(finish.problem, result).feasible
