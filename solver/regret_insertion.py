"""Regret-2 insertion heuristic in numpy: the baseline, warm start and fallback.

Requests (a single stop, or a pickup-and-delivery pair inserted together) are
placed one at a time: each round takes the request whose best insertion beats
its second-best vehicle (or its drop penalty) by the widest margin. Insertion
feasibility is O(1) per position thanks to per-route arrays: earliest start
``A``, latest feasible start ``Z`` (backward slack), cumulative waiting and
suffix load extremes. The cost of inserting every free request into every
vehicle is cached and refreshed one vehicle column at a time, which also
drives a cheap relocate pass afterwards.

Order of work: repair the warm-start routes, put committed stops on their
vehicles (forcing them in, with a warning, when no feasible spot exists),
insert the rest by regret, drop what costs more than its penalty, improve.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np

from solver._insertion_route import INF, ProblemArrays, Route, simulate
from solver.objective import evaluate
from solver.problem import NONE, RoutingProblem
from solver.result import RoutingResult, SolveStatus

__all__ = ["MAX_PASSES", "REGRET_INSERTION", "solve_regret_insertion"]

#: Improvement passes when no time limit is given.
MAX_PASSES = 4
#: The backend tag of plans made by regret insertion (the start and the fallback).
REGRET_INSERTION = "regret-insertion"


class _RegretInsertion:
    """Mutable search state of one regret-insertion solve (never shared, never global)."""

    def __init__(self, problem: RoutingProblem, deadline: float | None) -> None:
        self.problem = problem
        self.d = d = ProblemArrays(problem)
        self.deadline = deadline
        self.warnings: list[str] = []
        self.routes = [Route(d, v, []) for v in range(d.v)]
        self.broken = np.zeros(d.v, dtype=bool)
        self.version = [0] * d.v
        self._plan: tuple[np.ndarray, list[np.ndarray]] | None = None
        #: per request: ((vehicle, version), removal gain, same-route cost, same-route spot)
        self._gain_cache: dict[int, tuple[tuple[int, int], int, int, tuple[int, int, int]]] = {}
        # requests: a single stop (second = NONE) or a pair (pickup, delivery)
        first: list[int] = []
        second: list[int] = []
        partner = problem.partner()
        for s in range(d.n):
            if partner[s] == NONE:
                first.append(s)
                second.append(NONE)
            elif d.is_pickup[s]:
                first.append(s)
                second.append(int(partner[s]))
        self.first = np.array(first, dtype=np.int64)
        self.second = np.array(second, dtype=np.int64)
        self.is_pair = self.second != NONE
        r_count = len(first)
        self.req_of = np.full(d.n, NONE, dtype=np.int64)
        self.req_of[self.first] = np.arange(r_count)
        self.req_of[self.second[self.is_pair]] = np.arange(r_count)[self.is_pair]
        sec = np.where(self.is_pair, self.second, self.first)
        self.allow = d.allow[self.first] & d.allow[sec]
        self.committed = d.committed[self.first]
        churn = d.churn_cost[self.first] + np.where(self.is_pair[:, None], d.churn_cost[sec], 0)
        self.churn = churn
        mandatory = (d.drop[self.first] == NONE) | (d.drop[sec] == NONE) | (self.committed != NONE)
        drop = d.drop[self.first] + np.where(self.is_pair, d.drop[sec], 0)
        self.drop = np.where(mandatory, INF, drop)
        self.vehicle_of = np.full(r_count, NONE, dtype=np.int64)
        self.cost = np.full((r_count, d.v), INF, dtype=np.int64)
        self.pos_i = np.zeros((r_count, d.v), dtype=np.int64)
        self.pos_j = np.zeros((r_count, d.v), dtype=np.int64)
        self.free = np.flatnonzero(self.committed == NONE)
        self._empty_cache: dict[tuple[int, ...], tuple[np.ndarray, ...]] = {}
        self._sparse = self._allowed_lists()

    def _allowed_lists(self) -> tuple[np.ndarray, np.ndarray] | None:
        """Per request, its allowed vehicles padded to one width, when the lists are short.

        Dispatch problems prune each order to a few candidate couriers; regret then
        needs only those columns, not the whole (requests x vehicles) cost matrix.
        """
        counts = self.allow.sum(axis=1)
        width = int(counts.max()) if counts.size else 0
        if width == 0 or width > max(8, self.d.v // 4):
            return None
        if len({self.d.signature(v) for v in range(self.d.v)}) < self.d.v:
            return None  # interchangeable vehicles: regret needs their columns merged
        rows, cols = np.nonzero(self.allow)
        slot = np.arange(rows.size) - np.repeat(np.cumsum(counts) - counts, counts)
        lists = np.zeros((self.allow.shape[0], width), dtype=np.int64)
        pad = np.ones((self.allow.shape[0], width), dtype=bool)
        lists[rows, slot] = cols
        pad[rows, slot] = False
        return lists, pad

    # ---- request placement --------------------------------------------------

    def stops_of(self, r: int) -> list[int]:
        return [int(self.first[r])] + ([int(self.second[r])] if self.is_pair[r] else [])

    def place(self, r: int, v: int, i: int, j: int) -> None:
        """Insert request r into vehicle v: first after node i, second after node j."""
        route = self.routes[v]
        stops = list(route.stops)
        a = int(self.first[r])
        if self.is_pair[r]:
            b = int(self.second[r])
            stops = [*stops[:j], b, *stops[j:]]
            stops = [*stops[:i], a, *stops[i:]]
        else:
            stops = [*stops[:i], a, *stops[i:]]
        self.set_route(v, stops)
        self.vehicle_of[r] = v

    def set_route(self, v: int, stops: list[int]) -> None:
        if bool(stops) != bool(self.routes[v].stops):
            self._plan = None  # a vehicle joined or left the empty ones
        self.routes[v] = Route(self.d, v, stops)
        self.version[v] += 1

    def remove(self, r: int) -> int:
        v = int(self.vehicle_of[r])
        gone = set(self.stops_of(r))
        self.set_route(v, [s for s in self.routes[v].stops if s not in gone])
        self.vehicle_of[r] = NONE
        return v

    # ---- cached insertion costs -------------------------------------------

    def column(self, v: int) -> None:
        """Refresh the cost of inserting every free request into vehicle v."""
        d, route = self.d, self.routes[v]
        col = np.full(len(self.first), INF, dtype=np.int64)
        if self.broken[v] or not self.free.size:
            self.cost[:, v] = col
            return
        reqs = self.free[self.allow[self.free, v]]
        if route.stops:
            base, pi, pj = self._best_insertions(route, reqs)
        else:
            base, pi, pj = self._empty_eval(v, reqs)
            base = np.where(base < INF, base + int(d.fixed[v]), INF)
        ok = (base < INF) & (self.vehicle_of[reqs] != v)
        col[reqs] = np.where(ok, base + self.churn[reqs, v], INF)
        self.cost[:, v] = col
        self.pos_i[reqs, v] = pi
        self.pos_j[reqs, v] = pj

    def _best_insertions(
        self, route: Route, reqs: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Best insertion of each request into a route (INF everywhere if it is infeasible).

        The slack arrays only vouch for the part of a route after an insertion,
        so an already infeasible route (e.g. after a removal on a matrix that
        breaks the triangle inequality) accepts nothing.
        """
        base = np.full(reqs.size, INF, dtype=np.int64)
        pi = np.zeros(reqs.size, dtype=np.int64)
        pj = np.zeros(reqs.size, dtype=np.int64)
        if not route.feasible:
            return base, pi, pj
        single = ~self.is_pair[reqs]
        if single.any():
            c, i = route.insert_single(self.first[reqs[single]])
            base[single], pi[single], pj[single] = c, i, i
        if (~single).any():
            sel = reqs[~single]
            c, i, j = route.insert_pair(self.first[sel], self.second[sel])
            base[~single], pi[~single], pj[~single] = c, i, j
        return base, pi, pj

    def _empty_eval(self, v: int, reqs: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Empty vehicles of one kind share insertion costs: compute them once."""
        sig = self.d.signature(v)
        cached = self._empty_cache.get(sig)
        if cached is None:
            cached = self._best_insertions(self.routes[v], self.free)
            self._empty_cache[sig] = cached
        lookup = np.searchsorted(self.free, reqs)
        return cached[0][lookup], cached[1][lookup], cached[2][lookup]

    # ---- phases ------------------------------------------------------------

    def warm_start(self, initial: Sequence[Sequence[int]]) -> None:
        """Keep the given routes, minus stops that are invalid or now infeasible."""
        d = self.d
        if len(initial) > d.v:
            self.warnings.append(f"initial routes for {len(initial)} vehicles; extra ignored")
        seen: set[int] = set()
        removed = 0
        for v, raw in enumerate(list(initial)[: d.v]):
            stops: list[int] = []
            for s in (int(x) for x in raw):
                if 0 <= s < d.n and s not in seen and d.allow[s, v]:
                    seen.add(s)
                    stops.append(s)
            pos = {s: k for k, s in enumerate(stops)}
            keep: list[int] = []
            for s in stops:
                r = int(self.req_of[s])
                if self.is_pair[r]:
                    a, b = int(self.first[r]), int(self.second[r])
                    if a not in pos or b not in pos or pos[a] > pos[b]:
                        continue
                keep.append(s)
            keep = self._repair(v, keep)
            if keep and simulate(d, v, keep).violation:
                keep = []  # committed stops in a hopeless order: rebuild this route
            removed += len(list(raw)) - len(keep)
            self.set_route(v, keep)
            for s in keep:
                self.vehicle_of[self.req_of[s]] = v
        if removed:
            self.warnings.append(f"warm start: {removed} stops were invalid or infeasible")

    def _repair(self, v: int, stops: list[int]) -> list[int]:
        """Remove free requests at the first violation until the route is feasible."""
        stops = list(stops)
        while stops:
            bad = simulate(self.d, v, stops).first_bad
            if bad is None:
                break
            candidates = [
                k
                for k in range(min(bad, len(stops) - 1), -1, -1)
                if self.committed[self.req_of[stops[k]]] == NONE
            ]
            if not candidates:
                break
            gone = set(self.stops_of(int(self.req_of[stops[candidates[0]]])))
            stops = [s for s in stops if s not in gone]
        return stops

    def commit(self) -> None:
        """Put every committed request on its vehicle, forcing it in when it cannot fit."""
        d = self.d
        todo = [
            r for r in np.flatnonzero(self.committed != NONE).tolist() if self.vehicle_of[r] == NONE
        ]
        last_stop = np.where(self.is_pair, self.second, self.first)
        todo.sort(key=lambda r: int(d.l[last_stop[r]]))
        for r in todo:
            v = int(self.committed[r])
            if self._insert_feasibly(r, v):
                continue
            free_here = [s for s in self.routes[v].stops if self.committed[self.req_of[s]] == NONE]
            if free_here:  # make room: the vehicle's free stops go back to the pool
                for s in free_here:
                    self.vehicle_of[self.req_of[s]] = NONE
                self.set_route(v, [s for s in self.routes[v].stops if s not in set(free_here)])
                if self._insert_feasibly(r, v):
                    continue
            self._force(r, v)

    def _insert_feasibly(self, r: int, v: int) -> bool:
        c, i, j = self._best_insertions(self.routes[v], np.array([r]))
        if c[0] >= INF:
            return False
        self.place(r, v, int(i[0]), int(j[0]))
        return True

    def _force(self, r: int, v: int) -> None:
        """Least-violating position for a committed request that fits nowhere."""
        stops = self.routes[v].stops
        k = len(stops)
        best: tuple[int, int, int, int] | None = None
        spots = [(i, j) for i in range(k + 1) for j in range(i, k + 1)]
        for i, j in spots if self.is_pair[r] else [(i, i) for i in range(k + 1)]:
            trial = list(stops)
            if self.is_pair[r]:
                trial.insert(j, int(self.second[r]))
            trial.insert(i, int(self.first[r]))
            sim = simulate(self.d, v, trial)
            key = (sim.violation, sim.cost, i, j)
            if best is None or key < best:
                best = key
        assert best is not None
        self.place(r, v, best[2], best[3])
        if best[0] == 0:  # the slack check was too cautious (route broken before)
            return
        self.broken[v] = True
        self._plan = None
        self.warnings.append(
            f"committed stops {self.stops_of(r)} cannot be served feasibly by vehicle {v}; "
            "kept on it anyway"
        )

    def insert_all(self, refresh: bool = True) -> None:
        """Regret-2 insertion of every free, unplaced request."""
        if refresh:
            for v in range(self.d.v):
                self.column(v)
        pending = self.free[self.vehicle_of[self.free] == NONE]
        while pending.size:
            reduced = self._reduced_sparse(pending)
            if reduced is None:
                reduced = self._reduced(pending)
            if reduced.shape[1] == 0:
                break
            if reduced.shape[1] == 1:
                b1 = reduced[:, 0]
                b2 = np.full_like(b1, INF)
            else:
                two = np.partition(reduced, 1, axis=1)
                b1, b2 = two[:, 0], two[:, 1]
            drop = self.drop[pending]
            worth = (b1 < INF) & (b1 < drop)
            if not worth.any():
                break
            regret = np.where(worth, np.minimum(b2, drop) - b1, -1)
            top = np.flatnonzero(regret == regret.max())
            pick = top[np.argmin(b1[top])]
            r = int(pending[pick])
            v = int(np.argmin(self.cost[r]))
            self.place(r, v, int(self.pos_i[r, v]), int(self.pos_j[r, v]))
            self.column(v)
            pending = np.delete(pending, pick)

    def _reduced_sparse(self, pending: np.ndarray) -> np.ndarray | None:
        """Each pending request's costs on its own allowed vehicles (None: use the dense way)."""
        if self._sparse is None:
            return None
        lists, pad = self._sparse
        cols = lists[pending]
        return np.where(pad[pending], INF, self.cost[pending[:, None], cols])

    def _reduced(self, pending: np.ndarray) -> np.ndarray:
        """Cost columns with identical empty vehicles merged (so regret is not zero).

        Used vehicles and one-of-a-kind empty ones keep their own column; each
        group of interchangeable empty vehicles becomes one column (their min),
        cached until a vehicle joins or leaves the group.
        """
        if self._plan is None:
            groups: dict[tuple[int, ...], list[int]] = {}
            direct: list[int] = []
            for v, route in enumerate(self.routes):
                if self.broken[v]:
                    continue
                if route.stops:
                    direct.append(v)
                else:
                    groups.setdefault(self.d.signature(v), []).append(v)
            merged: list[np.ndarray] = []
            for members in groups.values():
                if len(members) == 1:
                    direct.append(members[0])
                else:
                    merged.append(self.cost[:, members].min(axis=1))
            self._plan = (np.array(sorted(direct), dtype=np.int64), merged)
        direct_cols, merged = self._plan
        parts = [self.cost[np.ix_(pending, direct_cols)]]
        parts += [col[pending][:, None] for col in merged]
        return np.hstack(parts) if len(parts) > 1 else parts[0]

    def rescue(self, max_tries: int) -> None:
        """Make room for unplaced mandatory requests by emptying a vehicle of free work.

        For each such request and each vehicle that could serve it alone, the
        vehicle's free requests are taken out, the request goes in, and the
        evicted work is re-inserted anywhere; kept only if fewer mandatory
        requests end up unplaced.
        """
        tries = 0
        for r in self._unplaced_mandatory():
            for v in np.flatnonzero(self.allow[r] & ~self.broken).tolist():
                if self.vehicle_of[r] != NONE or tries >= max_tries:
                    break
                tries += 1
                before = len(self._unplaced_mandatory())
                saved = ([list(route.stops) for route in self.routes], self.vehicle_of.copy())
                evicted = [
                    int(self.req_of[s])
                    for s in self.routes[v].stops
                    if self.committed[self.req_of[s]] == NONE
                ]
                for q in dict.fromkeys(evicted):
                    self.remove(q)
                self.column(v)
                if not self._insert_feasibly(r, v):
                    self._restore(saved)
                    continue
                self.column(v)
                self.insert_all(refresh=False)
                if len(self._unplaced_mandatory()) >= before:
                    self._restore(saved)

    def _unplaced_mandatory(self) -> list[int]:
        free = self.free[self.vehicle_of[self.free] == NONE]
        return [int(r) for r in free[self.drop[free] >= INF]]

    def _restore(self, saved: tuple[list[list[int]], np.ndarray]) -> None:
        stops, vehicle_of = saved
        self.vehicle_of = vehicle_of
        for v, old in enumerate(stops):
            if old != self.routes[v].stops:
                self.set_route(v, old)
                self.column(v)

    def improve(self, max_passes: int) -> None:
        """Relocate requests (or drop/undrop them) while that lowers the objective."""
        for _ in range(max_passes):
            moved = False
            for r in self.free.tolist():
                if self.deadline is not None and time.perf_counter() > self.deadline:
                    return
                moved |= self._relocate(r)
            if not moved:
                return

    def _relocate(self, r: int) -> bool:
        """Move request r to its cheapest spot (any route, or dropped) if that saves."""
        d = self.d
        u = int(self.vehicle_of[r])
        same: tuple[int, int, int] | None = None
        if u == NONE:
            gain, same_cost = int(self.drop[r]), INF
        else:
            if self.broken[u]:
                return False
            key = (u, self.version[u])
            cached = self._gain_cache.get(r)
            if cached is None or cached[0] != key:
                gone = set(self.stops_of(r))
                rest = [s for s in self.routes[u].stops if s not in gone]
                trial = Route(d, u, rest)
                if not trial.feasible:  # removing r would break the route: r stays
                    self._gain_cache[r] = (key, -INF, INF, (u, 0, 0))
                    return False
                extra = int(self.churn[r, u]) + (int(d.fixed[u]) if not rest else 0)
                gain = self.routes[u].cost - trial.cost + extra
                c, i, j = self._best_insertions(trial, np.array([r]))
                spot = (u, int(i[0]), int(j[0]))
                cached = (key, gain, int(c[0]) + extra if c[0] < INF else INF, spot)
                self._gain_cache[r] = cached
            _, gain, same_cost, spot = cached
            if gain == -INF:
                return False
            same = spot
        row = self.cost[r].copy()
        if u != NONE:
            row[u] = INF
        v = int(np.argmin(row)) if row.size else 0
        best = int(row[v]) if row.size else INF
        use_same = same_cost < best
        best = min(best, same_cost)
        drop = int(self.drop[r]) if u != NONE else INF
        if min(best, drop) >= gain:
            return False
        if drop < best:  # cheaper to drop it than to serve it anywhere
            self.remove(r)
            self.column(u)
            return True
        if u != NONE:
            self.remove(r)
        if use_same:
            assert same is not None
            self.place(r, *same)
        else:
            self.place(r, v, int(self.pos_i[r, v]), int(self.pos_j[r, v]))
            self.column(v)
        if u != NONE:
            self.column(u)
        return True

    # ---- answer -------------------------------------------------------------

    def result(self, t0: float) -> RoutingResult:
        """The plan as it stands, priced by ``evaluate`` (the one objective).

        NO_SOLUTION when a mandatory or committed stop is unrouted or a committed
        stop had to be forced onto a route it breaks; the routes are still reported.
        """
        d = self.d
        routes = [route.stops for route in self.routes]
        served = {s for stops in routes for s in stops}
        missing = [
            s
            for s in range(d.n)
            if s not in served and (d.drop[s] == NONE or d.committed[s] != NONE)
        ]
        status = SolveStatus.FEASIBLE
        if missing:
            status = SolveStatus.NO_SOLUTION
            self.warnings.append(
                f"{len(missing)} mandatory stops could not be routed: {missing[:10]}"
            )
        if self.broken.any():
            status = SolveStatus.NO_SOLUTION
        return evaluate(
            self.problem,
            routes,
            backend=REGRET_INSERTION,
            status=status,
            solve_time_s=time.perf_counter() - t0,
            warnings=self.warnings,
        )


def solve_regret_insertion(
    problem: RoutingProblem,
    *,
    initial_routes: Sequence[Sequence[int]] | None = None,
    time_limit_s: float | None = None,
) -> RoutingResult:
    """Plan by regret insertion; never raises on a valid problem.

    ``initial_routes`` are kept (minus stops that became invalid or infeasible)
    and the remaining stops inserted around them. ``time_limit_s`` bounds the
    improvement pass only (construction always completes); without it the
    relocate pass runs at most ``MAX_PASSES`` rounds, so results are
    deterministic. Status is NO_SOLUTION when a mandatory or committed stop
    could not be served feasibly; the routes are still the best found.
    """
    t0 = time.perf_counter()
    deadline = None if time_limit_s is None else t0 + time_limit_s
    search = _RegretInsertion(problem, deadline)
    if initial_routes is not None:
        search.warm_start(initial_routes)
    search.commit()
    search.insert_all()
    search.rescue(max_tries=4 * problem.num_vehicles)
    search.improve(MAX_PASSES if time_limit_s is None else 1_000)
    return search.result(t0)
