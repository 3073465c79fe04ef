"""Coordinate rules and a local metric projection.

Order convention: the project passes ``(lat, lng)`` everywhere, like h3.
shapely works in ``(x, y)``; this package only hands shapely *projected*
metres (x east, y north), so lat/lng order is converted here and nowhere else.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from geo.errors import InvalidInput

FloatArray = npt.NDArray[np.float64]

#: Mean Earth radius (IUGG), metres.
EARTH_RADIUS_M = 6_371_008.8


def validate_latlng(lat: float, lng: float) -> tuple[float, float]:
    """Return the pair as floats, or raise InvalidInput naming what is wrong."""
    try:
        la, ln = float(lat), float(lng)
    except (TypeError, ValueError):
        raise InvalidInput(f"coordinates must be numbers, got ({lat!r}, {lng!r})") from None
    if not math.isfinite(la) or not math.isfinite(ln):
        raise InvalidInput(f"coordinates must be finite, got ({la}, {ln})")
    if not -90.0 <= la <= 90.0:
        raise InvalidInput(f"latitude {la} is outside [-90, 90]")
    if not -180.0 <= ln <= 180.0:
        raise InvalidInput(f"longitude {ln} is outside [-180, 180]")
    return la, ln


def validate_latlng_arrays(lats: object, lngs: object) -> tuple[FloatArray, FloatArray]:
    """Vectorised validation; the error names the first bad index."""
    try:
        la = np.asarray(lats, dtype=np.float64)
        ln = np.asarray(lngs, dtype=np.float64)
    except (TypeError, ValueError):
        raise InvalidInput("coordinates must be numbers") from None
    if la.shape != ln.shape:
        raise InvalidInput(f"latitudes {la.shape} and longitudes {ln.shape} differ in shape")
    bad = ~(np.isfinite(la) & np.isfinite(ln) & (np.abs(la) <= 90.0) & (np.abs(ln) <= 180.0))
    if np.any(bad):
        i = int(np.flatnonzero(bad.ravel())[0])
        validate_latlng(float(la.ravel()[i]), float(ln.ravel()[i]))  # raises with details
    return la, ln


class LocalProjection:
    """Azimuthal equidistant projection on a sphere, centred on a point.

    Distances and bearings from the centre are exact; within tens of
    kilometres the distortion elsewhere is far below a metre, which is what
    geofences and buffers of a few kilometres need.
    """

    def __init__(self, lat: float, lng: float) -> None:
        self.lat0, self.lng0 = validate_latlng(lat, lng)
        self._phi0 = math.radians(self.lat0)
        self._lam0 = math.radians(self.lng0)

    def to_xy(self, lats: object, lngs: object) -> tuple[FloatArray, FloatArray]:
        """Metres east (x) and north (y) of the centre."""
        la, ln = validate_latlng_arrays(lats, lngs)
        phi, lam = np.radians(la), np.radians(ln)
        dlam = lam - self._lam0
        cos_c = np.sin(self._phi0) * np.sin(phi) + np.cos(self._phi0) * np.cos(phi) * np.cos(dlam)
        c = np.arccos(np.clip(cos_c, -1.0, 1.0))
        with np.errstate(invalid="ignore", divide="ignore"):
            k = np.where(c > 1e-12, c / np.sin(c), 1.0)
        x = EARTH_RADIUS_M * k * np.cos(phi) * np.sin(dlam)
        y = (
            EARTH_RADIUS_M
            * k
            * (np.cos(self._phi0) * np.sin(phi) - np.sin(self._phi0) * np.cos(phi) * np.cos(dlam))
        )
        return x, y

    def to_latlng(self, xs: object, ys: object) -> tuple[FloatArray, FloatArray]:
        """Inverse of ``to_xy``."""
        x = np.asarray(xs, dtype=np.float64)
        y = np.asarray(ys, dtype=np.float64)
        if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
            raise InvalidInput("projected coordinates must be finite")
        rho = np.hypot(x, y)
        c = rho / EARTH_RADIUS_M
        sin_c, cos_c = np.sin(c), np.cos(c)
        with np.errstate(invalid="ignore", divide="ignore"):
            ratio = np.where(rho > 1e-9, y * sin_c * np.cos(self._phi0) / rho, 0.0)
        phi = np.arcsin(np.clip(cos_c * np.sin(self._phi0) + ratio, -1.0, 1.0))
        lam = self._lam0 + np.arctan2(
            x * sin_c, rho * np.cos(self._phi0) * cos_c - y * np.sin(self._phi0) * sin_c
        )
        lng = (np.degrees(lam) + 540.0) % 360.0 - 180.0
        return np.degrees(phi), lng
