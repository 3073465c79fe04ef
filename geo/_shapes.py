"""Polygon helpers for geofences: vertex validation, a safe mean centre, metric rings."""

from __future__ import annotations

import math

import numpy as np
from shapely.geometry import Polygon

from geo.coords import FloatArray, LocalProjection, validate_latlng
from geo.errors import InvalidInput

#: Largest fence: every point within this distance of the centre.
MAX_RADIUS_M = 50_000.0

LatLng = tuple[float, float]


def vertex_list(vertices: object) -> tuple[LatLng, ...]:
    """Validated ``(lat, lng)`` tuples, the closing repeat of the first vertex dropped."""
    try:
        pts = [(v[0], v[1]) for v in vertices if len(v) == 2]  # type: ignore[attr-defined]
        complete = len(pts) == len(vertices)  # type: ignore[arg-type]
    except (TypeError, IndexError, KeyError):
        complete = False
    if not complete:
        raise InvalidInput("polygon vertices must be a sequence of (lat, lng) pairs")
    out: list[LatLng] = []
    for i, (a, b) in enumerate(pts):
        try:
            out.append(validate_latlng(a, b))
        except InvalidInput as exc:
            raise InvalidInput(f"vertex {i}: {exc}") from None
    if len(out) > 1 and out[0] == out[-1]:
        out.pop()
    if len(set(out)) < 3:
        raise InvalidInput("a polygon needs at least three distinct vertices")
    return tuple(out)


def spherical_mean(lats: FloatArray, lngs: FloatArray) -> LatLng:
    """Mean direction of the points (safe across the antimeridian)."""
    phi, lam = np.radians(lats), np.radians(lngs)
    v = np.array(
        [
            np.mean(np.cos(phi) * np.cos(lam)),
            np.mean(np.cos(phi) * np.sin(lam)),
            np.mean(np.sin(phi)),
        ]
    )
    norm = float(np.linalg.norm(v))
    if norm < 1e-6:
        raise InvalidInput("polygon vertices are spread around the globe")
    return (
        math.degrees(math.asin(max(-1.0, min(1.0, v[2] / norm)))),
        math.degrees(math.atan2(v[1], v[0])),
    )


def metric_polygon(proj: LocalProjection, lats: FloatArray, lngs: FloatArray) -> Polygon:
    x, y = proj.to_xy(lats, lngs)
    if float(np.max(np.hypot(x, y))) > MAX_RADIUS_M:
        raise InvalidInput(f"a polygon fence must fit within {MAX_RADIUS_M:.0f} m of its centre")
    geom = Polygon(np.column_stack([x, y]))
    if not geom.is_valid or geom.area <= 0:
        raise InvalidInput("the polygon is self-intersecting or has no area")
    return geom
