"""One group per trip (e.g. one merchant per trip): problem rules, checker, both solvers."""

from __future__ import annotations

import numpy as np
import pytest

from solver.checker import check_routes
from solver.problem import NONE, InvalidProblem, RoutingProblem
from solver.regret_insertion import solve_regret_insertion
from solver.routing import RoutingParams, solve_routing

INLINE = RoutingParams(isolate=False, use_vroom=False)


def _matrix(points: np.ndarray) -> np.ndarray:
    diff = points[:, None, :] - points[None, :, :]
    return np.rint(np.hypot(diff[..., 0], diff[..., 1])).astype(np.int64)


def _community(seed: int, *, grouped: bool = True, on_board: bool = True) -> RoutingProblem:
    """Orders from a few merchants, three couriers; courier 0 carries one order already."""
    rng = np.random.default_rng(seed)
    merchants, orders, vehicles = 4, 10, 3
    points = np.vstack(
        [
            rng.uniform(0, 3000, (vehicles, 2)),
            rng.uniform(500, 1500, (merchants, 2)),
            rng.uniform(0, 3000, (orders, 2)),
        ]
    )
    of = rng.integers(0, merchants, orders)
    loc, group, pairs, demand = [], [], [], []
    for i in range(orders):
        pairs.append((len(loc), len(loc) + 1))
        loc += [vehicles + int(of[i]), vehicles + merchants + i]
        group += [int(of[i])] * 2
        demand += [1, -1]
    committed = [NONE] * len(loc)
    initial = np.zeros((vehicles, 1), dtype=np.int64)
    if on_board:
        loc.append(vehicles + merchants)
        group.append(int(of[0]))
        demand.append(-1)
        committed.append(0)
        initial[0, 0] = 1
    n = len(loc)
    return RoutingProblem(
        travel_time=_matrix(points),
        stop_location=np.array(loc),
        vehicle_start=np.arange(vehicles),
        pairs=np.array(pairs),
        demand=np.array(demand),
        capacity=np.full((vehicles, 1), 3),
        vehicle_initial_load=initial,
        committed_vehicle=np.array(committed),
        soft_deadline=np.where(np.array(demand) < 0, 0, NONE),
        lateness_weight=np.where(np.array(demand) < 0, 2, 0),
        drop_penalty=np.array([1_000_000] * (2 * orders) + [NONE] * (n - 2 * orders)),
        trip_group=np.array(group) if grouped else None,
    )


def _two_merchants() -> RoutingProblem:
    """Merchants A and B 20 m apart, homes far away: bundling across them is shortest."""
    points = np.array([[0, 0], [100, 0], [120, 0], [1000, 0], [1100, 0]])
    return RoutingProblem(
        travel_time=_matrix(points),
        stop_location=np.array([1, 3, 2, 4]),
        vehicle_start=np.array([0]),
        pairs=np.array([[0, 1], [2, 3]]),
        demand=np.array([1, -1, 1, -1]),
        capacity=np.array([[3]]),
        trip_group=np.array([0, 0, 1, 1]),
    )


def test_checker_flags_a_pickup_with_another_group_on_board() -> None:
    p = _two_merchants()
    report = check_routes(p, [[0, 2, 1, 3]])
    assert not report.feasible
    assert any("trip group 1" in v for v in report.violations)
    assert check_routes(p, [[0, 1, 2, 3]]).feasible


def test_checker_counts_orders_on_board_from_the_start() -> None:
    p = _community(0)
    lone = p.num_stops - 1
    group = p.trip_group
    assert group is not None
    other = next(s for s, _ in p.pairs_list() if group[s] != group[lone])
    partner = int(p.partner()[other])
    assert not check_routes(p, [[other, partner, lone], [], []]).feasible
    assert check_routes(p, [[lone, other, partner], [], []]).feasible


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"trip_group": np.array([0, 1, 1, 1])}, "two different trip groups"),
        ({"trip_group": np.array([-5, -5, 1, 1])}, "trip_group must be NONE"),
    ],
)
def test_bad_trip_groups_are_refused(change: dict[str, np.ndarray], message: str) -> None:
    p = _two_merchants()
    fields = {
        "travel_time": p.travel_time,
        "stop_location": p.stop_location,
        "vehicle_start": p.vehicle_start,
        "pairs": p.pairs,
        "demand": p.demand,
        "capacity": p.capacity,
    }
    with pytest.raises(InvalidProblem, match=message):
        RoutingProblem(**fields, **change)  # type: ignore[arg-type]


def test_a_grouped_stop_without_a_pair_must_be_an_on_board_delivery() -> None:
    with pytest.raises(InvalidProblem, match="no pair"):
        RoutingProblem(
            travel_time=np.zeros((2, 2), dtype=np.int64),
            stop_location=np.array([1]),
            vehicle_start=np.array([0]),
            trip_group=np.array([3]),
        )


def test_both_solvers_keep_the_rule_where_bundling_across_merchants_is_shortest() -> None:
    p = _two_merchants()
    for result in (solve_regret_insertion(p), solve_routing(p, 0.5, params=INLINE)):
        report = check_routes(p, result)
        assert report.feasible, report.violations
        assert not result.dropped


@pytest.mark.parametrize("seed", range(6))
def test_random_communities_give_plans_the_checker_accepts(seed: int) -> None:
    """Regret insertion, in-process OR-Tools and the portfolio all keep one group per trip."""
    p = _community(seed)
    results = [
        solve_regret_insertion(p),
        solve_routing(p, 0.4, params=INLINE),
        solve_routing(p, 0.4, params=RoutingParams(use_vroom=False)),
    ]
    for result in results:
        report = check_routes(p, result)
        assert report.feasible, report.violations
        assert p.drop_penalty is not None
        assert not [s for s in result.dropped if p.drop_penalty[s] == NONE]


def test_the_rule_binds() -> None:
    """Without trip groups the solver bundles across merchants on these communities, so the
    tests above do exercise the rule."""
    broken = 0
    for seed in range(6):
        free = _community(seed, grouped=False)
        plan = solve_routing(free, 0.3, params=INLINE)
        broken += not check_routes(_community(seed), plan.routes).feasible
    assert broken >= 3
