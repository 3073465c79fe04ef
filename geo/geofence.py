"""Community geofences: a circle or a polygon, built and tested in local metres.

A fence lives in the azimuthal equidistant frame centred on the community
(``LocalProjection``). The circle is buffered there, in metres, never in
degrees (a degree of longitude shrinks with latitude). The geometry is
prepared once, so point tests are fast, and ``contains_many`` is one
vectorised ``shapely.contains_xy`` call. Points exactly on the boundary are
outside.

H3 cover (``cells``): every cell that overlaps the fence, not only the cells
whose centre lies inside. That way the cell of any point inside the fence is
listed, which is what per-cell state (positions, surge) needs; the price is a
ring of boundary cells (a 3 km circle at resolution 9 gives about 1.1 × the
centre-inside count). ``cell_centers_inside`` gives the classic polyfill.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import h3.api.basic_int as h3i
import numpy as np
import numpy.typing as npt
import shapely
from shapely.geometry import Point, Polygon

from geo._shapes import MAX_RADIUS_M, LatLng, metric_polygon, spherical_mean, vertex_list
from geo.cells import DEFAULT_RESOLUTION, average_cell_area_m2, cell_boundary, check_resolution
from geo.coords import (
    FloatArray,
    LocalProjection,
    _as_number,
    validate_latlng,
    validate_latlng_arrays,
)
from geo.errors import InvalidInput
from geo.travel import distance_m

#: Fences must keep this far from the poles (H3 polygons cannot wrap a pole).
MAX_ABS_LATITUDE = 85.0
#: ``cells`` refuses covers estimated above this many cells (memory and time guard).
MAX_COVER_CELLS = 1_000_000
#: Segments per quarter circle (chord error r·(1 - cos(π/256)) ≈ 0.2 m at 3 km).
_QUAD_SEGMENTS = 64
#: The inscribed outline's nearest approach to the centre, as a share of the radius.
_INSCRIBED = math.cos(math.pi / (4 * _QUAD_SEGMENTS))
#: Margin for rounding between the distance and the projected outline (metres).
_SURE_M = 0.01
#: Polygon edges are split to at most this length before going to H3, which
#: treats edges as straight in degrees rather than in metres.
_H3_SEGMENT_M = 100.0


class Geofence:
    """An immutable community boundary. Build with ``circle``, ``polygon`` or ``from_dict``."""

    __slots__ = ("_center", "_geom", "_proj", "_radius", "_vertices")
    _center: LatLng
    _geom: Polygon
    _proj: LocalProjection
    _radius: float | None
    _vertices: tuple[LatLng, ...]

    def __init__(
        self,
        *,
        center: LatLng,
        geometry_xy: Polygon,
        radius_m: float | None,
        vertices: tuple[LatLng, ...] = (),
    ) -> None:
        """Low-level constructor: ``geometry_xy`` is in metres around ``center``."""
        shapely.prepare(geometry_xy)
        object.__setattr__(self, "_center", center)
        object.__setattr__(self, "_proj", LocalProjection(*center))
        object.__setattr__(self, "_geom", geometry_xy)
        object.__setattr__(self, "_radius", radius_m)
        object.__setattr__(self, "_vertices", vertices)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("Geofence is immutable")

    # ---- construction -----------------------------------------------------------

    @classmethod
    def circle(cls, lat: float, lng: float, radius_m: float = 3000.0) -> Geofence:
        """Points within ``radius_m`` metres (great circle) of ``(lat, lng)``.

        The outline is a 256-gon inscribed in the circle: at 3 km it runs at
        most 0.23 m inside the true circle.
        """
        la, ln = validate_latlng(lat, lng)
        r = _as_number(radius_m, "radius_m")
        if not (math.isfinite(r) and 0 < r <= MAX_RADIUS_M):
            raise InvalidInput(f"radius {r} m is outside (0, {MAX_RADIUS_M:.0f}]")
        if abs(la) > MAX_ABS_LATITUDE:
            raise InvalidInput(f"latitude {la} is too close to a pole (limit ±{MAX_ABS_LATITUDE})")
        geom = Point(0.0, 0.0).buffer(r, quad_segs=_QUAD_SEGMENTS)
        return cls(center=(la, ln), geometry_xy=geom, radius_m=r)

    @classmethod
    def polygon(cls, vertices: Sequence[Sequence[float]]) -> Geofence:
        """A simple polygon from ``(lat, lng)`` vertices, closed or not, at least three.

        Edges are straight lines in the local metric frame; the centre is the
        polygon's centroid (it may lie outside a concave fence).
        """
        pts = vertex_list(vertices)
        lats, lngs = validate_latlng_arrays([p[0] for p in pts], [p[1] for p in pts])
        if float(np.max(np.abs(lats))) > MAX_ABS_LATITUDE:
            raise InvalidInput(f"polygon vertices must stay within ±{MAX_ABS_LATITUDE} latitude")
        first = LocalProjection(*spherical_mean(lats, lngs))
        rough = metric_polygon(first, lats, lngs)
        c = rough.centroid
        clat, clng = first.to_latlng([c.x], [c.y])
        center = (float(clat[0]), float(clng[0]))
        geom = metric_polygon(LocalProjection(*center), lats, lngs)
        return cls(center=center, geometry_xy=geom, radius_m=None, vertices=pts)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Geofence:
        """Inverse of ``to_dict``; ``kind`` may be omitted."""
        if not isinstance(data, Mapping):
            raise InvalidInput("a geofence must be given as a mapping")
        kind = data.get("kind")
        if kind in (None, "circle") and "radius_m" in data:
            center = data.get("center")
            if not isinstance(center, Sequence) or isinstance(center, str) or len(center) != 2:
                raise InvalidInput("a circle needs center: [lat, lng]")
            return cls.circle(center[0], center[1], data["radius_m"])
        if kind in (None, "polygon") and "polygon" in data:
            return cls.polygon(data["polygon"])
        raise InvalidInput("a geofence needs center + radius_m (circle) or polygon")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: ``{kind: circle, center, radius_m}`` or ``{kind: polygon, polygon}``."""
        if self._radius is not None:
            return {"kind": "circle", "center": list(self._center), "radius_m": self._radius}
        return {"kind": "polygon", "polygon": [list(p) for p in self._vertices]}

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Geofence):
            return NotImplemented
        return self.to_dict() == other.to_dict()

    def __hash__(self) -> int:
        return hash((self._center, self._radius, self._vertices))

    def __repr__(self) -> str:
        lat, lng = self._center
        if self._radius is not None:
            return f"Geofence.circle({lat!r}, {lng!r}, radius_m={self._radius!r})"
        return f"Geofence.polygon(<{len(self._vertices)} vertices around ({lat:.6f}, {lng:.6f})>)"

    # ---- properties --------------------------------------------------------------

    @property
    def kind(self) -> str:
        return "polygon" if self._radius is None else "circle"

    @property
    def center(self) -> LatLng:
        """``(lat, lng)`` of the circle's centre or the polygon's centroid."""
        return self._center

    @property
    def radius_m(self) -> float | None:
        """The circle's radius in metres; None for polygons."""
        return self._radius

    @property
    def area_m2(self) -> float:
        return float(self._geom.area)

    @property
    def projection(self) -> LocalProjection:
        """The metric frame the fence lives in (centred on ``center``)."""
        return self._proj

    @property
    def geometry_xy(self) -> Polygon:
        """The prepared shapely polygon in metres east/north of ``center``."""
        return self._geom

    # ---- membership -------------------------------------------------------------

    def contains(self, lat: float, lng: float) -> bool:
        """Whether a point lies inside (the same answer as ``contains_many``).

        A circle answers from the distance to its centre unless the point is within a
        few decimetres of the outline, where the inscribed polygon decides.
        """
        if self._radius is not None:
            validate_latlng(lat, lng)
            d = distance_m(self._center[0], self._center[1], lat, lng)
            if d < self._radius * _INSCRIBED - _SURE_M:
                return True
            if d > self._radius + _SURE_M:
                return False
        x, y = self._proj.point_to_xy(lat, lng)
        return bool(shapely.contains_xy(self._geom, x, y))

    def contains_many(self, lats: object, lngs: object) -> npt.NDArray[np.bool_]:
        """Boolean mask of the input's shape (boundary points count as outside)."""
        x, y = self._proj.to_xy(lats, lngs)
        return np.asarray(shapely.contains_xy(self._geom, x, y), dtype=np.bool_)

    def distance_to_boundary_m(self, lat: float, lng: float) -> float:
        """Metres to the boundary: positive inside, negative outside."""
        p = Point(*self._proj.point_to_xy(lat, lng))
        d = float(self._geom.exterior.distance(p))
        return d if self._geom.contains(p) else -d

    # ---- H3 ---------------------------------------------------------------------

    def cells(self, resolution: int = DEFAULT_RESOLUTION) -> tuple[int, ...]:
        """Sorted cells that overlap the fence: the cell of every inside point is listed."""
        res = check_resolution(resolution)
        found = h3i.h3shape_to_cells_experimental(self._h3_shape(res), res, contain="overlap")
        return tuple(sorted(int(c) for c in found))

    def cell_centers_inside(self, resolution: int = DEFAULT_RESOLUTION) -> tuple[int, ...]:
        """Sorted cells whose centre lies inside (the classic H3 polyfill)."""
        res = check_resolution(resolution)
        return tuple(sorted(int(c) for c in h3i.h3shape_to_cells(self._h3_shape(res), res)))

    def _h3_shape(self, res: int) -> h3i.LatLngPoly:
        """The densified outline for H3, after checking the cover's size."""
        estimate = self.area_m2 / average_cell_area_m2(res)
        if estimate > MAX_COVER_CELLS:
            raise InvalidInput(
                f"about {estimate:,.0f} cells at resolution {res}; the limit is "
                f"{MAX_COVER_CELLS:,} (use a coarser resolution)"
            )
        dense = shapely.segmentize(self._geom, _H3_SEGMENT_M)
        x, y = np.asarray(dense.exterior.coords).T
        la, ln = self._proj.to_latlng(x[:-1], y[:-1])
        return h3i.LatLngPoly(list(zip(la.tolist(), ln.tolist(), strict=True)))

    # ---- sampling and export ------------------------------------------------------

    def random_points(self, n: int, rng: np.random.Generator) -> tuple[FloatArray, FloatArray]:
        """``n`` points uniformly inside the fence, as ``(lats, lngs)`` arrays.

        Rejection sampling in metres over the bounding box; a candidate is kept
        only if its ``(lat, lng)`` passes ``contains_many``, so every returned
        point is inside by the same test callers use.
        """
        if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 0:
            raise InvalidInput(f"n must be a non-negative integer, got {n!r}")
        minx, miny, maxx, maxy = self._geom.bounds
        lat_parts: list[FloatArray] = []
        lng_parts: list[FloatArray] = []
        got = 0
        while got < n:
            k = max(16, int((n - got) * 1.5))
            x = rng.uniform(minx, maxx, k)
            y = rng.uniform(miny, maxy, k)
            la, ln = self._proj.to_latlng(x, y)
            keep = self.contains_many(la, ln)
            lat_parts.append(la[keep])
            lng_parts.append(ln[keep])
            got += int(keep.sum())
        if not lat_parts:
            return np.zeros(0), np.zeros(0)
        return np.concatenate(lat_parts)[:n], np.concatenate(lng_parts)[:n]

    def boundary_latlng(self) -> list[LatLng]:
        """The outline as ``(lat, lng)`` pairs for maps (closing point not repeated)."""
        x, y = np.asarray(self._geom.exterior.coords).T
        la, ln = self._proj.to_latlng(x[:-1], y[:-1])
        return list(zip(la.tolist(), ln.tolist(), strict=True))


def cell_polygon_xy(fence: Geofence, cell: int) -> Polygon:
    """A cell's hexagon in the fence's metric frame (for maps and coverage checks)."""
    b = cell_boundary(cell)
    x, y = fence.projection.to_xy([p[0] for p in b], [p[1] for p in b])
    return Polygon(np.column_stack([x, y]))


__all__ = ["MAX_COVER_CELLS", "MAX_RADIUS_M", "Geofence", "cell_polygon_xy"]
