"""Immutable routing and assignment problems: integer arrays in, nothing else.

Units are integers chosen by the caller (the engine uses seconds and metres;
the benchmarks use scaled Euclidean distance). Time 0 is "now" for the engine.

A routing problem has *locations* (rows/columns of the matrices), *stops*
(nodes to visit, each at a location) and *vehicles* (each starting at a
location, ending at a location or anywhere). Pickup-and-delivery pairs are
pairs of stop indices. Everything is validated once, at construction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import numpy.typing as npt

from solver.errors import InvalidProblem

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

#: Sentinel for "no value" in integer fields (no end location, no deadline, mandatory stop).
NONE = -1
#: Upper bound for any time value; keeps OR-Tools cumuls far from int64 overflow.
HORIZON_MAX = 10**12


def _as_int_array(name: str, value: Any, shape: tuple[int, ...] | None = None) -> IntArray:
    arr = np.asarray(value)
    if arr.dtype.kind == "f":
        if not np.all(np.isfinite(arr)):
            raise InvalidProblem(f"{name} holds non-finite values")
        if not np.all(arr == np.round(arr)):
            raise InvalidProblem(f"{name} must hold integers (scale and round at the edge)")
    elif arr.dtype.kind not in "iub":
        raise InvalidProblem(f"{name} must be an integer array, got dtype {arr.dtype}")
    out = np.ascontiguousarray(arr, dtype=np.int64)
    if shape is not None and out.shape != shape:
        raise InvalidProblem(f"{name} has shape {out.shape}, expected {shape}")
    out.setflags(write=False)
    return out


#: Trip groups are ids below this (their squares must stay far inside int64).
TRIP_GROUP_MAX = 1_000_000


@dataclass(frozen=True, eq=False)
class RoutingProblem:
    """A rich pickup-and-delivery / VRPTW instance.

    Matrices (non-negative integers):
        travel_time: (L, L), or (K, L, L) with one matrix per travel profile
            (walk, bicycle, car...); always stored as (K, L, L).
        vehicle_profile: (V,) profile index of each vehicle (default 0).
        travel_cost: (L, L) objective cost of the arc (defaults to profile 0's time).

    Stops (N):
        stop_location: location index of each stop.
        service_time: time spent at the stop (added after service starts).
        demand: (N, D) load change; pickups positive, deliveries negative.
        tw_start, tw_end: hard window for the start of service.
        soft_deadline: service should start by then (NONE: no soft deadline).
        lateness_weight: cost per time unit of lateness past soft_deadline.
        fee_deadline / late_fee: a one-off cost ``late_fee`` when service starts after
            ``fee_deadline`` (NONE: none): a step where a linear price cannot tell
            "late" from "on time", e.g. a promise missed by a second or by an hour.
        drop_penalty: cost of leaving the stop unserved (NONE: mandatory).
        allowed_vehicles: per stop, the vehicles that may serve it (None: all).
        committed_vehicle: vehicle the stop must stay on (NONE: free).
        preferred_vehicle / churn_penalty: soft wish to keep a previous assignment.

        trip_group: a group per stop (NONE: none) for the one-group-per-trip rule:
            a vehicle may pick up an order of group g only while every grouped order
            on board also belongs to g (e.g. one merchant per trip). A pair's two
            stops share their group; a grouped stop without a pair must be a
            delivery committed to its vehicle (its order is on board from the start).

    Pairs (P, 2): (pickup stop, delivery stop); same vehicle, pickup first.
    A delivery whose goods are already on board appears alone (no pair) with
    committed_vehicle set and the load in vehicle_initial_load.

    Vehicles (V):
        vehicle_start: start location.
        vehicle_end: end location, or NONE for an open route (ends at last stop).
        capacity: (V, D); vehicle_initial_load: (V, D) load already on board.
        vehicle_start_time: earliest departure; vehicle_end_time: shift end
            (latest arrival at the end location, or latest service end on an open route).
        vehicle_pickup_end: latest start of service at any pickup (the first stop of a
            pair) on the vehicle (HORIZON_MAX: none); deliveries may still follow it up
            to vehicle_end_time (e.g. a courier who may not pick up after its shift ends
            but still takes what it carries to the door).
        vehicle_fixed_cost: cost charged when the vehicle is used.
    """

    travel_time: IntArray
    stop_location: IntArray
    vehicle_start: IntArray
    travel_cost: IntArray | None = None
    service_time: IntArray | None = None
    demand: IntArray | None = None
    tw_start: IntArray | None = None
    tw_end: IntArray | None = None
    soft_deadline: IntArray | None = None
    lateness_weight: IntArray | None = None
    fee_deadline: IntArray | None = None
    late_fee: IntArray | None = None
    drop_penalty: IntArray | None = None
    allowed_vehicles: tuple[frozenset[int] | None, ...] | None = None
    committed_vehicle: IntArray | None = None
    preferred_vehicle: IntArray | None = None
    churn_penalty: IntArray | None = None
    pairs: IntArray | None = None
    vehicle_end: IntArray | None = None
    capacity: IntArray | None = None
    vehicle_initial_load: IntArray | None = None
    vehicle_start_time: IntArray | None = None
    vehicle_end_time: IntArray | None = None
    vehicle_pickup_end: IntArray | None = None
    vehicle_fixed_cost: IntArray | None = None
    vehicle_profile: IntArray | None = None
    trip_group: IntArray | None = None
    _derived: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        tt = _as_int_array("travel_time", self.travel_time)
        if tt.ndim == 2:
            tt = tt.reshape(1, *tt.shape)
            tt.setflags(write=False)
        if tt.ndim != 3 or tt.shape[1] != tt.shape[2]:
            raise InvalidProblem(f"travel_time must be (L, L) or (K, L, L), got {tt.shape}")
        n_loc = tt.shape[1]
        if tt.size and tt.min() < 0:
            raise InvalidProblem("travel_time must be non-negative")
        set_ = object.__setattr__
        set_(self, "travel_time", tt)
        cost = tt[0] if self.travel_cost is None else _as_int_array("travel_cost", self.travel_cost)
        if cost.shape != tt.shape[1:]:
            raise InvalidProblem("travel_cost must have the shape of travel_time")
        if n_loc and cost.min() < 0:
            raise InvalidProblem("travel_cost must be non-negative")
        set_(self, "travel_cost", cost)

        loc = _as_int_array("stop_location", self.stop_location)
        if loc.ndim != 1:
            raise InvalidProblem("stop_location must be one-dimensional")
        n = loc.shape[0]
        if n and (loc.min() < 0 or loc.max() >= n_loc):
            raise InvalidProblem("stop_location refers to a location outside the matrix")
        set_(self, "stop_location", loc)

        vs = _as_int_array("vehicle_start", self.vehicle_start)
        if vs.ndim != 1:
            raise InvalidProblem("vehicle_start must be one-dimensional")
        v = vs.shape[0]
        if v and (vs.min() < 0 or vs.max() >= n_loc):
            raise InvalidProblem("vehicle_start refers to a location outside the matrix")
        set_(self, "vehicle_start", vs)

        def stop_field(name: str, default: int) -> None:
            raw = getattr(self, name)
            arr = (
                np.full(n, default, dtype=np.int64)
                if raw is None
                else _as_int_array(name, raw, (n,))
            )
            arr.setflags(write=False)
            set_(self, name, arr)

        def vehicle_field(name: str, default: int) -> None:
            raw = getattr(self, name)
            arr = (
                np.full(v, default, dtype=np.int64)
                if raw is None
                else _as_int_array(name, raw, (v,))
            )
            arr.setflags(write=False)
            set_(self, name, arr)

        stop_field("service_time", 0)
        stop_field("tw_start", 0)
        stop_field("tw_end", HORIZON_MAX)
        stop_field("soft_deadline", NONE)
        stop_field("lateness_weight", 0)
        stop_field("fee_deadline", NONE)
        stop_field("late_fee", 0)
        stop_field("drop_penalty", NONE)
        stop_field("committed_vehicle", NONE)
        stop_field("preferred_vehicle", NONE)
        stop_field("churn_penalty", 0)
        stop_field("trip_group", NONE)
        vehicle_field("vehicle_end", NONE)
        vehicle_field("vehicle_start_time", 0)
        vehicle_field("vehicle_end_time", HORIZON_MAX)
        vehicle_field("vehicle_pickup_end", HORIZON_MAX)
        vehicle_field("vehicle_fixed_cost", 0)
        vehicle_field("vehicle_profile", 0)
        vp = self.vehicle_profile
        assert vp is not None
        if v and (vp.min() < 0 or vp.max() >= tt.shape[0]):
            raise InvalidProblem("vehicle_profile refers to a travel profile that does not exist")

        dem = (
            np.zeros((n, 1), dtype=np.int64)
            if self.demand is None
            else _as_int_array("demand", self.demand)
        )
        if dem.ndim == 1:
            dem = dem.reshape(n, 1)
        if dem.shape[0] != n or dem.ndim != 2:
            raise InvalidProblem(f"demand must have shape (N, D), got {dem.shape}")
        dims = dem.shape[1]
        dem.setflags(write=False)
        set_(self, "demand", dem)
        big = np.iinfo(np.int32).max
        cap = (
            np.full((v, dims), big, dtype=np.int64)
            if self.capacity is None
            else _as_int_array("capacity", self.capacity)
        )
        if cap.ndim == 1:
            cap = cap.reshape(v, 1)
        if cap.shape != (v, dims):
            raise InvalidProblem(f"capacity must have shape (V, D) = {(v, dims)}, got {cap.shape}")
        if v and cap.min() < 0:
            raise InvalidProblem("capacity must be non-negative")
        cap.setflags(write=False)
        set_(self, "capacity", cap)
        init = (
            np.zeros((v, dims), dtype=np.int64)
            if self.vehicle_initial_load is None
            else _as_int_array("vehicle_initial_load", self.vehicle_initial_load)
        )
        if init.ndim == 1:
            init = init.reshape(v, 1)
        if init.shape != (v, dims):
            raise InvalidProblem("vehicle_initial_load must have the shape of capacity")
        if v and (init.min() < 0 or np.any(init > cap)):
            raise InvalidProblem("vehicle_initial_load must lie within [0, capacity]")
        init.setflags(write=False)
        set_(self, "vehicle_initial_load", init)

        pairs = (
            np.zeros((0, 2), dtype=np.int64)
            if self.pairs is None
            else _as_int_array("pairs", self.pairs)
        )
        if pairs.size == 0:
            pairs = np.zeros((0, 2), dtype=np.int64)
        if pairs.ndim != 2 or pairs.shape[1] != 2:
            raise InvalidProblem(f"pairs must have shape (P, 2), got {pairs.shape}")
        if pairs.size and (pairs.min() < 0 or pairs.max() >= n):
            raise InvalidProblem("pairs refer to stops that do not exist")
        flat = pairs.ravel()
        if len(np.unique(flat)) != len(flat):
            raise InvalidProblem("a stop appears in more than one pair or twice in one")
        pairs.setflags(write=False)
        set_(self, "pairs", pairs)

        ve = self.vehicle_end
        assert ve is not None
        if v and np.any((ve != NONE) & ((ve < 0) | (ve >= n_loc))):
            raise InvalidProblem("vehicle_end refers to a location outside the matrix")
        self._check_windows(n, v)
        self._check_vehicle_sets(n, v)

    def _check_windows(self, n: int, v: int) -> None:
        assert self.tw_start is not None and self.tw_end is not None
        assert self.service_time is not None and self.lateness_weight is not None
        if n and np.any(self.tw_start > self.tw_end):
            bad = int(np.argmax(self.tw_start > self.tw_end))
            raise InvalidProblem(f"stop {bad} has a time window that closes before it opens")
        for name in ("service_time", "lateness_weight", "late_fee", "churn_penalty"):
            arr = getattr(self, name)
            if n and arr.min() < 0:
                raise InvalidProblem(f"{name} must be non-negative")
        for name in ("tw_start", "tw_end", "soft_deadline", "fee_deadline"):
            arr = getattr(self, name)
            if n and arr.max() > HORIZON_MAX:
                raise InvalidProblem(f"{name} exceeds the horizon limit {HORIZON_MAX}")
        dp = self.drop_penalty
        assert dp is not None
        if n and np.any((dp < 0) & (dp != NONE)):
            raise InvalidProblem("drop_penalty must be non-negative or NONE (mandatory)")
        st, et = self.vehicle_start_time, self.vehicle_end_time
        assert st is not None and et is not None
        if v and np.any(st > et):
            raise InvalidProblem("a vehicle's shift ends before it starts")
        pe = self.vehicle_pickup_end
        assert pe is not None
        if v and (pe.min() < 0 or pe.max() > HORIZON_MAX):
            raise InvalidProblem(f"vehicle_pickup_end must lie in [0, {HORIZON_MAX}]")

    def _check_vehicle_sets(self, n: int, v: int) -> None:
        allowed = self.allowed_vehicles
        if allowed is not None:
            if len(allowed) != n:
                raise InvalidProblem("allowed_vehicles must have one entry per stop")
            norm: list[frozenset[int] | None] = []
            for s, vehicles in enumerate(allowed):
                if vehicles is None:
                    norm.append(None)
                    continue
                fs = frozenset(int(x) for x in vehicles)
                if any(x < 0 or x >= v for x in fs):
                    raise InvalidProblem(f"stop {s} allows a vehicle that does not exist")
                norm.append(fs)
            object.__setattr__(self, "allowed_vehicles", tuple(norm))
        cv = self.committed_vehicle
        assert cv is not None
        if n and np.any((cv != NONE) & ((cv < 0) | (cv >= v))):
            raise InvalidProblem("committed_vehicle refers to a vehicle that does not exist")
        pv = self.preferred_vehicle
        assert pv is not None
        if n and np.any((pv != NONE) & ((pv < 0) | (pv >= v))):
            raise InvalidProblem("preferred_vehicle refers to a vehicle that does not exist")
        for p, d in self.pairs_list():
            if cv[p] != cv[d]:
                raise InvalidProblem(f"pair ({p}, {d}) is committed to two different vehicles")
        self._check_trip_groups(n)

    def _check_trip_groups(self, n: int) -> None:
        tg, cv = self.trip_group, self.committed_vehicle
        assert tg is not None and cv is not None
        if not n or not np.any(tg != NONE):
            return
        if np.any((tg != NONE) & ((tg < 0) | (tg >= TRIP_GROUP_MAX))):
            raise InvalidProblem(f"trip_group must be NONE or lie in [0, {TRIP_GROUP_MAX})")
        partner = self.partner()
        for p, d in self.pairs_list():
            if tg[p] != tg[d]:
                raise InvalidProblem(f"pair ({p}, {d}) has two different trip groups")
        lone = (tg != NONE) & (partner == NONE)
        if np.any(lone & (cv == NONE)):
            bad = int(np.argmax(lone & (cv == NONE)))
            raise InvalidProblem(
                f"stop {bad} has a trip group but no pair: only an on-board delivery "
                "committed to its vehicle may"
            )

    # ---- convenience views -------------------------------------------------

    @property
    def num_stops(self) -> int:
        return int(self.stop_location.shape[0])

    @property
    def num_vehicles(self) -> int:
        return int(self.vehicle_start.shape[0])

    @property
    def num_locations(self) -> int:
        return int(self.travel_time.shape[1])

    def vehicle_time_matrix(self, vehicle: int) -> IntArray:
        """The (L, L) travel-time matrix of one vehicle's profile."""
        assert self.vehicle_profile is not None
        return self.travel_time[int(self.vehicle_profile[vehicle])]  # type: ignore[no-any-return]

    @property
    def num_dimensions(self) -> int:
        assert self.demand is not None
        return int(self.demand.shape[1])

    def pairs_list(self) -> list[tuple[int, int]]:
        assert self.pairs is not None
        return [(int(p), int(d)) for p, d in self.pairs]

    def partner(self) -> IntArray:
        """Per stop, the other stop of its pair (NONE for unpaired stops)."""
        cached = self._derived.get("partner")
        if cached is None:
            out = np.full(self.num_stops, NONE, dtype=np.int64)
            assert self.pairs is not None
            if self.pairs.size:
                out[self.pairs[:, 0]] = self.pairs[:, 1]
                out[self.pairs[:, 1]] = self.pairs[:, 0]
            out.setflags(write=False)
            self._derived["partner"] = out
            cached = out
        return cached  # type: ignore[no-any-return]

    def is_pickup(self) -> BoolArray:
        out = np.zeros(self.num_stops, dtype=bool)
        assert self.pairs is not None
        if self.pairs.size:
            out[self.pairs[:, 0]] = True
        return out

    def only_plain_rules(self) -> bool:
        """No priced soft deadline or late fee, no trip group and no pickup deadline: the
        rules the plain routing engines (VROOM, PyVRP) know nothing of are all absent."""
        assert self.soft_deadline is not None and self.lateness_weight is not None
        assert self.trip_group is not None
        if np.any(self.trip_group != NONE) or self.has_pickup_deadlines() or self.has_late_fees():
            return False
        return not bool(np.any((self.soft_deadline != NONE) & (self.lateness_weight > 0)))

    def has_late_fees(self) -> bool:
        """Whether some stop pays a one-off fee past a deadline (``late_fee``)."""
        assert self.fee_deadline is not None and self.late_fee is not None
        return bool(np.any((self.fee_deadline != NONE) & (self.late_fee > 0)))

    def has_pickup_deadlines(self) -> bool:
        """Whether some vehicle's pickup deadline is below the horizon (and there are pairs)."""
        assert self.vehicle_pickup_end is not None and self.pairs is not None
        return bool(self.pairs.size) and bool(np.any(self.vehicle_pickup_end < HORIZON_MAX))

    def latest_starts(self, vehicle: int) -> IntArray:
        """Per stop, the latest service start on this vehicle: its window's end, and for a
        pickup at most the vehicle's pickup deadline (``vehicle_pickup_end``)."""
        assert self.tw_end is not None and self.vehicle_pickup_end is not None
        if not self.has_pickup_deadlines():
            return self.tw_end
        key = f"latest_starts:{vehicle}"
        cached = self._derived.get(key)
        if cached is None:
            cached = self.tw_end.copy()
            picks = self.pairs[:, 0]  # type: ignore[index]
            cached[picks] = np.minimum(cached[picks], self.vehicle_pickup_end[vehicle])
            cached.setflags(write=False)
            self._derived[key] = cached
        return cached  # type: ignore[no-any-return]

    def vehicle_may_serve(self, vehicle: int, stop: int) -> bool:
        """Whether a vehicle is allowed to serve a stop (skills and commitments)."""
        assert self.committed_vehicle is not None
        committed = int(self.committed_vehicle[stop])
        if committed != NONE and committed != vehicle:
            return False
        if self.allowed_vehicles is None:
            return True
        allowed = self.allowed_vehicles[stop]
        return allowed is None or vehicle in allowed

    def replace(self, **changes: Any) -> RoutingProblem:
        """A copy with some fields replaced (validated again)."""
        return replace(self, _derived={}, **changes)


@dataclass(frozen=True, eq=False)
class AssignmentProblem:
    """Rectangular min-cost matching of rows (e.g. jobs) to columns (e.g. workers).

    cost: (R, C) non-negative integers; feasible: (R, C) mask (None: all feasible).
    unassigned_cost: (R,) cost of leaving a row unmatched (None: every row must
    be matched if it can be).
    """

    cost: IntArray
    feasible: BoolArray | None = None
    unassigned_cost: IntArray | None = None

    def __post_init__(self) -> None:
        cost = _as_int_array("cost", self.cost)
        if cost.ndim != 2:
            raise InvalidProblem("cost must be a 2-D matrix")
        if cost.size and cost.min() < 0:
            raise InvalidProblem("cost must be non-negative")
        object.__setattr__(self, "cost", cost)
        if self.feasible is not None:
            mask = np.asarray(self.feasible, dtype=bool)
            if mask.shape != cost.shape:
                raise InvalidProblem("feasible mask must have the shape of cost")
            object.__setattr__(self, "feasible", mask)
        if self.unassigned_cost is not None:
            object.__setattr__(
                self,
                "unassigned_cost",
                _as_int_array("unassigned_cost", self.unassigned_cost, (cost.shape[0],)),
            )


def routes_from_lists(routes: Sequence[Sequence[int]]) -> tuple[tuple[int, ...], ...]:
    """Normalise nested sequences of stop indices to a tuple of tuples of ints."""
    return tuple(tuple(int(s) for s in r) for r in routes)
