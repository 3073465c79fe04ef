"""Greedy insertion: the baseline, the warm start and the fallback (no OR-Tools).

Work items (single stops, or pickup-delivery pairs) are inserted one at a time,
committed work first, then by urgency (earliest window end or deadline), each
at its cheapest feasible position among the nearest candidate vehicles.
Feasibility of a single insertion is checked in O(1) with each route's
latest-start times and suffix load extremes; a pair tries every delivery
position after each feasible pickup position. An item whose cheapest
insertion costs more than its drop penalty, or that fits nowhere, is dropped.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from solver._evaluate import build_result
from solver.problem import NONE, RoutingProblem
from solver.result import RoutingResult, SolveStatus

#: Vehicles considered per item: the nearest ones by travel time from their start.
CANDIDATES = 40
_INF = np.iinfo(np.int64).max // 4


@dataclass
class _Route:
    """A route with the arrays that make insertion checks cheap."""

    stops: list[int]
    start: list[int]  # service start per position
    depart: list[int]
    latest: list[int]  # latest feasible service start per position
    load: np.ndarray  # (L+1, D) load after position k (row 0: initial)
    max_suffix: np.ndarray  # (L+2, D) max load over positions k..L
    min_suffix: np.ndarray


class _Greedy:
    def __init__(self, problem: RoutingProblem) -> None:
        p = problem
        self.p = p
        assert p.tw_start is not None and p.tw_end is not None and p.service_time is not None
        assert (
            p.demand is not None and p.capacity is not None and p.vehicle_initial_load is not None
        )
        assert p.vehicle_end is not None and p.vehicle_end_time is not None
        assert p.vehicle_start_time is not None and p.travel_cost is not None
        assert p.soft_deadline is not None and p.lateness_weight is not None
        assert p.preferred_vehicle is not None and p.churn_penalty is not None
        assert p.vehicle_fixed_cost is not None and p.vehicle_profile is not None
        self.loc = p.stop_location.tolist()
        self.tws = p.tw_start.tolist()
        self.twe = p.tw_end.tolist()
        self.svc = p.service_time.tolist()
        self.dl = p.soft_deadline.tolist()
        self.w = p.lateness_weight.tolist()
        self.cost = p.travel_cost
        self.tt = [p.vehicle_time_matrix(v) for v in range(p.num_vehicles)]
        self.routes = [self._fresh(v, []) for v in range(p.num_vehicles)]

    # ---- route bookkeeping -------------------------------------------------------

    def _fresh(self, v: int, stops: list[int]) -> _Route:
        p = self.p
        assert p.vehicle_start_time is not None and p.vehicle_end is not None
        assert p.vehicle_end_time is not None and p.demand is not None
        assert p.vehicle_initial_load is not None
        tt = self.tt[v]
        here = int(p.vehicle_start[v])
        t = int(p.vehicle_start_time[v])
        start, depart = [], []
        for s in stops:
            t = max(t + int(tt[here, self.loc[s]]), self.tws[s])
            start.append(t)
            t += self.svc[s]
            depart.append(t)
            here = self.loc[s]
        n = len(stops)
        latest = [0] * n
        end = int(p.vehicle_end[v])
        limit = int(p.vehicle_end_time[v])
        for k in range(n - 1, -1, -1):
            s = stops[k]
            if k == n - 1:
                after = limit - (int(tt[self.loc[s], end]) if end != NONE else 0) - self.svc[s]
            else:
                nxt = stops[k + 1]
                after = latest[k + 1] - int(tt[self.loc[s], self.loc[nxt]]) - self.svc[s]
            latest[k] = min(self.twe[s], after)
        dims = p.num_dimensions
        load = np.empty((n + 1, dims), dtype=np.int64)
        load[0] = p.vehicle_initial_load[v]
        for k, s in enumerate(stops):
            load[k + 1] = load[k] + p.demand[s]
        max_suffix = np.full((n + 2, dims), -_INF, dtype=np.int64)
        min_suffix = np.full((n + 2, dims), _INF, dtype=np.int64)
        for k in range(n, -1, -1):
            max_suffix[k] = np.maximum(max_suffix[k + 1], load[k])
            min_suffix[k] = np.minimum(min_suffix[k + 1], load[k])
        return _Route(stops, start, depart, latest, load, max_suffix, min_suffix)

    def _depart_before(self, v: int, route: _Route, k: int) -> tuple[int, int]:
        """(location, departure time) just before position k."""
        p = self.p
        if k == 0:
            return int(p.vehicle_start[v]), int(p.vehicle_start_time[v])  # type: ignore[index]
        s = route.stops[k - 1]
        return self.loc[s], route.depart[k - 1]

    # ---- insertion evaluation ------------------------------------------------------

    def _single_ok(self, v: int, route: _Route, k: int, s: int) -> tuple[bool, int, int]:
        """Insert s at position k: (feasible, service start of s, push on the next stop)."""
        p = self.p
        tt = self.tt[v]
        here, t = self._depart_before(v, route, k)
        arrive = max(t + int(tt[here, self.loc[s]]), self.tws[s])
        if arrive > self.twe[s]:
            return False, 0, 0
        dep = arrive + self.svc[s]
        n = len(route.stops)
        if k < n:
            nxt = route.stops[k]
            new_start = max(dep + int(tt[self.loc[s], self.loc[nxt]]), self.tws[nxt])
            if new_start > route.latest[k]:
                return False, 0, 0
            push = new_start - route.start[k]
        else:
            end = int(p.vehicle_end[v])  # type: ignore[index]
            finish = dep + (int(tt[self.loc[s], end]) if end != NONE else 0)
            if finish > int(p.vehicle_end_time[v]):  # type: ignore[index]
                return False, 0, 0
            push = 0
        return True, arrive, push

    def _load_ok(self, v: int, route: _Route, k: int, s: int) -> bool:
        p = self.p
        d = p.demand[s]  # type: ignore[index]
        cap = p.capacity[v]  # type: ignore[index]
        if np.any(route.load[k] + d > cap) or np.any(route.load[k] + d < 0):
            return False
        if k < len(route.stops):
            if np.any(route.max_suffix[k + 1] + d > cap) or np.any(route.min_suffix[k + 1] + d < 0):
                return False
        return True

    def _arc_delta(self, v: int, route: _Route, k: int, s: int) -> int:
        p = self.p
        prev = self._depart_before(v, route, k)[0]
        c = self.cost
        n = len(route.stops)
        if k < n:
            nxt = self.loc[route.stops[k]]
            return int(c[prev, self.loc[s]] + c[self.loc[s], nxt] - c[prev, nxt])
        end = int(p.vehicle_end[v])  # type: ignore[index]
        if end == NONE:
            return int(c[prev, self.loc[s]])
        return int(c[prev, self.loc[s]] + c[self.loc[s], end] - c[prev, end])

    def _late_cost(self, s: int, start: int) -> int:
        dl = self.dl[s]
        return (start - dl) * self.w[s] if dl != NONE and start > dl else 0

    def _push_cost(self, route: _Route, k: int, push: int) -> int:
        """Upper bound of extra lateness downstream when position k starts ``push`` later."""
        if push <= 0:
            return 0
        extra = 0
        for j in range(k, len(route.stops)):
            s = route.stops[j]
            dl = self.dl[s]
            if dl != NONE and self.w[s]:
                extra += (max(route.start[j] + push, dl) - max(route.start[j], dl)) * self.w[s]
        return extra

    def _fixed_and_churn(self, v: int, route: _Route, items: Sequence[int]) -> int:
        p = self.p
        extra = int(p.vehicle_fixed_cost[v]) if not route.stops else 0  # type: ignore[index]
        for s in items:
            pref = int(p.preferred_vehicle[s])  # type: ignore[index]
            if pref != NONE and pref != v:
                extra += int(p.churn_penalty[s])  # type: ignore[index]
        return extra

    def best_single(self, s: int, vehicles: Sequence[int]) -> tuple[int, int, int] | None:
        """(cost, vehicle, position) of the cheapest feasible insertion of a stop."""
        best: tuple[int, int, int] | None = None
        for v in vehicles:
            route = self.routes[v]
            base = self._fixed_and_churn(v, route, (s,))
            for k in range(len(route.stops) + 1):
                ok, start, push = self._single_ok(v, route, k, s)
                if not ok or not self._load_ok(v, route, k, s):
                    continue
                c = base + self._arc_delta(v, route, k, s) + self._late_cost(s, start)
                c += self._push_cost(route, k, push)
                if best is None or c < best[0]:
                    best = (c, v, k)
        return best

    def best_pair(
        self, pick: int, deliv: int, vehicles: Sequence[int]
    ) -> tuple[int, int, int, int] | None:
        """(cost, vehicle, pickup position, delivery position in the new route).

        For each feasible pickup position the pushed schedule is carried forward
        once, and every delivery position after it is checked against the
        original latest-start times of the stops that follow the delivery.
        """
        p = self.p
        best: tuple[int, int, int, int] | None = None
        cost = self.cost
        lp, ld = self.loc[pick], self.loc[deliv]
        dem_p = p.demand[pick]  # type: ignore[index]
        delta = dem_p + p.demand[deliv]  # type: ignore[index]
        for v in vehicles:
            route = self.routes[v]
            tt = self.tt[v]
            cap = p.capacity[v]  # type: ignore[index]
            n = len(route.stops)
            base = self._fixed_and_churn(v, route, (pick, deliv))
            end = int(p.vehicle_end[v])  # type: ignore[index]
            limit = int(p.vehicle_end_time[v])  # type: ignore[index]
            for k in range(n + 1):
                ok, start_p, _ = self._single_ok(v, route, k, pick)
                if not ok or np.any(route.load[k] + dem_p > cap):
                    continue
                prev_loc = self._depart_before(v, route, k)[0]
                pick_arc = int(cost[prev_loc, lp])
                late = self._late_cost(pick, start_p)
                # Walk forward: t/here = departure and location of the last stop placed.
                t, here = start_p + self.svc[pick], lp
                arcs = pick_arc  # travel cost of the new prefix from position k on
                for m in range(k, n + 1):
                    # Delivery right after position m-1 of the original route (m >= k).
                    arrive = max(t + int(tt[here, ld]), self.tws[deliv])
                    if arrive <= self.twe[deliv] and (
                        not np.any(delta)
                        or (
                            np.all(route.max_suffix[m] + delta <= cap)
                            and np.all(route.min_suffix[m] + delta >= 0)
                        )
                    ):
                        dep = arrive + self.svc[deliv]
                        feasible = True
                        push_cost = 0
                        if m < n:
                            nxt = route.stops[m]
                            new_start = max(dep + int(tt[ld, self.loc[nxt]]), self.tws[nxt])
                            feasible = new_start <= route.latest[m]
                            if feasible:
                                push_cost = self._push_cost(route, m, new_start - route.start[m])
                            tail = (
                                int(cost[ld, self.loc[nxt]])
                                - int(
                                    cost[
                                        self.loc[route.stops[m - 1]]
                                        if m > 0
                                        else int(p.vehicle_start[v]),
                                        self.loc[nxt],
                                    ]
                                )
                                if m > k
                                else int(cost[ld, self.loc[nxt]])
                                - int(cost[prev_loc, self.loc[nxt]])
                            )
                        else:
                            finish = dep + (int(tt[ld, end]) if end != NONE else 0)
                            feasible = finish <= limit
                            last = route.stops[m - 1] if m > k else None
                            before = self.loc[last] if last is not None else prev_loc
                            tail = (
                                (int(cost[ld, end]) - int(cost[before, end])) if end != NONE else 0
                            )
                        if feasible:
                            c = (
                                base
                                + arcs
                                + int(cost[here, ld])
                                + tail
                                + late
                                + self._late_cost(deliv, arrive)
                                + push_cost
                            )
                            if best is None or c < best[0]:
                                best = (c, v, k, m + 1)
                    if m == n:
                        break
                    # Move stop m (original index) into the walked prefix.
                    s = route.stops[m]
                    start_s = max(t + int(tt[here, self.loc[s]]), self.tws[s])
                    if start_s > self.twe[s]:
                        break
                    late += self._late_cost(s, start_s) - self._late_cost(s, route.start[m])
                    if m == k:
                        arcs += int(cost[lp, self.loc[s]]) - int(cost[prev_loc, self.loc[s]])
                    t, here = start_s + self.svc[s], self.loc[s]
                    if np.any(route.load[m + 1] + dem_p > cap):
                        break
        return best

    def insert(self, v: int, positions: Sequence[tuple[int, int]]) -> None:
        stops = list(self.routes[v].stops)
        for k, s in positions:
            stops.insert(k, s)
        self.routes[v] = self._fresh(v, stops)

    def feasible_route(self, v: int, stops: list[int]) -> bool:
        r = self._fresh(v, stops)
        if any(r.start[k] > self.twe[s] for k, s in enumerate(stops)):
            return False
        if any(r.latest[k] < r.start[k] for k in range(len(stops))):
            return False
        cap = self.p.capacity[v]  # type: ignore[index]
        return bool(np.all(r.load <= cap) and np.all(r.load >= 0))


def _candidates(problem: RoutingProblem, s: int, allowed: list[int], k: int) -> list[int]:
    if len(allowed) <= k:
        return allowed
    loc = int(problem.stop_location[s])
    t = np.array(
        [problem.vehicle_time_matrix(v)[int(problem.vehicle_start[v]), loc] for v in allowed]
    )
    keep = np.argsort(t, kind="stable")[:k]
    return [allowed[i] for i in sorted(keep)]


def solve_greedy(
    problem: RoutingProblem,
    *,
    initial_routes: Sequence[Sequence[int]] | None = None,
    time_limit_s: float | None = None,
    candidates: int = CANDIDATES,
) -> RoutingResult:
    """A feasible plan by sequential cheapest insertion (see the module docstring)."""
    t0 = time.perf_counter()
    p = problem
    assert p.drop_penalty is not None and p.committed_vehicle is not None
    assert p.tw_end is not None and p.soft_deadline is not None
    g = _Greedy(p)
    warnings: list[str] = []
    partner = p.partner()
    is_pickup = p.is_pickup()
    placed: set[int] = set()

    if initial_routes is not None:
        for v, route in enumerate(list(initial_routes)[: p.num_vehicles]):
            kept: list[int] = []
            for s in route:
                s = int(s)
                if not 0 <= s < p.num_stops or s in placed or not p.vehicle_may_serve(v, s):
                    continue
                if partner[s] != NONE and (
                    int(partner[s]) not in route
                    or (not is_pickup[s] and int(partner[s]) not in kept)
                ):
                    continue
                if g.feasible_route(v, [*kept, s]):
                    kept.append(s)
            # a pickup kept without its delivery breaks pairing: remove such pickups
            kept = [s for s in kept if partner[s] == NONE or int(partner[s]) in kept]
            if kept and g.feasible_route(v, kept):
                g.insert(v, list(enumerate(kept)))
                placed.update(kept)

    items: list[tuple[int, ...]] = []
    for s in range(p.num_stops):
        if s in placed or (partner[s] != NONE and not is_pickup[s]):
            continue
        items.append((s, int(partner[s])) if partner[s] != NONE else (s,))

    def urgency(item: tuple[int, ...]) -> tuple[int, int]:
        last = item[-1]
        committed = 0 if p.committed_vehicle[item[0]] != NONE else 1  # type: ignore[index]
        due = int(p.tw_end[last])  # type: ignore[index]
        dl = int(p.soft_deadline[last])  # type: ignore[index]
        return committed, min(due, dl) if dl != NONE else due

    items.sort(key=urgency)
    all_vehicles = list(range(p.num_vehicles))
    unplaced: list[int] = []
    for item in items:
        if time_limit_s is not None and time.perf_counter() - t0 > time_limit_s:
            unplaced.extend(item)
            continue
        first = item[0]
        allowed = [v for v in all_vehicles if all(p.vehicle_may_serve(v, s) for s in item)]
        cands = _candidates(p, first, allowed, candidates)
        penalty = sum(int(p.drop_penalty[s]) for s in item)  # type: ignore[index]
        optional = all(
            p.drop_penalty[s] != NONE and p.committed_vehicle[s] == NONE  # type: ignore[index]
            for s in item
        )
        if len(item) == 1:
            found = g.best_single(first, cands)
            if found is None and len(cands) < len(allowed):
                found = g.best_single(first, allowed)
            if found is not None and not (optional and found[0] > penalty):
                g.insert(found[1], [(found[2], first)])
                continue
        else:
            pair = g.best_pair(first, item[1], cands)
            if pair is None and len(cands) < len(allowed):
                pair = g.best_pair(first, item[1], allowed)
            if pair is not None and not (optional and pair[0] > penalty):
                g.insert(pair[1], [(pair[2], first), (pair[3], item[1])])
                continue
        unplaced.extend(item)

    status = SolveStatus.FEASIBLE
    missing = [
        s
        for s in unplaced
        if p.drop_penalty[s] == NONE or p.committed_vehicle[s] != NONE  # type: ignore[index]
    ]
    if missing:
        status = SolveStatus.NO_SOLUTION
        warnings.append(f"{len(missing)} mandatory stops fit nowhere, e.g. {missing[:5]}")
    return build_result(
        p,
        [r.stops for r in g.routes],
        status=status,
        solve_time_s=time.perf_counter() - t0,
        backend="greedy",
        warnings=warnings,
    )
