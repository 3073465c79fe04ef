"""Distances, travel profiles and integer distance/time matrices.

Road distance is approximated as great-circle distance times a circuity
factor (street networks run ~1.2-1.4 × the straight line in dense cities);
time is that distance over the profile's average speed, rounded up to whole
seconds. A road-network source can replace this behind ``MatrixProvider``.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Protocol

import numpy as np
import numpy.typing as npt

from geo.coords import EARTH_RADIUS_M, validate_latlng_arrays
from geo.errors import InvalidInput

log = logging.getLogger(__name__)
IntArray = npt.NDArray[np.int64]


def haversine_m(lat1: object, lng1: object, lat2: object, lng2: object) -> np.ndarray:
    """Great-circle distance in metres; broadcasts like numpy."""
    a1, o1 = validate_latlng_arrays(lat1, lng1)
    a2, o2 = validate_latlng_arrays(lat2, lng2)
    p1, p2 = np.radians(a1), np.radians(a2)
    dphi = p2 - p1
    dlam = np.radians(o2) - np.radians(o1)
    h = np.sin(dphi / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dlam / 2) ** 2
    return 2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.clip(h, 0.0, 1.0)))  # type: ignore[no-any-return]


@dataclass(frozen=True)
class TravelProfile:
    """How a worker moves: average door-to-door speed and street circuity."""

    name: str
    speed_mps: float
    circuity: float = 1.3

    def __post_init__(self) -> None:
        if not (math.isfinite(self.speed_mps) and 0 < self.speed_mps <= 60):
            raise InvalidInput(f"profile {self.name}: speed {self.speed_mps} m/s is implausible")
        if not (math.isfinite(self.circuity) and 1.0 <= self.circuity <= 3.0):
            raise InvalidInput(f"profile {self.name}: circuity must lie in [1, 3]")


#: Urban averages including stops at crossings (walk 4.7 km/h, bicycle 15 km/h,
#: e-scooter 23 km/h, car 29 km/h in city traffic).
PROFILES: Mapping[str, TravelProfile] = MappingProxyType(
    {
        "walk": TravelProfile("walk", 1.3, 1.25),
        "bicycle": TravelProfile("bicycle", 4.2, 1.3),
        "scooter": TravelProfile("scooter", 6.5, 1.3),
        "car": TravelProfile("car", 8.0, 1.4),
    }
)


def profile(name: str) -> TravelProfile:
    try:
        return PROFILES[name]
    except KeyError:
        raise InvalidInput(f"unknown travel profile {name!r}; known: {sorted(PROFILES)}") from None


def distance_matrix_m(lats: object, lngs: object, circuity: float = 1.0) -> IntArray:
    """Pairwise distances in whole metres (great circle × circuity)."""
    la, ln = validate_latlng_arrays(lats, lngs)
    la, ln = la.ravel(), ln.ravel()
    d = haversine_m(la[:, None], ln[:, None], la[None, :], ln[None, :]) * circuity
    return np.rint(d).astype(np.int64)


def time_matrix_s(distance_m: IntArray, prof: TravelProfile) -> IntArray:
    """Seconds for each road distance at the profile's speed, rounded up."""
    return np.ceil(np.asarray(distance_m, dtype=np.float64) / prof.speed_mps).astype(np.int64)


def eta_s(lat1: float, lng1: float, lat2: float, lng2: float, prof: TravelProfile) -> int:
    d = float(haversine_m(lat1, lng1, lat2, lng2)) * prof.circuity
    return math.ceil(d / prof.speed_mps)


class MatrixProvider(Protocol):
    """Source of travel matrices for a set of points (haversine now, roads later)."""

    def matrices(
        self, lats: object, lngs: object, profiles: Sequence[str]
    ) -> tuple[IntArray, IntArray]:
        """(distance (L, L) in metres, times (K, L, L) in seconds, one per profile)."""
        ...


class HaversineMatrixProvider:
    """Straight-line distance × circuity; each profile has its own circuity and speed."""

    def matrices(
        self, lats: object, lngs: object, profiles: Sequence[str]
    ) -> tuple[IntArray, IntArray]:
        profs = [profile(p) for p in profiles] or [PROFILES["bicycle"]]
        base = distance_matrix_m(lats, lngs)
        road = np.rint(base * profs[0].circuity).astype(np.int64)
        times = np.stack([time_matrix_s(np.rint(base * p.circuity), p) for p in profs]).astype(
            np.int64
        )
        if times.size and int(times.max()) > 10**11:
            log.warning("travel times exceed 1e11 s; integer arithmetic may overflow")
        return road, times
