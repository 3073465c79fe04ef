"""Coordinate rules and a local metric projection.

Order convention, the one rule of this package: every public function takes
and returns ``(lat, lng)`` — latitude first, like h3. shapely works in
``(x, y)``; this package only ever hands shapely *projected metres* from
``LocalProjection.to_xy`` (x east, y north), so the swap from ``(lat, lng)``
to ``(x=east, y=north)`` happens in this module and nowhere else. Nothing in
``geo`` builds shapely geometry from raw degrees.
"""

from __future__ import annotations

import math
import numbers

import numpy as np
import numpy.typing as npt

from geo.errors import InvalidInput

FloatArray = npt.NDArray[np.float64]

#: Mean Earth radius (IUGG R1), metres. Spherical model: ≤ 0.5 % off the ellipsoid.
EARTH_RADIUS_M = 6_371_008.8

#: Beyond this distance from the centre the projection's inverse is undefined.
_MAX_RHO_M = math.pi * EARTH_RADIUS_M


def _as_number(value: object, what: str) -> float:
    """A real number as float; strings, booleans, complex numbers and arrays are refused."""
    if type(value) is float:  # the common case, without the ABC check below (hot path)
        return value
    if isinstance(value, bool | np.bool_) or not (
        isinstance(value, numbers.Real)
        or (isinstance(value, np.ndarray) and value.ndim == 0 and value.dtype.kind in "iuf")
    ):
        raise InvalidInput(f"{what} must be a real number, got {value!r}")
    return float(value)  # type: ignore[arg-type]


def validate_latlng(lat: float, lng: float) -> tuple[float, float]:
    """Return the pair as floats, or raise InvalidInput naming what is wrong.

    Latitude must lie in [-90, 90] and longitude in [-180, 180], both finite.
    """
    in_range = type(lat) is float and type(lng) is float and -90.0 <= lat <= 90.0
    if in_range and -180.0 <= lng <= 180.0:  # so finite: NaN fails every comparison
        return lat, lng
    la = _as_number(lat, "latitude")
    ln = _as_number(lng, "longitude")
    if not math.isfinite(la):
        raise InvalidInput(f"latitude must be finite, got {la}")
    if not math.isfinite(ln):
        raise InvalidInput(f"longitude must be finite, got {ln}")
    if not -90.0 <= la <= 90.0:
        raise InvalidInput(f"latitude {la} is outside [-90, 90]")
    if not -180.0 <= ln <= 180.0:
        raise InvalidInput(f"longitude {ln} is outside [-180, 180]")
    return la, ln


def _as_float_array(values: object, what: str) -> FloatArray:
    try:
        raw = np.asarray(values)
    except (TypeError, ValueError):
        raise InvalidInput(f"{what} must be an array of real numbers") from None
    if raw.dtype.kind not in "iufO":
        raise InvalidInput(f"{what} must be real numbers, got dtype {raw.dtype}")
    try:
        return np.asarray(raw, dtype=np.float64)
    except (TypeError, ValueError):
        raise InvalidInput(f"{what} must be an array of real numbers") from None


def validate_latlng_arrays(lats: object, lngs: object) -> tuple[FloatArray, FloatArray]:
    """Vectorised validation: float64 arrays of one shape, all finite and in range.

    The error names the first offending point (its flat index for 1-d input,
    its index tuple otherwise). The arrays may share memory with the input.
    """
    la = _as_float_array(lats, "latitudes")
    ln = _as_float_array(lngs, "longitudes")
    if la.shape != ln.shape:
        raise InvalidInput(f"latitudes {la.shape} and longitudes {ln.shape} differ in shape")
    with np.errstate(invalid="ignore"):
        good = np.isfinite(la) & np.isfinite(ln) & (np.abs(la) <= 90.0) & (np.abs(ln) <= 180.0)
    if not bool(np.all(good)):
        flat = int(np.flatnonzero(~good.ravel())[0])
        index = flat if la.ndim <= 1 else tuple(int(i) for i in np.unravel_index(flat, la.shape))
        try:
            validate_latlng(float(la.ravel()[flat]), float(ln.ravel()[flat]))
        except InvalidInput as exc:
            raise InvalidInput(f"point {index}: {exc}") from None
    return la, ln


class LocalProjection:
    """Azimuthal equidistant projection on a sphere (R = ``EARTH_RADIUS_M``).

    Distances and bearings from the centre are exact; elsewhere the scale
    error grows like (d/R)²/6, about 1e-7 at 5 km, so lengths and areas of a
    few-kilometre community are right to well under a millimetre per
    kilometre. Pure numpy math, vectorised; instances are immutable.
    """

    __slots__ = ("_cos0", "_lam0", "_lat0", "_lng0", "_phi0", "_sin0")
    _lat0: float
    _lng0: float
    _phi0: float
    _lam0: float
    _sin0: float
    _cos0: float

    def __init__(self, lat: float, lng: float) -> None:
        la, ln = validate_latlng(lat, lng)
        object.__setattr__(self, "_lat0", la)
        object.__setattr__(self, "_lng0", ln)
        object.__setattr__(self, "_phi0", math.radians(la))
        object.__setattr__(self, "_lam0", math.radians(ln))
        object.__setattr__(self, "_sin0", math.sin(math.radians(la)))
        object.__setattr__(self, "_cos0", math.cos(math.radians(la)))

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable")

    def __repr__(self) -> str:
        return f"LocalProjection({self._lat0!r}, {self._lng0!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, LocalProjection):
            return NotImplemented
        return self.center == other.center

    def __hash__(self) -> int:
        return hash(self.center)

    @property
    def center(self) -> tuple[float, float]:
        """The ``(lat, lng)`` that maps to ``(0, 0)``."""
        return self._lat0, self._lng0

    @property
    def lat0(self) -> float:
        return self._lat0

    @property
    def lng0(self) -> float:
        return self._lng0

    def to_xy(self, lats: object, lngs: object) -> tuple[FloatArray, FloatArray]:
        """Metres east (x) and north (y) of the centre, same shape as the input."""
        la, ln = validate_latlng_arrays(lats, lngs)
        phi = np.radians(la)
        dlam = np.radians(ln) - self._lam0
        cos_phi = np.cos(phi)
        # Angular distance by the haversine form: accurate for tiny and large angles alike.
        h = np.sin((phi - self._phi0) / 2) ** 2 + self._cos0 * cos_phi * np.sin(dlam / 2) ** 2
        c = 2.0 * np.arcsin(np.sqrt(np.clip(h, 0.0, 1.0)))
        sin_c = np.sin(c)
        k = np.divide(c, sin_c, out=np.ones_like(c), where=c > 1e-9)  # c/sin c → 1 as c → 0
        x = EARTH_RADIUS_M * k * cos_phi * np.sin(dlam)
        y = EARTH_RADIUS_M * k * (self._cos0 * np.sin(phi) - self._sin0 * cos_phi * np.cos(dlam))
        return x, y

    def point_to_xy(self, lat: float, lng: float) -> tuple[float, float]:
        """``to_xy`` for one point with plain floats: about ten times faster than arrays."""
        la, ln = validate_latlng(lat, lng)
        phi = math.radians(la)
        dlam = math.radians(ln) - self._lam0
        cos_phi = math.cos(phi)
        h = math.sin((phi - self._phi0) / 2) ** 2 + self._cos0 * cos_phi * math.sin(dlam / 2) ** 2
        c = 2.0 * math.asin(math.sqrt(min(max(h, 0.0), 1.0)))
        k = c / math.sin(c) if c > 1e-9 else 1.0
        scale = EARTH_RADIUS_M * k
        x = scale * cos_phi * math.sin(dlam)
        y = scale * (self._cos0 * math.sin(phi) - self._sin0 * cos_phi * math.cos(dlam))
        return x, y

    def to_latlng(self, xs: object, ys: object) -> tuple[FloatArray, FloatArray]:
        """Inverse of ``to_xy``: ``(lats, lngs)`` of points given in metres east/north."""
        x = _as_float_array(xs, "x")
        y = _as_float_array(ys, "y")
        if x.shape != y.shape:
            raise InvalidInput(f"x {x.shape} and y {y.shape} differ in shape")
        if not (bool(np.all(np.isfinite(x))) and bool(np.all(np.isfinite(y)))):
            raise InvalidInput("projected coordinates must be finite")
        rho = np.hypot(x, y)
        if rho.size and float(rho.max()) > _MAX_RHO_M:
            raise InvalidInput("projected point lies farther than half the Earth's circumference")
        c = rho / EARTH_RADIUS_M
        sin_c, cos_c = np.sin(c), np.cos(c)
        ratio = np.divide(y * sin_c * self._cos0, rho, out=np.zeros_like(rho), where=rho > 0)
        phi = np.arcsin(np.clip(cos_c * self._sin0 + ratio, -1.0, 1.0))
        lam = self._lam0 + np.arctan2(x * sin_c, rho * self._cos0 * cos_c - y * self._sin0 * sin_c)
        lng = (np.degrees(lam) + 540.0) % 360.0 - 180.0
        return np.degrees(phi), lng
