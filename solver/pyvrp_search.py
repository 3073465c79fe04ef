"""PyVRP's iterated local search as a portfolio member, for problems it expresses exactly.

PyVRP (granular relocate/exchange/2-opt*/SWAP* moves with penalised time-window
and load violations) is far stronger than OR-Tools on long routes within a
couple of seconds: on the public Solomon and Li & Lim sets at 2 s it reaches a
fraction of our OR-Tools portfolio's gap. It only sees hard constraints,
distance costs and prizes, so it serves cold solves of closed-route problems
without soft deadlines, vehicle restrictions, commitments, trip groups or
pickup deadlines; everything else keeps the OR-Tools members.

Every improving feasible plan is streamed to the caller as it is found, so a
search stopped at the hard deadline still contributes its best plan.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt

from solver.problem import NONE, RoutingProblem

__all__ = ["PYVRP", "PyvrpModel", "preload", "pseudo_coordinates", "pyvrp_applies", "solve_pyvrp"]

PYVRP = "pyvrp"
Routes = list[list[int]]
#: Most locations for which coordinates are recovered from the cost matrix (its
#: L x L doubly-centred square); beyond it every location sits at the origin.
_MDS_MAX_LOCATIONS = 3000
#: Least time between two plans streamed to the caller (the first is sent at once).
_STREAM_EVERY_S = 0.05


def pyvrp_applies(problem: RoutingProblem) -> bool:
    """Whether PyVRP's model holds this problem exactly (same plans feasible, same costs).

    Closed routes and free self loops only; no soft deadlines, vehicle restrictions,
    commitments, churn wishes, trip groups, pickup deadlines or load on board at the
    start; loads only rise at unpaired stops, and a pair carries its pickup's load to
    its delivery.
    """
    p = problem
    assert p.vehicle_end is not None and p.committed_vehicle is not None
    assert p.churn_penalty is not None and p.vehicle_initial_load is not None
    assert p.demand is not None
    if p.num_stops == 0 or p.num_vehicles == 0 or not p.only_plain_rules():
        return False
    assert p.travel_cost is not None
    if np.any(np.diagonal(p.travel_cost)) or np.any(np.diagonal(p.travel_time, axis1=1, axis2=2)):
        return False  # PyVRP charges nothing for staying put
    if np.any(p.vehicle_end == NONE) or np.any(p.committed_vehicle != NONE):
        return False
    if np.any(p.churn_penalty > 0) or np.any(p.vehicle_initial_load != 0):
        return False
    if p.allowed_vehicles is not None and any(a is not None for a in p.allowed_vehicles):
        return False
    paired = np.zeros(p.num_stops, dtype=bool)
    if p.pairs is not None and p.pairs.size:
        pick, drop = p.pairs[:, 0], p.pairs[:, 1]
        paired[pick] = paired[drop] = True
        if np.any(p.demand[pick] < 0) or np.any(p.demand[drop] != -p.demand[pick]):
            return False
    return not bool(np.any(p.demand[~paired] < 0))


def preload() -> None:
    """Import PyVRP here, once, so that searches forked from this process skip the import."""
    import pyvrp  # noqa: F401


def pseudo_coordinates(cost: npt.NDArray[np.int64]) -> npt.NDArray[np.float64]:
    """Planar coordinates whose distances approximate the (symmetrised) cost matrix.

    Classical multidimensional scaling (the two leading eigenvectors, found
    iteratively: tenths of a second at 3 000 locations): exact for Euclidean
    instances, a fair picture of road networks. PyVRP uses coordinates only to
    skip route pairs whose sectors do not overlap in SWAP*; the costs it
    optimises are the matrix's. Every location sits at the origin when the
    matrix is too large or the iteration does not settle (SWAP* then tries
    every pair of routes).
    """
    from scipy.sparse.linalg import ArpackError, eigsh

    n = cost.shape[0]
    if n < 3 or n > _MDS_MAX_LOCATIONS:
        return np.zeros((n, 2))
    d = (cost.astype(np.float64) + cost.T.astype(np.float64)) / 2.0
    sq = d * d
    centred = sq - sq.mean(axis=0) - sq.mean(axis=1)[:, None] + sq.mean()
    try:
        vals, vecs = eigsh(-0.5 * centred, k=2, which="LA")
    except ArpackError:
        return np.zeros((n, 2))
    return vecs * np.sqrt(np.clip(vals, 0.0, None))  # type: ignore[no-any-return]


class PyvrpModel:
    """A RoutingProblem as PyVRP's ProblemData, with the maps back to stops and vehicles."""

    def __init__(self, problem: RoutingProblem) -> None:
        import pyvrp

        p = problem
        assert p.travel_cost is not None and p.service_time is not None
        assert p.tw_start is not None and p.tw_end is not None and p.drop_penalty is not None
        assert p.demand is not None and p.capacity is not None and p.vehicle_end is not None
        assert p.vehicle_start_time is not None and p.vehicle_end_time is not None
        assert p.vehicle_fixed_cost is not None and p.vehicle_profile is not None
        xy = pseudo_coordinates(p.travel_cost)
        locations = [pyvrp.Location(x=float(x), y=float(y)) for x, y in xy]
        depot_of: dict[int, int] = {}
        for loc in (*p.vehicle_start.tolist(), *p.vehicle_end.tolist()):
            depot_of.setdefault(int(loc), len(depot_of))
        depots = [pyvrp.Depot(location=loc) for loc in depot_of]

        type_of: dict[tuple[int, ...], list[int]] = {}
        for v in range(p.num_vehicles):
            key = (
                depot_of[int(p.vehicle_start[v])],
                depot_of[int(p.vehicle_end[v])],
                int(p.vehicle_start_time[v]),
                int(p.vehicle_end_time[v]),
                int(p.vehicle_fixed_cost[v]),
                int(p.vehicle_profile[v]),
                *p.capacity[v].tolist(),
            )
            type_of.setdefault(key, []).append(v)
        self.vehicles_of_type = list(type_of.values())
        vehicle_types = [
            pyvrp.VehicleType(
                num_available=len(vs),
                capacity=list(key[6:]),
                start_depot=key[0],
                end_depot=key[1],
                tw_early=key[2],
                tw_late=key[3],
                fixed_cost=key[4],
                profile=key[5],
            )
            for key, vs in type_of.items()
        ]

        penalty = p.drop_penalty

        def required(*stops: int) -> bool:
            return any(bool(penalty[s] == NONE) for s in stops)

        def prize(*stops: int) -> int:
            """What leaving the stops out costs (a pair is left out whole)."""
            return 0 if required(*stops) else sum(int(penalty[s]) for s in stops)

        paired: set[int] = set()
        self.shipments: list[tuple[int, int]] = []
        shipments = []
        for pick, drop in p.pairs_list():
            paired.update((pick, drop))
            self.shipments.append((pick, drop))
            shipments.append(
                pyvrp.Shipment(
                    pickup_location=int(p.stop_location[pick]),
                    delivery_location=int(p.stop_location[drop]),
                    pickup_tw_early=int(p.tw_start[pick]),
                    pickup_tw_late=int(p.tw_end[pick]),
                    pickup_service_duration=int(p.service_time[pick]),
                    delivery_tw_early=int(p.tw_start[drop]),
                    delivery_tw_late=int(p.tw_end[drop]),
                    delivery_service_duration=int(p.service_time[drop]),
                    amount=p.demand[pick].tolist(),
                    prize=prize(pick, drop),
                    required=required(pick, drop),
                )
            )
        self.clients = [s for s in range(p.num_stops) if s not in paired]
        clients = [
            pyvrp.Client(
                location=int(p.stop_location[s]),
                pickup=p.demand[s].tolist(),
                service_duration=int(p.service_time[s]),
                tw_early=int(p.tw_start[s]),
                tw_late=int(p.tw_end[s]),
                prize=prize(s),
                required=required(s),
            )
            for s in self.clients
        ]
        cost: Any = np.ascontiguousarray(p.travel_cost, dtype=np.int64)
        durations: list[Any] = [np.ascontiguousarray(m) for m in p.travel_time]
        self.data = pyvrp.ProblemData(
            locations=locations,
            clients=clients,
            depots=depots,
            vehicle_types=vehicle_types,
            distance_matrices=[cost] * len(durations),
            duration_matrices=durations,
            shipments=shipments,
        )
        self.num_vehicles = p.num_vehicles

    def routes(self, solution: object) -> Routes:
        """A PyVRP solution as one stop list per vehicle of the problem."""
        out: Routes = [[] for _ in range(self.num_vehicles)]
        free = [list(vs) for vs in self.vehicles_of_type]
        for route in solution.routes():  # type: ignore[attr-defined]
            stops: list[int] = []
            for act in route.schedule():
                if act.is_client():
                    stops.append(self.clients[act.idx])
                elif act.is_pickup():
                    stops.append(self.shipments[act.idx][0])
                elif act.is_delivery():
                    stops.append(self.shipments[act.idx][1])
            if stops:
                out[free[route.vehicle_type()].pop(0)] = stops
        return out


def solve_pyvrp(
    problem: RoutingProblem,
    deadline: float,
    send: Callable[[Routes], None],
    *,
    seed: int = 0,
) -> str:
    """Search until ``deadline`` (perf_counter time), streaming each better feasible plan.

    Returns a status note. The last plan is sent before returning.
    """
    import pyvrp
    from pyvrp.exceptions import PenaltyBoundWarning
    from pyvrp.stop import MaxRuntime

    model = PyvrpModel(problem)
    left = deadline - time.perf_counter()
    if left <= 0.01:
        return "no time left for PyVRP"
    streamed = _Stream(model, send)
    ils = pyvrp.IteratedLocalSearchParams(callbacks=streamed)  # type: ignore[arg-type]
    params = pyvrp.SolveParams(ils=ils)
    with warnings.catch_warnings():
        # "a penalty reached its maximum": PyVRP finds no feasible plan, which the
        # note below reports and the portfolio's other members cover
        warnings.simplefilter("ignore", PenaltyBoundWarning)
        result = pyvrp.solve(
            model.data, stop=MaxRuntime(left), seed=seed, collect_stats=False, params=params
        )
    streamed.flush(result.best)
    return f"{result.num_iterations} iterations" if result.is_feasible() else "no feasible plan"


class _Stream:
    """ILS callbacks that send improving feasible plans, at most one per interval."""

    def __init__(self, model: PyvrpModel, send: Callable[[Routes], None]) -> None:
        self._model = model
        self._send = send
        self._last_sent = -float("inf")
        self._pending: object | None = None
        self._sent: object | None = None

    def on_start(self, ils: object) -> None:
        """Nothing to do when the search starts."""

    def on_restart(self, best: object) -> None:
        """Nothing to do on a restart: the best plan is kept."""

    def on_end(self, result: object) -> None:
        """Nothing to do here: ``flush`` sends the final plan."""

    def on_best(self, best: object) -> None:
        if not best.is_feasible():  # type: ignore[attr-defined]
            return
        self._pending = best
        now = time.perf_counter()
        if now - self._last_sent >= _STREAM_EVERY_S:
            self._emit(now)

    def on_iteration(self, *args: object) -> None:
        if self._pending is not None:
            now = time.perf_counter()
            if now - self._last_sent >= _STREAM_EVERY_S:
                self._emit(now)

    def flush(self, best: object) -> None:
        """Send the final best plan unless it is the one sent last."""
        if best.is_feasible() and best is not self._sent:  # type: ignore[attr-defined]
            self._pending = best
            self._emit(time.perf_counter())

    def _emit(self, now: float) -> None:
        assert self._pending is not None
        self._send(self._model.routes(self._pending))
        self._sent, self._pending, self._last_sent = self._pending, None, now
