"""Route arrays for regret insertion: vectorised insertion costs with O(1) feasibility.

A route of k stops has nodes 0 (vehicle start), 1..k (stops) and k+1 (end; a
virtual end with zero travel on an open route). Per node it keeps the
earliest service start ``A``, the latest start ``Z`` that keeps the rest of
the route feasible, the cumulative waiting ``CW`` (a push-forward of PF at
node a reaches node m as max(0, PF - (CW[m] - CW[a]))), and the loads after
each node with their suffix (and, for pairs, range) extremes.

A stop's window ends at its latest start on the route's vehicle (a pickup's
window is cut at the vehicle's pickup deadline, ``RoutingProblem.latest_starts``).
Inserting after node i is feasible when the new stop's window holds and the
next node is reached by ``Z[i+1]``; a pair's pickup after node i and delivery
after node j > i also needs the pushed nodes i+1..j to keep their windows.
Costs are exact except the lateness knock-on of very long routes (skipped
beyond a size budget). These costs only steer the search: the reported
objective always comes from ``solver.objective.evaluate``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from solver.problem import NONE, RoutingProblem

IntArray = np.ndarray
#: "Impossible" cost; far from int64 overflow even after adding real costs.
INF = 1 << 60
#: Largest tensor (candidates × positions × late stops) used for lateness knock-on.
DOWNSTREAM_BUDGET = 4_000_000


class ProblemArrays:
    """The problem's fields as plain arrays, plus derived per stop-vehicle tables."""

    def __init__(self, p: RoutingProblem) -> None:
        assert p.tw_start is not None and p.tw_end is not None and p.service_time is not None
        assert p.demand is not None and p.capacity is not None
        assert p.vehicle_initial_load is not None and p.vehicle_start_time is not None
        assert p.vehicle_end is not None and p.vehicle_end_time is not None
        assert p.soft_deadline is not None and p.lateness_weight is not None
        assert p.drop_penalty is not None and p.committed_vehicle is not None
        assert p.preferred_vehicle is not None and p.churn_penalty is not None
        assert p.travel_cost is not None and p.vehicle_fixed_cost is not None
        assert p.vehicle_profile is not None
        self.n, self.v, self.dims = p.num_stops, p.num_vehicles, p.num_dimensions
        self.loc, self.e, self.l = p.stop_location, p.tw_start, p.tw_end
        self.svc, self.dem = p.service_time, p.demand
        self.soft, self.w = p.soft_deadline, p.lateness_weight
        assert p.fee_deadline is not None and p.late_fee is not None
        self.fee_dl, self.fee = p.fee_deadline, p.late_fee
        self.drop, self.committed = p.drop_penalty, p.committed_vehicle
        self.tt, self.cost, self.profile = p.travel_time, p.travel_cost, p.vehicle_profile
        self.vstart, self.vend = p.vehicle_start, p.vehicle_end
        self.t0, self.t1 = p.vehicle_start_time, p.vehicle_end_time
        assert p.vehicle_pickup_end is not None
        self.pick_end = p.vehicle_pickup_end
        self._problem = p
        self._deadlines = p.has_pickup_deadlines()
        self.cap, self.init, self.fixed = p.capacity, p.vehicle_initial_load, p.vehicle_fixed_cost
        self.is_pickup = p.is_pickup()
        assert p.trip_group is not None
        self.group = p.trip_group
        self.has_groups = bool(np.any(p.trip_group != NONE))
        self.partner = p.partner()
        allow = np.ones((self.n, self.v), dtype=bool)
        if p.allowed_vehicles is not None:
            for s, vehicles in enumerate(p.allowed_vehicles):
                if vehicles is not None:
                    allow[s] = False
                    allow[s, list(vehicles)] = True
        for s in np.flatnonzero(self.committed != NONE).tolist():
            allow[s] = False
            allow[s, int(self.committed[s])] = True
        self.allow = allow
        pref = p.preferred_vehicle
        other = (pref[:, None] != NONE) & (pref[:, None] != np.arange(self.v)[None, :])
        self.churn_cost = np.where(other, p.churn_penalty[:, None], 0).astype(np.int64)
        self._sig = [
            (
                int(self.vstart[v]),
                int(self.vend[v]),
                int(self.profile[v]),
                int(self.t0[v]),
                int(self.t1[v]),
                int(self.pick_end[v]),
                int(self.fixed[v]),
                *self.cap[v].tolist(),
                *self.init[v].tolist(),
            )
            for v in range(self.v)
        ]

    def latest(self, v: int) -> IntArray:
        """Per stop, its latest service start on vehicle v (pickups capped by v's
        pickup deadline); the window ends ``l`` when no vehicle has a pickup deadline."""
        return self._problem.latest_starts(v) if self._deadlines else self.l

    def signature(self, v: int) -> tuple[int, ...]:
        """Vehicles with equal signatures are interchangeable while empty."""
        return self._sig[v]


@dataclass(frozen=True)
class Simulation:
    """A route driven at its earliest schedule (regret insertion's own bookkeeping
    for repairs and forced insertions; never the reported objective)."""

    starts: list[int]
    travel: int
    lateness: int
    cost: int  # travel + weighted lateness and late fees (no fixed cost, churn or drops)
    violation: int  # total excess over windows, shift end and capacity
    first_bad: int | None  # first stop position that breaks a rule (k: the shift end)


#: On-board group markers: nothing grouped on board, or orders of several groups.
EMPTY, MIXED = -2, -3


def onboard_groups(d: ProblemArrays, stops: list[int]) -> list[int]:
    """Group of the grouped orders on board after each node (0: the start), or EMPTY/MIXED."""
    count: dict[int, int] = {}
    for s in stops:  # on-board deliveries (no pickup) are carried from the start
        g = int(d.group[s])
        if g != NONE and d.partner[s] == NONE:
            count[g] = count.get(g, 0) + 1

    def state() -> int:
        live = [g for g, c in count.items() if c > 0]
        return EMPTY if not live else live[0] if len(live) == 1 else MIXED

    out = [state()]
    for s in stops:
        g = int(d.group[s])
        if g != NONE:
            count[g] = count.get(g, 0) + (1 if d.is_pickup[s] else -1)
        out.append(state())
    return out


def trip_group_breaks(d: ProblemArrays, stops: list[int], og: list[int]) -> list[int]:
    """Positions of grouped pickups that find another group on board (``og`` from
    ``onboard_groups``); empty when the one-group-per-trip rule holds."""
    return [
        m
        for m, s in enumerate(stops)
        if d.is_pickup[s] and d.group[s] != NONE and og[m] not in (EMPTY, int(d.group[s]))
    ]


def simulate(d: ProblemArrays, v: int, stops: list[int]) -> Simulation:
    """Drive a route and report its schedule, costs and how badly it breaks rules."""
    tt = d.tt[int(d.profile[v])]
    latest = d.latest(v)
    here = int(d.vstart[v])
    t = int(d.t0[v])
    load = d.init[v].tolist()
    cap = d.cap[v].tolist()
    starts: list[int] = []
    travel = lateness = late_cost = violation = 0
    first_bad: int | None = None
    for k, s in enumerate(stops):
        loc = int(d.loc[s])
        travel += int(d.cost[here, loc])
        t = max(t + int(tt[here, loc]), int(d.e[s]))
        starts.append(t)
        excess = max(0, t - int(latest[s]))
        soft = int(d.soft[s])
        if soft != NONE and t > soft:
            lateness += t - soft
            late_cost += (t - soft) * int(d.w[s])
        fee_dl = int(d.fee_dl[s])
        if fee_dl != NONE and t > fee_dl:
            late_cost += int(d.fee[s])
        t += int(d.svc[s])
        for dim, change in enumerate(d.dem[s].tolist()):
            load[dim] += change
            excess += max(0, load[dim] - cap[dim]) + max(0, -load[dim])
        if excess and first_bad is None:
            first_bad = k
        violation += excess
        here = loc
    if stops:
        end = int(d.vend[v])
        if end != NONE:
            travel += int(d.cost[here, end])
            t += int(tt[here, end])
        if t > d.t1[v]:
            violation += t - int(d.t1[v])
            first_bad = len(stops) if first_bad is None else first_bad
    if d.has_groups:
        breaks = trip_group_breaks(d, stops, onboard_groups(d, stops))
        if breaks:
            violation += len(breaks)
            first_bad = breaks[0] if first_bad is None else min(first_bad, breaks[0])
    return Simulation(starts, travel, lateness, travel + late_cost, violation, first_bad)


class Route:
    """One vehicle's stops with the arrays that price insertions (see module doc)."""

    def __init__(self, d: ProblemArrays, v: int, stops: list[int]) -> None:
        self.d, self.v, self.stops = d, v, stops
        #: latest service start per stop on this vehicle (windows and pickup deadline)
        self.l = lv = d.latest(v)
        self.T = T = d.tt[int(d.profile[v])]
        k = self.k = len(stops)
        st = np.asarray(stops, dtype=np.int64)
        end = int(d.vend[v])
        self.open = end == NONE
        locs = np.empty(k + 2, dtype=np.int64)
        locs[0] = d.vstart[v]
        locs[1 : k + 1] = d.loc[st]
        locs[k + 1] = 0 if self.open else end
        self.locs = locs
        leg = T[locs[:-1], locs[1:]]
        legc = d.cost[locs[:-1], locs[1:]]
        if self.open:
            leg[k] = legc[k] = 0
        svc = np.zeros(k + 2, dtype=np.int64)
        svc[1 : k + 1] = d.svc[st]
        e_list, l_list = d.e[st].tolist(), lv[st].tolist()
        leg_list, s_list = leg.tolist(), svc.tolist()
        a = [int(d.t0[v])] + [0] * (k + 1)
        cw = [0] * (k + 2)
        for m in range(1, k + 1):
            arrive = a[m - 1] + s_list[m - 1] + leg_list[m - 1]
            a[m] = max(arrive, e_list[m - 1])
            cw[m] = cw[m - 1] + a[m] - arrive
        a[k + 1] = a[k] + s_list[k] + leg_list[k]
        cw[k + 1] = cw[k]
        z = [0] * (k + 2)
        z[k + 1] = int(d.t1[v])
        for m in range(k, -1, -1):
            bound = z[m + 1] - s_list[m] - leg_list[m]
            z[m] = min(l_list[m - 1], bound) if m else bound
        self.A = np.array(a, dtype=np.int64)
        self.Z = np.array(z, dtype=np.int64)
        self.CW = np.array(cw, dtype=np.int64)
        self.S = svc
        self.dep = self.A[: k + 1] + svc[: k + 1]
        self.cpn = legc if k else np.zeros(1, dtype=np.int64)  # an unused vehicle drives nowhere
        load = np.empty((k + 1, d.dims), dtype=np.int64)
        load[0] = d.init[v]
        if k:
            load[1:] = d.init[v] + np.cumsum(d.dem[st], axis=0)
        self.load = load
        self.mx = np.maximum.accumulate(load[::-1], axis=0)[::-1]
        self.mn = np.minimum.accumulate(load[::-1], axis=0)[::-1]
        cap = d.cap[v]
        self.feasible = bool(
            np.all(self.A[1 : k + 1] <= lv[st])
            and a[k + 1] <= z[k + 1]
            and np.all(load <= cap)
            and np.all(load >= 0)
        )
        self.og: IntArray | None = None
        if d.has_groups:
            og = onboard_groups(d, stops)
            self.feasible = self.feasible and not trip_group_breaks(d, stops, og)
            self.og = np.array(og, dtype=np.int64)
        late = (d.soft[st] != NONE) & (d.w[st] > 0)
        self.late_nodes = np.flatnonzero(late) + 1
        fees = (d.fee_dl[st] != NONE) & (d.fee[st] > 0)
        self.fee_nodes = np.flatnonzero(fees) + 1
        #: nodes whose start is priced (lateness or a fee): pushes there may cost
        self.priced = bool(self.late_nodes.size or self.fee_nodes.size)
        #: travel + weighted lateness and late fees of the route as it stands
        self.cost = int(legc.sum()) if k else 0
        if self.late_nodes.size:
            s_late = st[self.late_nodes - 1]
            self.late_w = d.w[s_late]
            self.late_soft = d.soft[s_late]
            self.late_a = self.A[self.late_nodes]
            self.late_base = np.maximum(0, self.late_a - self.late_soft)
            self.cost += int((self.late_w * self.late_base).sum())
        if self.fee_nodes.size:
            s_fee = st[self.fee_nodes - 1]
            self.fee_amt = d.fee[s_fee]
            self.fee_dl = d.fee_dl[s_fee]
            self.fee_a = self.A[self.fee_nodes]
            self.fee_base = np.where(self.fee_a > self.fee_dl, self.fee_amt, 0)
            self.cost += int(self.fee_base.sum())

    # ---- helpers -------------------------------------------------------------

    def _from_prev(self, lu: IntArray) -> tuple[IntArray, IntArray]:
        prev = self.locs[: self.k + 1]
        return self.T[prev[None, :], lu[:, None]], self.d.cost[prev[None, :], lu[:, None]]

    def _to_next(self, lu: IntArray) -> tuple[IntArray, IntArray]:
        nxt = self.locs[1:]
        t = self.T[lu[:, None], nxt[None, :]]
        c = self.d.cost[lu[:, None], nxt[None, :]]
        if self.open:
            t[:, self.k] = 0
            c[:, self.k] = 0
        return t, c

    def _own_late(self, stops: IntArray, start: IntArray) -> IntArray:
        """Weighted lateness and late fees of inserted stops; ``start`` has the stops on axis 0."""
        soft = self.d.soft[stops]
        shape = (-1,) + (1,) * (start.ndim - 1)
        late = np.maximum(0, start - soft.reshape(shape)) * self.d.w[stops].reshape(shape)
        out = np.where((soft != NONE).reshape(shape), late, 0)
        fee_dl = self.d.fee_dl[stops].reshape(shape)
        fee = np.where((fee_dl != NONE) & (start > fee_dl), self.d.fee[stops].reshape(shape), 0)
        return out + fee  # type: ignore[no-any-return]

    def _down(
        self, ok: IntArray, pf: IntArray, first: IntArray, last: IntArray | None = None
    ) -> IntArray:
        """Lateness cost and late fees added at nodes first..last by a push-forward ``pf``
        at node first.

        Evaluated only where ``ok`` (feasible cells); zero elsewhere.
        """
        out = np.zeros(ok.shape, dtype=np.int64)
        cells = np.nonzero(ok)
        count = cells[0].size
        nodes = self.late_nodes.size + self.fee_nodes.size
        if not nodes or not count or count * nodes > DOWNSTREAM_BUDGET:
            return out
        pf_c = np.broadcast_to(pf, ok.shape)[cells][:, None]
        first_c = np.broadcast_to(first, ok.shape)[cells][:, None]
        last_c = None if last is None else np.broadcast_to(last, ok.shape)[cells][:, None]

        def pushed_at(m: IntArray) -> tuple[IntArray, IntArray]:
            pushed = np.maximum(0, pf_c - (self.CW[m][None, :] - self.CW[first_c]))
            mask = m >= first_c
            if last_c is not None:
                mask &= m <= last_c
            return pushed, mask

        total = np.zeros(count, dtype=np.int64)
        if self.late_nodes.size:
            pushed, mask = pushed_at(self.late_nodes)
            extra = self.late_w * (
                np.maximum(0, self.late_a + pushed - self.late_soft) - self.late_base
            )
            total += np.where(mask, extra, 0).sum(axis=1)
        if self.fee_nodes.size:
            pushed, mask = pushed_at(self.fee_nodes)
            extra = np.where(self.fee_a + pushed > self.fee_dl, self.fee_amt, 0) - self.fee_base
            total += np.where(mask, extra, 0).sum(axis=1)
        out[cells] = total
        return out

    def _group_bad_prefix(self, stops: IntArray) -> IntArray | None:
        """Per stop, prefix counts over nodes 0..k of 'another group is on board' (or None)."""
        if self.og is None:
            return None
        g = self.d.group[stops][:, None]
        og = self.og[None, :]
        bad = (g != NONE) & (og != EMPTY) & (og != g)
        out = np.zeros((len(stops), self.k + 2), dtype=np.int64)
        np.cumsum(bad, axis=1, out=out[:, 1:])
        return out

    def _load_ok(self, low: IntArray, high: IntArray) -> IntArray:
        """Per candidate: all dimensions of [low, high] inside [0, capacity]."""
        cap = self.d.cap[self.v]
        return np.all((high <= cap) & (low >= 0), axis=-1)  # type: ignore[no-any-return]

    # ---- insertion costs -----------------------------------------------------

    def insert_single(self, stops: IntArray) -> tuple[IntArray, IntArray]:
        """Cheapest insertion of each stop alone: (cost or INF, index in the stop list)."""
        d, k = self.d, self.k
        lu = d.loc[stops]
        t_in, c_in = self._from_prev(lu)
        t_out, c_out = self._to_next(lu)
        start = np.maximum(self.dep[None, :] + t_in, d.e[stops][:, None])
        leave = start + d.svc[stops][:, None]
        ok = (start <= self.l[stops][:, None]) & (leave + t_out <= self.Z[None, 1:])
        dem = d.dem[stops][:, None, :]
        ok &= self._load_ok(self.mn[None] + dem, self.mx[None] + dem)
        prefix = self._group_bad_prefix(stops)
        if prefix is not None:
            # a lone grouped delivery is on board from the start until it is inserted
            lone = (d.group[stops] != NONE) & (d.partner[stops] == NONE)
            ok &= ~(lone[:, None] & (prefix[:, 1:] > 0))
        cost = c_in + c_out - self.cpn[None, :] + self._own_late(stops, start)
        if self.priced:
            pf = np.maximum(0, leave + t_out - self.A[None, 1:])
            cost += self._down(ok, pf, np.arange(1, k + 2)[None, :])
        cost = np.where(ok, cost, INF)
        best = np.argmin(cost, axis=1)
        return cost[np.arange(len(stops)), best], best

    def insert_pair(self, picks: IntArray, drops: IntArray) -> tuple[IntArray, IntArray, IntArray]:
        """Cheapest pair insertion: (cost or INF, pickup index, delivery index).

        The pickup goes after node i and the delivery after node j >= i of the
        current route (j == i: the delivery right after the pickup).
        """
        d, k, kp = self.d, self.k, self.k + 1
        q = len(picks)
        lp, ld = d.loc[picks], d.loc[drops]
        tp_in, cp_in = self._from_prev(lp)
        tp_out, cp_out = self._to_next(lp)
        td_out, cd_out = self._to_next(ld)
        st_p = np.maximum(self.dep[None, :] + tp_in, d.e[picks][:, None])
        ok_p = st_p <= self.l[picks][:, None]
        leave_p = st_p + d.svc[picks][:, None]
        e_d, l_d, s_d = d.e[drops][:, None], self.l[drops][:, None], d.svc[drops][:, None]
        dp, dd = d.dem[picks], d.dem[drops]
        late_p = self._own_late(picks, st_p)

        # delivery right after the pickup (j == i)
        st_d0 = np.maximum(leave_p + self.T[lp, ld][:, None], e_d)
        out0 = st_d0 + s_d + td_out
        ok0 = ok_p & (st_d0 <= l_d) & (out0 <= self.Z[None, 1:])
        after_p = self.load[None] + dp[:, None, :]
        ok0 &= self._load_ok(after_p, after_p)
        both = (dp + dd)[:, None, :]
        ok0 &= self._load_ok(self.mn[None] + both, self.mx[None] + both)
        cost0 = cp_in + d.cost[lp, ld][:, None] + cd_out - self.cpn[None, :]
        cost0 += late_p + self._own_late(drops, st_d0)
        if self.priced:
            pf2 = np.maximum(0, out0 - self.A[None, 1:])
            cost0 += self._down(ok0, pf2, np.arange(1, k + 2)[None, :])
        grid = np.full((q, kp, kp), INF, dtype=np.int64)
        diag = np.arange(kp)
        grid[:, diag, diag] = np.where(ok0, cost0, INF)

        if k:  # delivery after a later node j > i
            self._later_deliveries(
                grid, picks, drops, ok_p, leave_p, tp_out, cp_in, cp_out, td_out, cd_out, late_p
            )
        prefix = self._group_bad_prefix(picks)
        if prefix is not None:
            # the new order is on board over nodes i..j: none may carry another group
            span = prefix[:, None, 1:] - prefix[:, :-1, None]  # [r, i, j] = bad in i..j
            grid[span > 0] = INF
        flat = grid.reshape(q, kp * kp)
        best = np.argmin(flat, axis=1)
        return flat[np.arange(q), best], best // kp, best % kp

    def _later_deliveries(
        self,
        grid: IntArray,
        picks: IntArray,
        drops: IntArray,
        ok_p: IntArray,
        leave_p: IntArray,
        tp_out: IntArray,
        cp_in: IntArray,
        cp_out: IntArray,
        td_out: IntArray,
        cd_out: IntArray,
        late_p: IntArray,
    ) -> None:
        """Fill grid[:, i, j] for j > i: pickup after node i, delivery after node j."""
        d, kp = self.d, self.k + 1
        ld = d.loc[drops]
        A, CW = self.A, self.CW
        pf1 = np.maximum(0, leave_p + tp_out - A[None, 1:])  # push at node i+1, by i
        # windows of the pushed nodes i+1..j: pf1 <= min_{m in i+1..j} (l_m - A_m + CW[m]) - CW[i+1]
        g = np.full(kp, INF, dtype=np.int64)
        g[1:] = self.l[np.asarray(self.stops, dtype=np.int64)] - A[1:kp] + CW[1:kp]
        upper = np.triu(np.ones((kp, kp), dtype=bool), 1)
        rg = np.minimum.accumulate(np.where(upper, g[None, :], INF), axis=1)
        limit = rg - CW[1 : kp + 1][:, None]
        ok = ok_p[:, :, None] & (pf1[:, :, None] <= limit[None]) & upper[None]
        pf_j = np.maximum(0, pf1[:, :, None] - (CW[None, None, :kp] - CW[None, 1 : kp + 1, None]))
        leave_j = A[None, None, :kp] + pf_j + self.S[None, None, :kp]
        nodes = self.locs[:kp]
        st_d = np.maximum(
            leave_j + self.T[nodes[None, :], ld[:, None]][:, None, :], d.e[drops][:, None, None]
        )
        out_d = st_d + d.svc[drops][:, None, None] + td_out[:, None, :]
        ok &= (st_d <= self.l[drops][:, None, None]) & (out_d <= self.Z[None, None, 1:])
        # loads: nodes i..j carry the pickup, nodes j..k carry both
        dp, dd = d.dem[picks], d.dem[drops]
        big = np.iinfo(np.int64).max // 4
        tri = np.triu(np.ones((kp, kp), dtype=bool))[:, :, None]
        rmx = np.maximum.accumulate(np.where(tri, self.load[None, :, :], -big), axis=1)
        rmn = np.minimum.accumulate(np.where(tri, self.load[None, :, :], big), axis=1)
        ok &= self._load_ok(rmn[None] + dp[:, None, None, :], rmx[None] + dp[:, None, None, :])
        both = (dp + dd)[:, None, :]
        ok &= self._load_ok(self.mn[None] + both, self.mx[None] + both)[:, None, :]
        cost = (cp_in + cp_out - self.cpn[None, :])[:, :, None] + (
            d.cost[nodes[None, :], ld[:, None]] + cd_out - self.cpn[None, :]
        )[:, None, :]
        cost += late_p[:, :, None] + self._own_late(drops, st_d)
        if self.priced:
            ii = np.arange(kp)[:, None]
            jj = np.arange(kp)[None, :]
            cost += self._down(ok, pf1[:, :, None], ii + 1, jj)
            pf2 = np.maximum(0, out_d - A[None, None, 1 : kp + 1])
            cost += self._down(ok, pf2, jj + 1)
        grid[:] = np.where(ok, cost, grid)
