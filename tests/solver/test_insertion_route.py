"""White-box: regret insertion's O(1) insertion prices against re-simulating every position.

The only test outside solver/ that imports a private solver module: the prices
steer every regret-insertion decision but no public call exposes them, and a
wrong price gives worse plans that every checker still accepts. It is the one
named exception in ``tests/test_structure.py``.
"""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings

from solver import solve_regret_insertion
from solver._insertion_route import INF, ProblemArrays, Route, simulate
from solver.problem import NONE, RoutingProblem
from tests.solver.factories import routing_problems


@settings(max_examples=80, deadline=None)
@given(routing_problems(max_stops=10, metric=True))
def test_insertion_costs_match_brute_force(problem: RoutingProblem) -> None:
    """Vectorised insertion prices equal re-simulating every position (routes of a plan)."""
    d = ProblemArrays(problem)
    plan = solve_regret_insertion(problem)
    partner = problem.partner()
    for v, stops in enumerate(plan.routes):
        route = Route(d, v, list(stops))
        if not route.feasible:
            continue
        base = simulate(d, v, list(stops)).cost
        others = [s for s in range(problem.num_stops) if s not in stops]
        singles = np.array([s for s in others if partner[s] == NONE], dtype=np.int64)
        if singles.size:
            cost, _ = route.insert_single(singles)
            for s, got in zip(singles.tolist(), cost.tolist(), strict=True):
                want = INF
                for i in range(len(stops) + 1):
                    sim = simulate(d, v, [*stops[:i], s, *stops[i:]])
                    if sim.violation == 0:
                        want = min(want, sim.cost - base)
                assert got == want
        pairs = [(a, b) for a, b in problem.pairs_list() if a in others]
        if pairs:
            cost, _, _ = route.insert_pair(
                np.array([a for a, _ in pairs]), np.array([b for _, b in pairs])
            )
            for (a, b), got in zip(pairs, cost.tolist(), strict=True):
                want = INF
                for i in range(len(stops) + 1):
                    for j in range(i, len(stops) + 1):
                        trial = [*stops[:j], b, *stops[j:]]
                        trial.insert(i, a)
                        sim = simulate(d, v, trial)
                        if sim.violation == 0:
                            want = min(want, sim.cost - base)
                assert got == want
