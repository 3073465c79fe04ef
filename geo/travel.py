"""Distances, travel profiles and integer distance/time matrices.

Model: road distance = great-circle distance × a circuity factor (street
networks make short urban trips about 1.2-1.4 × longer than the straight
line); travel time = road distance / the profile's average door-to-door
speed, rounded *up* to whole seconds so an ETA is never optimistic.
Distances are rounded to the nearest whole metre. Solvers get int64 arrays;
values that could overflow once summed and weighted are logged as warnings.
A road-network source can replace all of this behind ``MatrixProvider``.
"""

from __future__ import annotations

import logging
import math
import numbers
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from geo.coords import EARTH_RADIUS_M, FloatArray, validate_latlng, validate_latlng_arrays
from geo.errors import InvalidInput

log = logging.getLogger(__name__)

IntArray = npt.NDArray[np.int64]

#: Circuity of the vehicle-agnostic road distance returned by the matrix providers.
DEFAULT_CIRCUITY = 1.3
#: Matrix entries above this are logged: summed along routes and multiplied by
#: cost weights inside a solver they can overflow int64.
INT_WARN_LIMIT = 2**31
_INT64_LIMIT = 2**62
#: Times within this many seconds below a whole second round to it, not past it.
_ROUND_UP_SLACK_S = 1e-9


def _broadcast_points(lats: object, lngs: object) -> tuple[FloatArray, FloatArray]:
    try:
        la, ln = np.broadcast_arrays(np.asarray(lats), np.asarray(lngs))
    except ValueError:
        raise InvalidInput("latitudes and longitudes do not broadcast together") from None
    return validate_latlng_arrays(la, ln)


def distance_m(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    """Great-circle metres between two points, for one pair (plain math: no numpy
    overhead on a request's hot path). Inputs are trusted (validate them first)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lng2 - lng1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2.0 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


def haversine_m(lat1: object, lng1: object, lat2: object, lng2: object) -> FloatArray:
    """Great-circle distance in metres on the mean sphere; broadcasts like numpy.

    Scalars give a 0-d array (``float(...)`` it).
    """
    a1, o1 = _broadcast_points(lat1, lng1)
    a2, o2 = _broadcast_points(lat2, lng2)
    try:
        np.broadcast_shapes(a1.shape, a2.shape)
    except ValueError:
        raise InvalidInput(f"point arrays {a1.shape} and {a2.shape} do not broadcast") from None
    p1, p2 = np.radians(a1), np.radians(a2)
    h = np.sin((p2 - p1) / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(np.radians(o2 - o1) / 2) ** 2
    return np.asarray(2.0 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.clip(h, 0.0, 1.0))))


def great_circle_matrix_m(lats: object, lngs: object) -> FloatArray:
    """(L, L) great-circle metres between all points (input flattened), exactly symmetric.

    Chord form: |u_i - u_j| between unit vectors, then 2R·asin(chord/2). As
    accurate as haversine (nanometres) and several times faster on big L.
    """
    la, ln = validate_latlng_arrays(lats, lngs)
    phi, lam = np.radians(la.ravel()), np.radians(ln.ravel())
    cos_phi = np.cos(phi)
    units = (cos_phi * np.cos(lam), cos_phi * np.sin(lam), np.sin(phi))
    n = phi.size
    chord2 = np.zeros((n, n))
    for u in units:
        diff = np.subtract.outer(u, u)
        np.multiply(diff, diff, out=diff)
        chord2 += diff
    np.sqrt(chord2, out=chord2)
    chord2 *= 0.5
    np.minimum(chord2, 1.0, out=chord2)
    np.arcsin(chord2, out=chord2)
    chord2 *= 2.0 * EARTH_RADIUS_M
    return chord2


def _check_factor(value: object, what: str, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InvalidInput(f"{what} must be a real number, got {value!r}")
    v = float(value)
    if not (math.isfinite(v) and low <= v <= high):
        raise InvalidInput(f"{what} {v} is outside [{low}, {high}]")
    return v


@dataclass(frozen=True)
class TravelProfile:
    """How a worker moves: average door-to-door speed (m/s) and street circuity."""

    name: str
    speed_mps: float
    circuity: float = DEFAULT_CIRCUITY

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise InvalidInput("a travel profile needs a non-empty name")
        _check_factor(self.speed_mps, f"profile {self.name}: speed (m/s)", 0.1, 60.0)
        _check_factor(self.circuity, f"profile {self.name}: circuity", 1.0, 3.0)


#: Urban averages including stops at crossings and lights. Assumptions, not
#: measurements: walking 1.3 m/s (4.7 km/h, a typical comfortable adult pace)
#: with circuity 1.25 (footpaths cut corners); bicycle 4.2 m/s (15 km/h,
#: common urban cycling average); e-scooter/moped 6.5 m/s (23 km/h, under the
#: usual 25 km/h caps); car 8 m/s (29 km/h in city traffic) with circuity 1.4
#: (one-way streets, gates, turning restrictions). Street-network studies put
#: short-trip circuity at 1.2-1.4; replace these with local data when known.
PROFILES: Mapping[str, TravelProfile] = MappingProxyType(
    {
        "walk": TravelProfile("walk", 1.3, 1.25),
        "bicycle": TravelProfile("bicycle", 4.2, 1.3),
        "scooter": TravelProfile("scooter", 6.5, 1.3),
        "car": TravelProfile("car", 8.0, 1.4),
    }
)


def _lookup(profiles: Mapping[str, TravelProfile], name: object) -> TravelProfile:
    if isinstance(name, TravelProfile):
        return name
    if isinstance(name, str) and name in profiles:
        return profiles[name]
    raise InvalidInput(f"unknown travel profile {name!r}; known: {sorted(profiles)}")


def profile(name: str) -> TravelProfile:
    """The built-in profile called ``name``; InvalidInput for unknown names."""
    return _lookup(PROFILES, name)


def _to_int64(values: FloatArray, what: str) -> IntArray:
    if values.size:
        top = float(values.max())
        if top > _INT64_LIMIT:
            raise InvalidInput(f"{what} up to {top:.3g} cannot be stored as int64")
        if top > INT_WARN_LIMIT:
            log.warning(
                "%s reach %.3g (> 2**31): sums and cost weights may overflow int64", what, top
            )
    return values.astype(np.int64)


def _check_distances(dist_m: object) -> FloatArray:
    try:
        d = np.asarray(dist_m, dtype=np.float64)
    except (TypeError, ValueError):
        raise InvalidInput("distances must be numbers") from None
    if not bool(np.all(np.isfinite(d))) or bool(np.any(d < 0)):
        raise InvalidInput("distances must be finite and non-negative")
    return d


def _round_up_seconds(road_m: FloatArray, speed_mps: float) -> FloatArray:
    return np.maximum(np.ceil(road_m / speed_mps - _ROUND_UP_SLACK_S), 0.0)


def distance_matrix_m(lats: object, lngs: object, circuity: float = DEFAULT_CIRCUITY) -> IntArray:
    """(L, L) road distances in whole metres: great circle × ``circuity``, rounded."""
    c = _check_factor(circuity, "circuity", 1.0, 3.0)
    return _to_int64(np.rint(great_circle_matrix_m(lats, lngs) * c), "distances (m)")


def time_matrix_s(dist_m: object, profile: TravelProfile | str) -> IntArray:
    """Seconds to cover road distances ``dist_m`` at the profile's speed, rounded up.

    ``dist_m`` is already a road distance (circuity applied); any shape.
    """
    prof = _lookup(PROFILES, profile)
    road = _check_distances(dist_m)
    return _to_int64(_round_up_seconds(road, prof.speed_mps), f"{prof.name} times (s)")


def eta_s(lat1: float, lng1: float, lat2: float, lng2: float, profile: TravelProfile | str) -> int:
    """Whole seconds from one point to another (great circle × circuity / speed, up)."""
    prof = _lookup(PROFILES, profile)
    a = validate_latlng(lat1, lng1)
    b = validate_latlng(lat2, lng2)
    road = float(haversine_m(a[0], a[1], b[0], b[1])) * prof.circuity
    return int(_round_up_seconds(np.array(road), prof.speed_mps))


@runtime_checkable
class MatrixProvider(Protocol):
    """Source of travel matrices for a set of points (great circle now, roads later)."""

    def matrices(
        self, lats: object, lngs: object, profiles: Sequence[str]
    ) -> tuple[IntArray, IntArray]:
        """(distance (L, L) int64 metres, times (K, L, L) int64 seconds, one per profile)."""
        ...


class HaversineMatrixProvider:
    """Great circle × circuity; fully vectorised (L = 2000 takes well under a second).

    The distance matrix is a vehicle-agnostic road distance at ``circuity``
    (a cost and reporting figure); each time matrix uses its own profile's
    circuity and speed, computed from the unrounded great-circle distance.
    """

    def __init__(
        self,
        profiles: Mapping[str, TravelProfile] = PROFILES,
        circuity: float = DEFAULT_CIRCUITY,
    ) -> None:
        for key, value in profiles.items():
            if not isinstance(value, TravelProfile):
                raise InvalidInput(f"profile {key!r} is not a TravelProfile")
        self._profiles: Mapping[str, TravelProfile] = MappingProxyType(dict(profiles))
        self._circuity = _check_factor(circuity, "circuity", 1.0, 3.0)

    @property
    def profiles(self) -> Mapping[str, TravelProfile]:
        return self._profiles

    def matrices(
        self, lats: object, lngs: object, profiles: Sequence[str]
    ) -> tuple[IntArray, IntArray]:
        """(distance (L, L) int64 metres, times (K, L, L) int64 seconds, profiles in order)."""
        if isinstance(profiles, str):
            raise InvalidInput("profiles must be a sequence of names, not a single string")
        profs = [_lookup(self._profiles, p) for p in profiles]
        gc = great_circle_matrix_m(lats, lngs)
        dist = _to_int64(np.rint(gc * self._circuity), "distances (m)")
        times = np.empty((len(profs), *gc.shape), dtype=np.int64)
        for k, p in enumerate(profs):
            seconds = _round_up_seconds(gc * p.circuity, p.speed_mps)
            times[k] = _to_int64(seconds, f"{p.name} times (s)")
        return dist, times
