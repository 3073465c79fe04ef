"""The OR-Tools routing back-end: a RoutingProblem becomes a pywrapcp model.

Node layout inside the model: stops 0..N-1 keep their indices, then each
vehicle v has a start node N+2v and an end node N+2v+1. Open routes end at
their end node with zero cost and time. Matrices are registered with
``RegisterTransitMatrix`` (no Python callbacks in the search loop).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from ortools.constraint_solver import pywrapcp, routing_enums_pb2

from solver.problem import HORIZON_MAX, NONE, RoutingProblem
from solver.specs import SearchSpec

TIME = "time"
CHURN = "churn"
LOAD_PREFIX = "load"

_FIRST = routing_enums_pb2.FirstSolutionStrategy
_META = routing_enums_pb2.LocalSearchMetaheuristic

#: OR-Tools statuses that carry a solution.
_SOLVED = {1, 2, 7}  # SUCCESS, PARTIAL_SUCCESS (local optimum not reached), OPTIMAL
_NOT_SOLVED = 0


@dataclass(frozen=True)
class OrToolsOutcome:
    routes: list[list[int]] | None
    status_code: int
    message: str


class _Model:
    """A built model plus the maps between stops and OR-Tools indices."""

    def __init__(self, problem: RoutingProblem) -> None:
        p = problem
        assert p.service_time is not None and p.tw_start is not None and p.tw_end is not None
        assert p.vehicle_end is not None and p.travel_cost is not None
        n, v = p.num_stops, p.num_vehicles
        self.problem = p
        self.n = n
        size = n + 2 * v
        starts = [n + 2 * k for k in range(v)]
        ends = [n + 2 * k + 1 for k in range(v)]
        self.manager = pywrapcp.RoutingIndexManager(size, v, starts, ends)
        self.routing = pywrapcp.RoutingModel(self.manager)
        _m, r = self.manager, self.routing

        # Location of every model node; open ends get -1 (a free sink).
        loc = np.empty(size, dtype=np.int64)
        loc[:n] = p.stop_location
        loc[starts] = p.vehicle_start
        loc[ends] = p.vehicle_end
        open_end = np.zeros(size, dtype=bool)
        open_end[ends] = p.vehicle_end == NONE
        safe = np.where(loc < 0, 0, loc)
        # RegisterTransitMatrix and RegisterUnaryTransitVector are indexed by
        # node (the manager maps routing indices to nodes), so no reordering.
        self.order = np.arange(size)
        order = self.order

        def node_matrix(base: np.ndarray, add_service: bool) -> list[list[int]]:
            mat = base[np.ix_(safe[order], safe[order])].copy()
            into_open = open_end[order]
            mat[:, into_open] = 0
            if add_service:
                assert p.service_time is not None
                svc = np.zeros(size, dtype=np.int64)
                svc[:n] = p.service_time
                mat += svc[order][:, None]
            np.fill_diagonal(mat, 0)
            return mat.tolist()  # type: ignore[no-any-return]

        assert p.travel_cost is not None and p.vehicle_end_time is not None
        cost_index = r.RegisterTransitMatrix(node_matrix(p.travel_cost, False))
        r.SetArcCostEvaluatorOfAllVehicles(cost_index)

        horizon = int(
            min(
                HORIZON_MAX,
                max(int(np.max(p.vehicle_end_time)), int(np.max(p.tw_end, initial=0))),
            )
        )
        self.horizon = horizon
        profile_index = [
            r.RegisterTransitMatrix(node_matrix(p.travel_time[k], True))
            for k in range(p.travel_time.shape[0])
        ]
        vehicle_eval = [profile_index[int(k)] for k in p.vehicle_profile]  # type: ignore[union-attr]
        r.AddDimensionWithVehicleTransitAndCapacity(
            vehicle_eval, horizon, [horizon] * v, False, TIME
        )
        self.time = r.GetDimensionOrDie(TIME)
        self._add_windows()
        self._add_pickup_deadlines()
        self._add_loads()
        self._add_pairs_and_vehicles()
        self._add_churn()
        self._add_trip_groups()
        for k in range(v):
            fc = int(p.vehicle_fixed_cost[k])  # type: ignore[index]
            if fc:
                r.SetFixedCostOfVehicle(fc, k)

    def index(self, stop: int) -> int:
        return int(self.manager.NodeToIndex(stop))

    def _add_windows(self) -> None:
        p, r, t = self.problem, self.routing, self.time
        assert p.tw_start is not None and p.tw_end is not None
        assert p.soft_deadline is not None and p.lateness_weight is not None
        for s in range(self.n):
            lo, hi = int(p.tw_start[s]), min(int(p.tw_end[s]), self.horizon)
            t.CumulVar(self.index(s)).SetRange(lo, hi)
            dl = int(p.soft_deadline[s])
            if dl != NONE and p.lateness_weight[s] > 0:
                t.SetCumulVarSoftUpperBound(self.index(s), dl, int(p.lateness_weight[s]))
        # Late fees (one-off steps) have no cumul form: OR-Tools searches without them,
        # and its plans are priced with them by ``evaluate`` like every other member's.
        assert p.vehicle_start_time is not None and p.vehicle_end_time is not None
        for k in range(p.num_vehicles):
            end_time = min(int(p.vehicle_end_time[k]), self.horizon)
            t.CumulVar(r.Start(k)).SetRange(int(p.vehicle_start_time[k]), end_time)
            t.CumulVar(r.End(k)).SetMax(end_time)

    def _add_pickup_deadlines(self) -> None:
        """Per-vehicle pickup deadlines, exact: on vehicle k a pickup starts by k's deadline.

        Per pickup and per deadline value d that binds it (below its own window end)
        among its allowed vehicles: "the pickup rides one of the vehicles with
        deadline d" implies "its time cumul is at most d" (two reified booleans; an
        element constraint over the vehicle variable would build a domain as wide as
        the horizon, which OR-Tools refuses past 2^32).
        """
        p, r, t = self.problem, self.routing, self.time
        assert p.vehicle_pickup_end is not None and p.tw_end is not None
        if not p.has_pickup_deadlines():
            return
        solver = r.solver()
        ends = [int(x) for x in p.vehicle_pickup_end]
        for pick, _deliv in p.pairs_list():
            hi = min(int(p.tw_end[pick]), self.horizon)
            binding: dict[int, list[int]] = {}
            for k in range(p.num_vehicles):
                if ends[k] < hi and p.vehicle_may_serve(k, pick):
                    binding.setdefault(ends[k], []).append(k)
            if not binding:
                continue
            i = self.index(pick)
            vehicle, cumul = r.VehicleVar(i), t.CumulVar(i)
            for deadline, vehicles in binding.items():
                on_one = solver.IsMemberVar(vehicle, vehicles)
                solver.Add(on_one <= solver.IsLessOrEqualCstVar(cumul, deadline))

    def _add_loads(self) -> None:
        p, r = self.problem, self.routing
        assert p.demand is not None and p.capacity is not None
        assert p.vehicle_initial_load is not None
        size = self.n + 2 * p.num_vehicles
        if not np.any(p.demand) and not np.any(p.vehicle_initial_load):
            return
        for d in range(p.num_dimensions):
            vec = np.zeros(size, dtype=np.int64)
            vec[: self.n] = p.demand[:, d]
            idx = r.RegisterUnaryTransitVector(vec[self.order].tolist())
            name = f"{LOAD_PREFIX}{d}"
            caps = [int(c) for c in p.capacity[:, d]]
            r.AddDimensionWithVehicleCapacity(idx, 0, caps, False, name)
            dim = r.GetDimensionOrDie(name)
            for k in range(p.num_vehicles):
                dim.CumulVar(r.Start(k)).SetValue(int(p.vehicle_initial_load[k, d]))

    def _add_pairs_and_vehicles(self) -> None:
        p, r = self.problem, self.routing
        assert p.drop_penalty is not None and p.committed_vehicle is not None
        solver = r.solver()
        paired: set[int] = set()
        for pick, deliv in p.pairs_list():
            pi, di = self.index(pick), self.index(deliv)
            r.AddPickupAndDelivery(pi, di)
            solver.Add(r.VehicleVar(pi) == r.VehicleVar(di))
            solver.Add(self.time.CumulVar(pi) <= self.time.CumulVar(di))
            paired.update((pick, deliv))
            mandatory = (
                p.drop_penalty[pick] == NONE
                or p.drop_penalty[deliv] == NONE
                or p.committed_vehicle[pick] != NONE
            )
            if not mandatory:
                penalty = int(p.drop_penalty[pick]) + int(p.drop_penalty[deliv])
                r.AddDisjunction([pi, di], penalty, 2)
        for s in range(self.n):
            if s in paired:
                continue
            if p.drop_penalty[s] != NONE and p.committed_vehicle[s] == NONE:
                r.AddDisjunction([self.index(s)], int(p.drop_penalty[s]))
        for s in range(self.n):
            allowed = [k for k in range(p.num_vehicles) if p.vehicle_may_serve(k, s)]
            if len(allowed) < p.num_vehicles:
                # SetAllowedVehiclesForIndex rejects Python lists in the 9.15 wheel
                # (a SWIG Span typemap); restricting VehicleVar is equivalent.
                # -1 keeps "unperformed" possible for optional stops.
                r.VehicleVar(self.index(s)).SetValues([-1, *allowed])

    def _add_churn(self) -> None:
        p, r = self.problem, self.routing
        assert p.preferred_vehicle is not None and p.churn_penalty is not None
        mask = (p.preferred_vehicle != NONE) & (p.churn_penalty > 0)
        if not np.any(mask):
            return
        size = self.n + 2 * p.num_vehicles
        base = np.zeros(size, dtype=np.int64)
        base[: self.n] = np.where(mask, p.churn_penalty, 0)
        shared = r.RegisterUnaryTransitVector(base[self.order].tolist())
        per_vehicle = []
        for k in range(p.num_vehicles):
            mine = mask & (p.preferred_vehicle == k)
            if not np.any(mine):
                per_vehicle.append(shared)
                continue
            vec = base.copy()
            vec[: self.n][mine] = 0
            per_vehicle.append(r.RegisterUnaryTransitVector(vec[self.order].tolist()))
        total = int(base.sum())
        r.AddDimensionWithVehicleTransitAndCapacity(
            per_vehicle, 0, [total] * p.num_vehicles, True, CHURN
        )
        dim = r.GetDimensionOrDie(CHURN)
        for k in range(p.num_vehicles):
            dim.SetCumulVarSoftUpperBound(r.End(k), 0, 1)

    def _add_trip_groups(self) -> None:
        """One group per trip, as cumul constraints at grouped pickups.

        Three running sums over the grouped orders on board: their count, the sum
        of (group + 1) and the sum of its square. At a pickup of group g every
        order on board belongs to g exactly when sum = (g + 1) * count and
        sum of squares = (g + 1)^2 * count (equality in Cauchy-Schwarz).
        """
        p, r = self.problem, self.routing
        assert p.trip_group is not None and p.committed_vehicle is not None
        grouped = p.trip_group != NONE
        if not np.any(grouped):
            return
        sign = np.where(p.is_pickup(), 1, -1) * grouped
        key = np.where(grouped, p.trip_group + 1, 0)
        lone = grouped & (p.partner() == NONE)
        size = self.n + 2 * p.num_vehicles
        dims = []
        for name, per_stop in (
            ("trip_count", sign),
            ("trip_sum", sign * key),
            ("trip_square", sign * key * key),
        ):
            vec = np.zeros(size, dtype=np.int64)
            vec[: self.n] = per_stop
            start = np.zeros(p.num_vehicles, dtype=np.int64)
            for s in np.flatnonzero(lone).tolist():
                start[int(p.committed_vehicle[s])] += -int(per_stop[s])
            cap = int(np.abs(per_stop).sum() + start.sum())
            idx = r.RegisterUnaryTransitVector(vec[self.order].tolist())
            r.AddDimension(idx, 0, cap, False, name)
            dim = r.GetDimensionOrDie(name)
            for k in range(p.num_vehicles):
                dim.CumulVar(r.Start(k)).SetValue(int(start[k]))
            dims.append(dim)
        count, total, square = dims
        solver = r.solver()
        for s in np.flatnonzero(grouped & p.is_pickup()).tolist():
            i = self.index(s)
            g = int(key[s])
            solver.Add(total.CumulVar(i) == g * count.CumulVar(i))
            solver.Add(square.CumulVar(i) == g * g * count.CumulVar(i))

    def routes_from(self, read_next: Callable[[int], int]) -> list[list[int]]:
        r, m = self.routing, self.manager
        out: list[list[int]] = []
        for k in range(self.problem.num_vehicles):
            route: list[int] = []
            i = read_next(r.Start(k))
            while not r.IsEnd(i):
                route.append(int(m.IndexToNode(i)))
                i = read_next(i)
            out.append(route)
        return out

    def bound_routes(self) -> list[list[int]] | None:
        """Routes of the current search state, or None while some arc is undecided."""
        r = self.routing
        limit = r.Size() + self.problem.num_vehicles
        steps = [0]

        def read_next(i: int) -> int:
            var = r.NextVar(i)
            steps[0] += 1
            if not var.Bound() or steps[0] > limit:
                raise _Unbound
            return int(var.Value())

        try:
            return self.routes_from(read_next)
        except _Unbound:
            return None


class _Unbound(Exception):
    """A next variable has no value yet."""


def default_first(problem: RoutingProblem) -> str:
    """Cheapest insertion handles pairs; cheapest arc is the usual VRPTW default."""
    return "PARALLEL_CHEAPEST_INSERTION" if problem.pairs_list() else "PATH_CHEAPEST_ARC"


def search_parameters(
    problem: RoutingProblem, time_limit_s: float, spec: SearchSpec | None = None
) -> pywrapcp.DefaultRoutingSearchParameters:
    """OR-Tools search parameters for one spec."""
    sp = spec or SearchSpec()
    prm = pywrapcp.DefaultRoutingSearchParameters()
    first = "PATH_CHEAPEST_ARC" if sp.plain else (sp.first or default_first(problem))
    prm.first_solution_strategy = getattr(_FIRST, first)
    prm.time_limit.FromMilliseconds(max(1, int(time_limit_s * 1000)))
    if sp.solution_limit is not None:
        prm.solution_limit = sp.solution_limit
    if sp.plain:
        prm.local_search_metaheuristic = _META.GUIDED_LOCAL_SEARCH
        return prm
    if sp.method == "ils":
        _set_ils(prm, sp.temperature)
        return prm
    prm.local_search_metaheuristic = {
        "gls": _META.GUIDED_LOCAL_SEARCH,
        "sa": _META.SIMULATED_ANNEALING,
        "tabu": _META.TABU_SEARCH,
        "greedy_descent": _META.GREEDY_DESCENT,
    }[sp.method]
    return prm


def _set_ils(prm: pywrapcp.DefaultRoutingSearchParameters, temperature: float) -> None:
    """Ruin (string removals) and recreate (cheapest insertion), annealed acceptance.

    Rebuilt plans are not polished by local search: many cheap iterations beat
    few polished ones within seconds (measured on Solomon's long routes).
    """
    prm.local_search_metaheuristic = _META.GREEDY_DESCENT
    ils = prm.iterated_local_search_parameters
    ils.improve_perturbed_solution = False
    rr = ils.ruin_recreate_parameters
    del rr.ruin_strategies[:]
    sisr = rr.ruin_strategies.add().sisr
    sisr.max_removed_sequence_size = 10
    sisr.avg_num_removed_visits = 10
    sisr.bypass_factor = 0.01
    sa = ils.reference_solution_acceptance_strategy.simulated_annealing
    sa.initial_temperature = max(1.0, temperature)
    sa.final_temperature = max(0.01, temperature / 100.0)


def solve_ortools(
    problem: RoutingProblem,
    time_limit_s: float,
    spec: SearchSpec | None = None,
    *,
    initial_routes: Sequence[Sequence[int]] | None = None,
    starts: Sequence[Sequence[Sequence[int]]] = (),
    on_solution: Callable[[list[list[int]], int, int | None], None] | None = None,
) -> OrToolsOutcome:
    """Build and solve; ``on_solution(routes, cost, start_index)`` sees every improving plan.

    Local search starts from the first of ``initial_routes`` and ``starts``
    that OR-Tools accepts (routes must be feasible; unrouted optional stops stay
    unperformed); ``start_index`` says which start a reported plan is (None for
    plans the search found). Iterated local search takes the first start as a
    hint for its own first solution.
    """
    sp = spec or SearchSpec()
    started = time.perf_counter()
    if problem.num_vehicles == 0:
        return OrToolsOutcome(None, 3, "no vehicles")
    model = _Model(problem)
    r = model.routing
    remaining = max(0.01, time_limit_s - (time.perf_counter() - started))
    prm = search_parameters(problem, remaining, sp)
    r.CloseModelWithParameters(prm)
    tried = ([initial_routes] if initial_routes is not None else []) + list(starts)
    start, start_index = None, None
    for k, routes in enumerate(tried if not sp.plain else []):
        start = r.ReadAssignmentFromRoutes(
            [[model.index(s) for s in route] for route in routes], True
        )
        if start is not None:
            start_index = k
            break
    if on_solution is not None:
        best = [np.iinfo(np.int64).max]
        # Local search reports an accepted warm start as its first solution.
        pending = [start_index if sp.method != "ils" else None]

        def report() -> None:
            # Iterated local search also calls back from inner searches whose
            # variables are not all bound; reading those would abort the process.
            if not r.CostVar().Bound():
                return
            cost = int(r.CostVar().Value())
            if cost < best[0]:
                routes = model.bound_routes()
                if routes is None:
                    return
                best[0] = cost
                on_solution(routes, cost, pending[0])
            pending[0] = None

        r.AddAtSolutionCallback(report)
    if sp.method == "ils" and not sp.plain:
        if start is not None:
            r.SetFirstSolutionHint(start)
        solution = r.SolveWithIteratedLocalSearch(prm)
    elif start is not None:
        solution = r.SolveFromAssignmentWithParameters(start, prm)
    else:
        solution = r.SolveWithParameters(prm)
    code = int(r.status())
    # Iterated local search leaves the status at NOT_SOLVED even with a plan.
    solved = _SOLVED | ({_NOT_SOLVED} if sp.method == "ils" and not sp.plain else set())
    if solution is None or code not in solved:
        return OrToolsOutcome(None, code, f"OR-Tools status {code}")
    routes = model.routes_from(lambda i: int(solution.Value(r.NextVar(i))))
    return OrToolsOutcome(routes, code, "ok")
