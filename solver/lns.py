"""Large-neighbourhood search of our own: ruin a related part of a plan, rebuild by insertion.

Why: within a dispatch tick's fraction of a second, OR-Tools' local search
rarely improves the regret-insertion start. Ruin-and-recreate with the
project's own vectorised insertion costs (``_insertion_route``) makes many
cheap moves in that time instead.

Each iteration removes a few free requests (never committed ones, never from a
route the start left infeasible) chosen by one of four rules: the orders of a
few nearby vehicles, requests related in place and time to a random one, the
ones costing most where they are, or plain random ones. They go back by regret-2
or cheapest insertion (the same insertion the start was built with), and the
candidate is priced by ``solver.objective.evaluate``, the one objective.
Acceptance is record-to-record: a candidate within a threshold of the current
plan is kept, the threshold shrinking to zero as the work or time runs out.

Guarantees: the result is never worse than the start (fewer unserved mandatory
stops first, then objective; the start itself is returned otherwise), every
route it changed passes the insertion's own feasibility test, no iteration
starts once the clock says the next one might not end by the deadline, and a
given seed with a clock that does not stop the search early gives one answer.
It also stops after ``patience`` iterations in a row without a new best plan, so
a small tick does not hold a core for its whole budget.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from solver._insertion_route import INF, Route
from solver.objective import evaluate
from solver.problem import NONE, RoutingProblem
from solver.regret_insertion import _RegretInsertion
from solver.result import RoutingResult, SolveStatus

__all__ = ["LNS", "LnsParams", "LnsRun", "solve_lns"]

#: The backend tag of plans this search found.
LNS = "lns"
Clock = Callable[[], float]


@dataclass(frozen=True)
class LnsParams:
    """Knobs of the search; validated on construction.

    seed: the random stream (one seed, one answer, given the same number of iterations).
    min_remove / max_remove: requests removed per iteration (at most ``remove_share``
        of the requests that may move, but never fewer than ``min_remove``).
    max_iterations: a work limit besides the deadline (None: the deadline alone).
    threshold: record-to-record acceptance at the start, as a share of the current
        plan's cost without drop penalties; it falls linearly to 0 at the end.
    greedy_share: share of rebuilds by cheapest insertion (the rest by regret-2).
    patience: iterations in a row without a new best plan after which the search
        stops early (None: never); small ticks converge long before their deadline.
    nearest_vehicles: the vehicles (nearest first from where they start) a removed
        request may go back to, besides the vehicles the removal touched; bounds the
        work per iteration.
    """

    seed: int = 0
    min_remove: int = 2
    max_remove: int = 12
    remove_share: float = 0.4
    max_iterations: int | None = None
    threshold: float = 0.005
    greedy_share: float = 0.3
    nearest_vehicles: int = 4
    patience: int | None = 500

    def __post_init__(self) -> None:
        if not 1 <= self.min_remove <= self.max_remove:
            raise ValueError("need 1 <= min_remove <= max_remove")
        if not 0.0 < self.remove_share <= 1.0:
            raise ValueError("remove_share must lie in (0, 1]")
        if self.max_iterations is not None and self.max_iterations < 0:
            raise ValueError("max_iterations must be non-negative (or None)")
        if not 0.0 <= self.threshold < 1.0:
            raise ValueError("threshold must lie in [0, 1)")
        if not 0.0 <= self.greedy_share <= 1.0:
            raise ValueError("greedy_share must lie in [0, 1]")
        if self.nearest_vehicles < 1:
            raise ValueError("nearest_vehicles must be at least 1")
        if self.patience is not None and self.patience < 1:
            raise ValueError("patience must be at least 1 (or None)")


@dataclass(frozen=True)
class LnsRun:
    """The best plan (the start when nothing beat it) and what the search did."""

    result: RoutingResult
    iterations: int
    accepted: int
    improvements: int


def _key(problem: RoutingProblem, result: RoutingResult) -> tuple[int, int]:
    """(unserved mandatory or committed stops, objective): smaller is better."""
    assert problem.drop_penalty is not None and problem.committed_vehicle is not None
    missing = sum(
        1
        for s in result.dropped
        if problem.drop_penalty[s] == NONE or problem.committed_vehicle[s] != NONE
    )
    return missing, result.objective


def _service_cost(problem: RoutingProblem, result: RoutingResult) -> int:
    """The objective without drop penalties (the scale of the acceptance threshold)."""
    assert problem.drop_penalty is not None
    drops = sum(int(problem.drop_penalty[s]) for s in result.dropped if problem.drop_penalty[s] > 0)
    return max(0, result.objective - drops)


class _Search:
    """Mutable state of one LNS run (never shared).

    It borrows a regret-insertion state for the requests, routes and insertion
    prices, and keeps its own price cache: the price of request r in vehicle v is
    valid while v's route is the one it was computed on (a token per route
    version; a rejected move puts the old routes and tokens back, so their prices
    stay valid). Rebuilds consider the vehicles a move touched plus each pending
    request's nearest few allowed vehicles, which bounds the work per iteration.
    """

    def __init__(self, problem: RoutingProblem, start: RoutingResult, prm: LnsParams) -> None:
        self.p, self.prm = problem, prm
        self.rng = np.random.default_rng(prm.seed)
        self.st = st = _RegretInsertion(problem, deadline=None)
        d = st.d
        for v, stops in enumerate(start.routes[: d.v]):
            st.set_route(v, [int(s) for s in stops])
            for s in stops:
                st.vehicle_of[st.req_of[int(s)]] = v
        # a route the start left infeasible (forced committed stops) is frozen as it is
        st.broken[:] = [bool(r.stops) and not r.feasible for r in st.routes]
        on = st.vehicle_of[st.free]
        frozen = np.where(on == NONE, False, st.broken[np.maximum(on, 0)])
        #: free requests the search may move (unplaced ones, or on a route it may change)
        self.movable = st.free[~frozen]
        last = np.where(st.is_pair, st.second, st.first)
        self.loc_a = d.loc[st.first]
        self.loc_b = d.loc[last]
        soft_b = d.soft[last]
        self.due = np.where(soft_b != NONE, soft_b, np.minimum(d.l[last], 10**9))
        r_count = len(st.first)
        self.token = list(range(d.v))
        self.next_token = d.v
        self.price_tok = np.full((r_count, d.v), -1, dtype=np.int64)
        self.price = np.full((r_count, d.v), INF, dtype=np.int64)
        self.pos_i = np.zeros((r_count, d.v), dtype=np.int64)
        self.pos_j = np.zeros((r_count, d.v), dtype=np.int64)
        reach = d.cost[d.vstart[None, :], self.loc_a[:, None]]
        usable = st.allow & ~st.broken[None, :]
        order = np.lexsort((np.arange(d.v)[None, :].repeat(r_count, 0), reach, ~usable), axis=1)
        self.near = [row[usable[r, row]][: prm.nearest_vehicles] for r, row in enumerate(order)]
        self.operators: list[Callable[[int], list[int]]] = [
            self._nearby_vehicles,
            self._related,
            self._worst,
            self._random,
        ]

    # ---- routes and prices ---------------------------------------------------

    def _changed(self, v: int) -> None:
        self.token[v] = self.next_token
        self.next_token += 1

    def _prices(self, reqs: np.ndarray, v: int) -> np.ndarray:
        """Insertion prices of requests into vehicle v (cached per route version)."""
        st = self.st
        tok = self.token[v]
        stale = reqs[self.price_tok[reqs, v] != tok]
        if stale.size:
            route = st.routes[v]
            ok = st.allow[stale, v] & (st.vehicle_of[stale] != v)
            cost = np.full(stale.size, INF, dtype=np.int64)
            pi = np.zeros(stale.size, dtype=np.int64)
            pj = np.zeros(stale.size, dtype=np.int64)
            if ok.any() and not st.broken[v]:
                base, i, j = st._best_insertions(route, stale[ok])
                if not route.stops:
                    base = np.where(base < INF, base + int(st.d.fixed[v]), INF)
                cost[ok] = np.where(base < INF, base + st.churn[stale[ok], v], INF)
                pi[ok], pj[ok] = i, j
            self.price[stale, v] = cost
            self.pos_i[stale, v] = pi
            self.pos_j[stale, v] = pj
            self.price_tok[stale, v] = tok
        return self.price[reqs, v]  # type: ignore[no-any-return]

    def _remove(self, r: int) -> int:
        v = self.st.remove(r)
        self._changed(v)
        return v

    def _place(self, r: int, v: int) -> None:
        self.st.place(r, v, int(self.pos_i[r, v]), int(self.pos_j[r, v]))
        self._changed(v)

    def snapshot(self) -> tuple[list[Route], list[int], np.ndarray]:
        return list(self.st.routes), list(self.token), self.st.vehicle_of.copy()

    def restore(self, saved: tuple[list[Route], list[int], np.ndarray]) -> None:
        routes, tokens, vehicle_of = saved
        self.st.routes = list(routes)
        self.token = list(tokens)
        self.st.vehicle_of = vehicle_of.copy()

    def plan(self) -> RoutingResult:
        return evaluate(self.p, [r.stops for r in self.st.routes], backend=LNS)

    # ---- removal rules -------------------------------------------------------

    def _placed(self) -> np.ndarray:
        st = self.st
        return self.movable[st.vehicle_of[self.movable] != NONE]  # type: ignore[no-any-return]

    def _random(self, k: int) -> list[int]:
        placed = self._placed()
        if not placed.size:
            return []
        pick = self.rng.choice(placed.size, size=min(k, placed.size), replace=False)
        return [int(r) for r in placed[pick]]

    def _nearby_vehicles(self, k: int) -> list[int]:
        """All free requests of a random request's vehicle and of the vehicles nearest it."""
        st, placed = self.st, self._placed()
        if not placed.size:
            return []
        seed = int(placed[self.rng.integers(placed.size)])
        cost = st.d.cost
        here = int(self.loc_a[seed])
        by_vehicle: dict[int, list[int]] = {}
        for r in placed.tolist():
            by_vehicle.setdefault(int(st.vehicle_of[r]), []).append(r)
        reach = {
            v: min(
                int(cost[int(st.d.vstart[v]), here]), *(int(cost[self.loc_a[r], here]) for r in rs)
            )
            for v, rs in by_vehicle.items()
        }
        out: list[int] = []
        for v in sorted(reach, key=lambda u: (reach[u], u)):
            if out and len(out) + len(by_vehicle[v]) > k:
                break
            out += by_vehicle[v]
        return out

    def _related(self, k: int) -> list[int]:
        """Requests close to a random one in pickup place, drop-off place and due time."""
        placed = self._placed()
        if not placed.size:
            return []
        seed = int(placed[self.rng.integers(placed.size)])
        cost = self.st.d.cost
        dist = (
            cost[self.loc_a[seed], self.loc_a[placed]] + cost[self.loc_b[seed], self.loc_b[placed]]
        )
        gap = np.abs(self.due[placed] - self.due[seed])
        score = dist / max(1.0, float(dist.mean())) + gap / max(1.0, float(gap.mean()))
        return self._biased(placed, score, k)

    def _worst(self, k: int) -> list[int]:
        """Requests whose stops cost most where they are: detour, weighted lateness, late fees."""
        st, placed = self.st, self._placed()
        if not placed.size:
            return []
        d = st.d
        stop_cost: dict[int, int] = {}
        for v in np.unique(st.vehicle_of[placed]).tolist():
            route = st.routes[v]
            locs, last = route.locs, route.k
            for m, s in enumerate(route.stops, start=1):
                tail = m == last and route.open
                out = 0 if tail else int(d.cost[locs[m], locs[m + 1]])
                skip = 0 if tail else int(d.cost[locs[m - 1], locs[m + 1]])
                late = 0
                if d.soft[s] != NONE:
                    late = max(0, int(route.A[m]) - int(d.soft[s])) * int(d.w[s])
                if d.fee_dl[s] != NONE and route.A[m] > d.fee_dl[s]:
                    late += int(d.fee[s])
                stop_cost[s] = int(d.cost[locs[m - 1], locs[m]]) + out - skip + late
        score = np.array(
            [
                -stop_cost.get(int(st.first[r]), 0)
                - (stop_cost.get(int(st.second[r]), 0) if st.is_pair[r] else 0)
                for r in placed.tolist()
            ],
            dtype=np.float64,
        )
        return self._biased(placed, score, k)

    def _biased(self, pool: np.ndarray, score: np.ndarray, k: int) -> list[int]:
        """k of the pool, lowest scores first but drawn with a random bias (y^3 rule)."""
        order = [int(r) for r in pool[np.lexsort((pool, score))]]
        out: list[int] = []
        while order and len(out) < k:
            out.append(order.pop(int(len(order) * self.rng.random() ** 3)))
        return out

    # ---- rebuild ------------------------------------------------------------

    def _rebuild(self, touched: set[int], greedy: bool) -> None:
        """Insert every unplaced movable request (regret-2 or cheapest) while it beats its drop."""
        st = self.st
        pending = self.movable[st.vehicle_of[self.movable] == NONE]
        if not pending.size:
            return
        vehicles = sorted(touched.union(*(self.near[r].tolist() for r in pending.tolist())))
        if not vehicles:
            return  # nothing pending may go anywhere (no allowed vehicle is usable)
        cols = np.array(vehicles, dtype=np.int64)
        while pending.size:
            grid = np.stack([self._prices(pending, v) for v in vehicles], axis=1)
            drop = st.drop[pending]
            b1 = grid.min(axis=1)
            worth = (b1 < INF) & (b1 < drop)
            if not worth.any():
                return
            if greedy:
                pick = int(np.argmin(np.where(worth, b1, INF)))
            else:
                two = np.partition(grid, 1, axis=1) if grid.shape[1] > 1 else None
                b2 = two[:, 1] if two is not None else np.full_like(b1, INF)
                regret = np.where(worth, np.minimum(b2, drop) - b1, -1)
                top = np.flatnonzero(regret == regret.max())
                pick = int(top[np.argmin(b1[top])])
            r = int(pending[pick])
            self._place(r, int(cols[int(np.argmin(grid[pick]))]))
            pending = np.delete(pending, pick)

    def iterate(self) -> bool:
        """One ruin-and-recreate step; False when a removal broke a route (undo it)."""
        st, prm = self.st, self.prm
        placed = self._placed().size
        cap = max(prm.min_remove, min(prm.max_remove, int(prm.remove_share * placed)))
        k = int(self.rng.integers(prm.min_remove, cap + 1))
        op = self.operators[int(self.rng.integers(len(self.operators)))]
        greedy = bool(self.rng.random() < prm.greedy_share)
        before = list(self.token)
        touched = {self._remove(r) for r in op(k)}
        if any(not st.routes[v].feasible for v in touched if st.routes[v].stops):
            return False  # a matrix without the triangle inequality: removal can break a route
        self._rebuild(touched, greedy)
        changed = [v for v in range(st.d.v) if self.token[v] != before[v]]
        return all(st.routes[v].feasible for v in changed if st.routes[v].stops)


def solve_lns(
    problem: RoutingProblem,
    start: RoutingResult,
    time_limit_s: float,
    *,
    params: LnsParams | None = None,
    clock: Clock = time.perf_counter,
) -> LnsRun:
    """Improve ``start`` by ruin and recreate until ``time_limit_s`` (by ``clock``) runs out.

    ``start`` is any plan of ``problem`` (normally the regret-insertion plan warm-started
    from the previous one). Returns ``start`` itself when nothing beat it.
    """
    prm = params or LnsParams()
    t0 = clock()
    deadline = t0 + time_limit_s
    if (
        problem.num_stops == 0
        or problem.num_vehicles == 0
        or len(start.routes) > problem.num_vehicles
    ):
        return LnsRun(start, 0, 0, 0)
    search = _Search(problem, start, prm)
    if not search.movable.size:
        return LnsRun(start, 0, 0, 0)
    current = search.plan()
    best, best_key = start, _key(problem, start)
    iterations = accepted = improvements = 0
    slowest = 0.0
    limit = prm.max_iterations
    idle = 0  # iterations since the last new best
    while limit is None or iterations < limit:
        if prm.patience is not None and idle >= prm.patience:
            break
        now = clock()
        if now + slowest >= deadline:
            break
        progress = iterations / limit if limit is not None else (now - t0) / max(time_limit_s, 1e-9)
        saved = search.snapshot()
        iterations += 1
        if not search.iterate():
            search.restore(saved)
        else:
            cand = search.plan()
            cur_missing, cur_obj = _key(problem, current)
            missing, obj = _key(problem, cand)
            allowance = prm.threshold * (1.0 - min(1.0, progress)) * _service_cost(problem, current)
            if missing < cur_missing or (missing == cur_missing and obj <= cur_obj + allowance):
                current = cand
                accepted += 1
                if (missing, obj) < best_key:
                    best, best_key = cand, (missing, obj)
                    improvements += 1
                    idle = -1  # counted back to 0 below
            else:
                search.restore(saved)
        idle += 1
        slowest = max(slowest, clock() - now)
    if best is start:
        return LnsRun(start, iterations, accepted, 0)
    clean = best_key[0] == 0 and not search.st.broken.any()
    status = SolveStatus.FEASIBLE if clean else start.status
    result = replace(best, status=status, warnings=start.warnings)
    return LnsRun(result, iterations, accepted, improvements)
