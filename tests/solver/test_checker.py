"""The independent checker on hand-checkable problems (stops on a line, depot at 0)."""

from __future__ import annotations

import numpy as np

from solver.checker import check_routes, schedule
from solver.problem import NONE
from solver.result import RoutingResult, SolveStatus
from tests.solver.factories import line_problem


def _has(report_violations: tuple[str, ...], text: str) -> bool:
    return any(text in v for v in report_violations)


def _result(routes: list[list[int]], starts: list[list[int]], **kw: object) -> RoutingResult:
    fields: dict[str, object] = {
        "routes": tuple(tuple(r) for r in routes),
        "start_times": tuple(tuple(t) for t in starts),
        "dropped": (),
        "objective": 40,
        "travel_cost": 40,
        "lateness": 0,
        "status": SolveStatus.FEASIBLE,
        "solve_time_s": 0.0,
        "backend": "test",
    }
    fields.update(kw)
    return RoutingResult(**fields)  # type: ignore[arg-type]


def test_feasible_plan_costs_the_round_trip() -> None:
    """A plan that breaks no rule is feasible and costs its driven arcs."""
    p = line_problem([10, 20])
    report = check_routes(p, [[0, 1]])
    assert report.feasible, report.violations
    assert report.travel_cost == 40
    assert report.objective == 40
    assert schedule(p, 0, [0, 1]) == [10, 20]


def test_waiting_for_a_window_delays_later_stops() -> None:
    """Service starts at max(arrival, window start) and later stops shift with it."""
    p = line_problem([10, 20], tw_start=[30, 0], service_time=[5, 0])
    assert schedule(p, 0, [0, 1]) == [30, 45]
    assert check_routes(p, [[0, 1]]).feasible


def test_window_violation_is_detected() -> None:
    """Arriving after a hard window closes is a violation."""
    p = line_problem([10, 20], tw_end=[100, 15])
    report = check_routes(p, [[0, 1]])
    assert not report.feasible
    assert _has(report.violations, "after its window ends 15")


def test_capacity_overflow_is_detected() -> None:
    """The load after a stop may not exceed the capacity."""
    p = line_problem([10, 20], demand=[3, 3], capacity=[5])
    report = check_routes(p, [[0, 1]])
    assert _has(report.violations, "carries 6")
    assert check_routes(p.replace(capacity=[6]), [[0, 1]]).feasible


def test_capacity_counts_the_initial_load_in_every_dimension() -> None:
    """Initial load counts, and each dimension is checked on its own."""
    p = line_problem(
        [10],
        demand=[[2, 0]],
        capacity=[[5, 5]],
        vehicle_initial_load=[[4, 1]],
    )
    assert _has(check_routes(p, [[0]]).violations, "dimension 0")
    q = line_problem([10], demand=[[0, -2]], capacity=[[5, 5]], vehicle_initial_load=[[0, 1]])
    report = check_routes(q, [[0]])
    assert _has(report.violations, "carries -1")
    assert _has(report.violations, "dimension 1")


def test_delivery_before_pickup_is_detected() -> None:
    """A pair's delivery may not come before its pickup."""
    p = line_problem([10, 20], pairs=[[0, 1]], demand=[1, -1])
    assert check_routes(p, [[0, 1]]).feasible
    report = check_routes(p, [[1, 0]])
    assert _has(report.violations, "delivery comes before pickup")


def test_split_and_half_served_pairs_are_detected() -> None:
    """Both stops of a pair ride one vehicle and are dropped together."""
    p = line_problem([10, 20], vehicles=2, pairs=[[0, 1]], demand=[1, -1], drop_penalty=[50, 50])
    assert _has(check_routes(p, [[0], [1]]).violations, "split over vehicles 0 and 1")
    assert _has(check_routes(p, [[0], []]).violations, "half served")
    both_dropped = check_routes(p, [[], []])
    assert both_dropped.feasible
    assert both_dropped.objective == 100


def test_skills_restrict_vehicles() -> None:
    """A stop may only ride a vehicle in its allowed set."""
    p = line_problem([10, 20], vehicles=2, allowed_vehicles=(frozenset({1}), None))
    report = check_routes(p, [[0, 1], []])
    assert _has(report.violations, "vehicle 0 is not allowed to serve stop 0")
    assert check_routes(p, [[1], [0]]).feasible


def test_committed_stops_stay_on_their_vehicle() -> None:
    """A committed stop must be served, and by its own vehicle."""
    p = line_problem([10, 20], vehicles=2, committed_vehicle=[1, NONE], drop_penalty=[5, 5])
    assert _has(check_routes(p, [[0, 1], []]).violations, "committed to vehicle 1")
    assert _has(check_routes(p, [[1], []]).violations, "is not served")
    assert check_routes(p, [[], [0]]).feasible


def test_duplicates_and_unknown_stops_are_detected() -> None:
    """Each stop appears at most once; indices must exist."""
    p = line_problem([10, 20], vehicles=2)
    assert _has(check_routes(p, [[0, 0, 1], []]).violations, "more than once")
    assert _has(check_routes(p, [[0], [0, 1]]).violations, "more than once")
    assert _has(check_routes(p, [[0, 1, 7], []]).violations, "unknown stop 7")
    assert _has(check_routes(p, [[0], [1], [2]]).violations, "3 routes for 2 vehicles")


def test_mandatory_stops_cannot_be_dropped() -> None:
    """An unserved stop without a drop penalty is a violation; one with a penalty costs it."""
    p = line_problem([10, 20])
    assert _has(check_routes(p, [[0]]).violations, "mandatory stop 1")
    q = line_problem([10, 20], drop_penalty=[NONE, 7])
    report = check_routes(q, [[0]])
    assert report.feasible
    assert report.objective == 20 + 7


def test_closed_route_must_return_by_shift_end() -> None:
    """A closed route's arrival back at its end location counts against the shift."""
    p = line_problem([10, 20], vehicle_end_time=[39])
    assert _has(check_routes(p, [[0, 1]]).violations, "reaches its end at 40")
    assert check_routes(p.replace(vehicle_end_time=[40]), [[0, 1]]).feasible


def test_open_route_ends_at_its_last_departure() -> None:
    """An open route ends after the last service, with no arc back and no return cost."""
    p = line_problem([10, 20], open_routes=True, service_time=[0, 3], vehicle_end_time=[22])
    assert _has(check_routes(p, [[0, 1]]).violations, "finishes at 23")
    report = check_routes(p.replace(vehicle_end_time=[23]), [[0, 1]])
    assert report.feasible
    assert report.travel_cost == 20


def test_objective_sums_lateness_fixed_cost_and_churn() -> None:
    """Objective = travel + weighted lateness + fixed costs + churn + drops."""
    p = line_problem(
        [10, 20],
        vehicles=2,
        soft_deadline=[5, NONE],
        lateness_weight=[3, 0],
        vehicle_fixed_cost=[100, 1000],
        preferred_vehicle=[1, NONE],
        churn_penalty=[11, 0],
    )
    report = check_routes(p, [[0, 1], []])
    assert report.feasible
    assert report.lateness == 5
    assert report.objective == 40 + 3 * 5 + 100 + 11


def test_claimed_result_fields_are_checked() -> None:
    """Dropped lists, start times and under-claimed objectives of a result are checked."""
    p = line_problem([10, 20], drop_penalty=[NONE, 9])
    good = _result([[0, 1]], [[10, 20]])
    assert check_routes(p, good).feasible
    assert check_routes(p, _result([[0, 1]], [[10, 20]], objective=41)).feasible
    assert _has(check_routes(p, _result([[0, 1]], [[10, 20]], objective=39)).violations, "below")
    assert _has(check_routes(p, _result([[0, 1]], [[10, 21]])).violations, "start times")
    wrong_drop = _result([[0, 1]], [[10, 20]], dropped=(1,))
    assert _has(check_routes(p, wrong_drop).violations, "routed and dropped")
    missing = _result([[0]], [[10]], objective=29)
    assert _has(check_routes(p, missing).violations, "differs from the stops left unrouted")


def test_per_vehicle_travel_profiles_are_used() -> None:
    """Each vehicle travels with its own profile's matrix."""
    base = np.abs(np.arange(3)[:, None] - np.arange(3)[None, :]) * 10
    p = line_problem(
        [10, 20],
        vehicles=2,
        travel_time=np.stack([base, base * 2]),
        vehicle_profile=[0, 1],
        tw_end=[15, 1000],
    )
    assert check_routes(p, [[0, 1], []]).feasible
    assert schedule(p, 1, [0, 1]) == [20, 40]
    assert _has(check_routes(p, [[], [0, 1]]).violations, "after its window ends 15")
