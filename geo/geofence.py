"""Community geofences: a circle or polygon, built and tested in local metres.

The circle is buffered in a metric projection centred on the community, never
in degrees (a degree of longitude shrinks with latitude). The geometry is
prepared once, so point tests are fast and vectorised.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import h3.api.basic_int as h3i
import numpy as np
import shapely
from shapely.geometry import Point, Polygon

from geo.cells import DEFAULT_RESOLUTION, cell_boundary, cell_center, check_resolution
from geo.coords import FloatArray, LocalProjection, validate_latlng, validate_latlng_arrays
from geo.errors import InvalidInput

#: Segments per quarter circle when polygonising the fence (≈ 0.1 m error at 3 km).
_QUAD_SEGMENTS = 64


class Geofence:
    """An immutable community boundary. Build with ``circle`` or ``polygon``."""

    __slots__ = ("_center", "_geom", "_proj", "_radius")

    def __init__(self, center: tuple[float, float], geom: Polygon, radius_m: float | None) -> None:
        self._center = center
        self._proj = LocalProjection(*center)
        self._geom = geom
        self._radius = radius_m
        shapely.prepare(self._geom)

    @classmethod
    def circle(cls, lat: float, lng: float, radius_m: float = 3000.0) -> Geofence:
        la, ln = validate_latlng(lat, lng)
        r = float(radius_m)
        if not math.isfinite(r) or not 0 < r <= 50_000:
            raise InvalidInput(f"radius {radius_m} m must lie in (0, 50000]")
        if abs(la) > 85:
            raise InvalidInput("communities within 5 degrees of a pole are not supported")
        geom = Point(0.0, 0.0).buffer(r, quad_segs=_QUAD_SEGMENTS)
        return cls((la, ln), geom, r)

    @classmethod
    def polygon(cls, vertices: Sequence[tuple[float, float]]) -> Geofence:
        """A polygon from ``(lat, lng)`` vertices (closed or not), at least three."""
        if len(vertices) < 3:
            raise InvalidInput("a polygon needs at least three vertices")
        lats, lngs = validate_latlng_arrays([v[0] for v in vertices], [v[1] for v in vertices])
        center = (float(np.mean(lats)), float(np.mean(lngs)))
        proj = LocalProjection(*center)
        x, y = proj.to_xy(lats, lngs)
        geom = Polygon(np.column_stack([x, y]))
        if not geom.is_valid or geom.area <= 0:
            raise InvalidInput("the polygon is self-intersecting or has no area")
        if float(np.max(np.hypot(x, y))) > 50_000:
            raise InvalidInput("a community polygon must fit within 50 km of its centre")
        return cls(center, geom, None)

    # ---- properties --------------------------------------------------------------

    @property
    def center(self) -> tuple[float, float]:
        return self._center

    @property
    def radius_m(self) -> float | None:
        return self._radius

    @property
    def area_m2(self) -> float:
        return float(self._geom.area)

    @property
    def projection(self) -> LocalProjection:
        return self._proj

    # ---- membership -------------------------------------------------------------

    def contains(self, lat: float, lng: float) -> bool:
        la, ln = validate_latlng(lat, lng)
        x, y = self._proj.to_xy([la], [ln])
        return bool(shapely.contains_xy(self._geom, x[0], y[0]))

    def contains_many(self, lats: object, lngs: object) -> np.ndarray:
        """Boolean mask, one per point (boundary points count as outside)."""
        x, y = self._proj.to_xy(lats, lngs)
        return np.asarray(shapely.contains_xy(self._geom, x, y), dtype=bool)

    def distance_to_boundary_m(self, lat: float, lng: float) -> float:
        """Positive inside, negative outside."""
        x, y = self._proj.to_xy([lat], [lng])
        p = Point(float(x[0]), float(y[0]))
        d = float(self._geom.exterior.distance(p))
        return d if self._geom.contains(p) else -d

    # ---- H3 ---------------------------------------------------------------------

    def cells(self, resolution: int = DEFAULT_RESOLUTION) -> tuple[int, ...]:
        """Sorted cells that intersect the fence (so every inside point's cell is listed)."""
        res = check_resolution(resolution)
        ring = self.boundary_latlng()
        shape = h3i.LatLngPoly(ring)
        inner = set(h3i.h3shape_to_cells_experimental(shape, res, contain="overlap"))
        return tuple(sorted(int(c) for c in inner))

    def cell_centers_inside(self, resolution: int = DEFAULT_RESOLUTION) -> tuple[int, ...]:
        """Cells whose centre lies inside (the classic H3 polyfill)."""
        res = check_resolution(resolution)
        shape = h3i.LatLngPoly(self.boundary_latlng())
        return tuple(sorted(int(c) for c in h3i.h3shape_to_cells(shape, res)))

    # ---- sampling and export ------------------------------------------------------

    def random_points(self, n: int, rng: np.random.Generator) -> tuple[FloatArray, FloatArray]:
        """n points uniformly inside the fence (rejection sampling in metres)."""
        if n < 0:
            raise InvalidInput("n must be non-negative")
        minx, miny, maxx, maxy = self._geom.bounds
        xs: list[FloatArray] = []
        got = 0
        while got < n:
            k = max(16, int((n - got) * 1.5))
            x = rng.uniform(minx, maxx, k)
            y = rng.uniform(miny, maxy, k)
            keep = shapely.contains_xy(self._geom, x, y)
            xs.append(np.column_stack([x[keep], y[keep]]))
            got += int(keep.sum())
        pts = np.vstack(xs)[:n] if xs else np.zeros((0, 2))
        return self._proj.to_latlng(pts[:, 0], pts[:, 1])

    def boundary_latlng(self) -> list[tuple[float, float]]:
        """The outline as ``(lat, lng)`` pairs (first point not repeated)."""
        x, y = np.asarray(self._geom.exterior.coords).T
        la, ln = self._proj.to_latlng(x[:-1], y[:-1])
        return list(zip(la.tolist(), ln.tolist(), strict=True))

    def to_dict(self) -> dict[str, Any]:
        if self._radius is not None:
            return {"center": list(self._center), "radius_m": self._radius}
        return {"polygon": [list(p) for p in self.boundary_latlng()]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Geofence:
        if "radius_m" in data:
            lat, lng = data["center"]
            return cls.circle(lat, lng, data["radius_m"])
        if "polygon" in data:
            return cls.polygon([tuple(p) for p in data["polygon"]])
        raise InvalidInput("a geofence needs center+radius_m or polygon")


def cell_polygon_xy(fence: Geofence, cell: int) -> Polygon:
    """A cell's hexagon in the fence's metric frame (used for maps and coverage)."""
    b = cell_boundary(cell)
    x, y = fence.projection.to_xy([p[0] for p in b], [p[1] for p in b])
    return Polygon(np.column_stack([x, y]))


__all__ = ["Geofence", "cell_center", "cell_polygon_xy"]
