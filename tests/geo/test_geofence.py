"""Community geofences: construction, membership near the boundary, H3 cover, sampling."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from geo import (
    Geofence,
    InvalidInput,
    LocalProjection,
    cell_area_m2,
    cell_of,
    cell_polygon_xy,
    disk,
    haversine_m,
)

CENTERS = [(31.2304, 121.4737), (60.17, 24.94), (-33.87, 151.21), (0.0, 179.99)]
BEARINGS = np.arange(0.0, 360.0, 22.5)
# A 4 km x 3 km rectangle with a 2 km x 1.5 km notch cut from its north-east corner (an L).
L_SHAPE_XY = [(0, 0), (4000, 0), (4000, 1500), (2000, 1500), (2000, 3000), (0, 3000)]


def _at(proj: LocalProjection, distance_m: float, bearings_deg: object) -> tuple[np.ndarray, ...]:
    """Points at a distance and bearings (clockwise from north) from the projection centre."""
    b = np.radians(np.asarray(bearings_deg, dtype=float))
    return proj.to_latlng(distance_m * np.sin(b), distance_m * np.cos(b))


def _polygon_from_xy(center: tuple[float, float], xy: list[tuple[float, float]]) -> Geofence:
    lat, lng = LocalProjection(*center).to_latlng([p[0] for p in xy], [p[1] for p in xy])
    return Geofence.polygon(list(zip(lat.tolist(), lng.tolist(), strict=True)))


@pytest.mark.parametrize("center", CENTERS)
def test_membership_five_metres_either_side_of_the_boundary(center: tuple[float, float]) -> None:
    """At 16 bearings, points 5 m inside a 3 km circle are in and 5 m outside are out."""
    fence = Geofence.circle(*center, 3000.0)
    in_lat, in_lng = _at(fence.projection, 2995.0, BEARINGS)
    out_lat, out_lng = _at(fence.projection, 3005.0, BEARINGS)
    assert fence.contains_many(in_lat, in_lng).all()
    assert not fence.contains_many(out_lat, out_lng).any()
    for a, b, c, d in zip(in_lat, in_lng, out_lat, out_lng, strict=True):
        assert fence.contains(a, b) and not fence.contains(c, d)


def test_circle_is_buffered_in_metres_not_degrees() -> None:
    """At 60°N every boundary vertex is 3 km from the centre and the area is πr²."""
    fence = Geofence.circle(60.0, 25.0, 3000.0)
    ring = np.array(fence.boundary_latlng())
    d = haversine_m(60.0, 25.0, ring[:, 0], ring[:, 1])
    assert np.allclose(d, 3000.0, atol=0.01)
    assert fence.area_m2 == pytest.approx(math.pi * 3000.0**2, rel=2e-4)
    assert fence.radius_m == 3000.0 and fence.kind == "circle"
    assert fence.center == (60.0, 25.0)


def test_contains_many_agrees_with_contains() -> None:
    """The vectorised test gives the scalar answers and keeps the input shape."""
    fence = Geofence.circle(31.23, 121.47, 3000.0)
    rng = np.random.default_rng(5)
    lats = 31.23 + rng.uniform(-0.04, 0.04, (20, 15))
    lngs = 121.47 + rng.uniform(-0.04, 0.04, (20, 15))
    mask = fence.contains_many(lats, lngs)
    assert mask.dtype == np.bool_ and mask.shape == (20, 15)
    scalar = [
        [fence.contains(a, b) for a, b in zip(ra, rb, strict=True)]
        for ra, rb in zip(lats, lngs, strict=True)
    ]
    assert mask.tolist() == scalar
    assert 0 < mask.sum() < mask.size


@settings(max_examples=30, deadline=None)
@given(
    distances=st.lists(st.floats(2950, 3050), min_size=1, max_size=20),
    bearing=st.floats(0, 360),
)
def test_contains_many_agrees_with_contains_near_the_edge(
    distances: list[float], bearing: float
) -> None:
    """Near the boundary both forms agree point by point."""
    fence = Geofence.circle(45.0, 7.0, 3000.0)
    b = math.radians(bearing)
    d = np.asarray(distances)
    lats, lngs = fence.projection.to_latlng(d * math.sin(b), d * math.cos(b))
    mask = fence.contains_many(lats, lngs)
    assert mask.tolist() == [fence.contains(a, c) for a, c in zip(lats, lngs, strict=True)]


def test_membership_validates_coordinates() -> None:
    """Membership tests refuse invalid coordinates with InvalidInput."""
    fence = Geofence.circle(31.23, 121.47)
    with pytest.raises(InvalidInput, match="latitude"):
        fence.contains(91.0, 121.47)
    with pytest.raises(InvalidInput, match="point 1"):
        fence.contains_many([31.23, math.nan], [121.47, 121.47])


def test_distance_to_boundary_is_signed() -> None:
    """The centre is r from the boundary; a point 10 m outside is at -10 m."""
    fence = Geofence.circle(31.23, 121.47, 3000.0)
    assert fence.distance_to_boundary_m(31.23, 121.47) == pytest.approx(3000.0, abs=0.3)
    lat, lng = _at(fence.projection, 3010.0, [120.0])
    assert fence.distance_to_boundary_m(float(lat[0]), float(lng[0])) == pytest.approx(-10, abs=0.3)


def test_l_shaped_polygon_fence() -> None:
    """A concave polygon contains its arms but not its notch, with the expected area."""
    fence = _polygon_from_xy((31.2, 121.4), L_SHAPE_XY)
    assert fence.kind == "polygon" and fence.radius_m is None
    assert fence.area_m2 == pytest.approx(4000 * 3000 - 2000 * 1500, rel=1e-5)
    proj = LocalProjection(31.2, 121.4)
    lat, lng = proj.to_latlng([500, 3500, 500, 3000, 1000, -5], [500, 500, 2500, 2500, 1495, 100])
    assert fence.contains_many(lat, lng).tolist() == [True, True, True, False, True, False]


def test_polygon_closed_ring_and_round_trip() -> None:
    """A closed ring equals the open one; to_dict/from_dict restore an equal fence."""
    square = [(31.20, 121.40), (31.20, 121.44), (31.24, 121.44), (31.24, 121.40)]
    fence = Geofence.polygon(square)
    assert Geofence.polygon([*square, square[0]]) == fence
    again = Geofence.from_dict(fence.to_dict())
    assert again == fence and hash(again) == hash(fence)
    assert again.contains(31.22, 121.42) and not again.contains(31.25, 121.42)
    centre_lat, centre_lng = fence.center
    assert centre_lat == pytest.approx(31.22, abs=1e-4) and centre_lng == pytest.approx(121.42)
    assert "4 vertices" in repr(fence)


def test_circle_round_trip_and_equality() -> None:
    """A circle survives to_dict/from_dict, with or without its kind tag."""
    fence = Geofence.circle(31.23, 121.47, 2500.0)
    data = fence.to_dict()
    assert data == {"kind": "circle", "center": [31.23, 121.47], "radius_m": 2500.0}
    assert Geofence.from_dict(data) == fence
    assert Geofence.from_dict({"center": (31.23, 121.47), "radius_m": 2500}) == fence
    assert fence != Geofence.circle(31.23, 121.47, 2400.0)
    assert repr(fence) == "Geofence.circle(31.23, 121.47, radius_m=2500.0)"


def test_polygon_across_the_antimeridian() -> None:
    """A square straddling 180° is small and contains points on both sides of the line."""
    square = [(-0.01, 179.99), (-0.01, -179.99), (0.01, -179.99), (0.01, 179.99)]
    fence = Geofence.polygon(square)
    assert fence.area_m2 == pytest.approx(2226**2, rel=0.01)
    assert fence.contains(0.0, 179.995) and fence.contains(0.0, -179.995)
    assert not fence.contains(0.0, 179.98)
    lat, lng = fence.random_points(200, np.random.default_rng(0))
    assert fence.contains_many(lat, lng).all()
    assert set(cell_of(a, b) for a, b in zip(lat, lng, strict=True)) <= set(fence.cells())


def test_fence_is_immutable() -> None:
    """A fence's attributes cannot be reassigned."""
    fence = Geofence.circle(31.23, 121.47)
    with pytest.raises(AttributeError):
        fence._radius = 1.0  # type: ignore[misc]
    with pytest.raises(AttributeError):
        fence.center = (0.0, 0.0)  # type: ignore[misc]


@pytest.mark.parametrize(
    ("build", "fragment"),
    [
        (lambda: Geofence.circle(31.0, 121.0, -5.0), "radius"),
        (lambda: Geofence.circle(31.0, 121.0, math.nan), "radius"),
        (lambda: Geofence.circle(31.0, 121.0, 60_000.0), "radius"),
        (lambda: Geofence.circle(31.0, 121.0, "3000"), "radius_m must be a real number"),
        (lambda: Geofence.circle(95.0, 121.0), "latitude 95.0"),
        (lambda: Geofence.circle(31.0, math.inf), "longitude must be finite"),
        (lambda: Geofence.circle(88.0, 0.0), "pole"),
        (lambda: Geofence.polygon([(0.0, 0.0), (0.0, 0.01)]), "three distinct"),
        (lambda: Geofence.polygon([(0.0, 0.0), (0.0, 0.01), (0.0, 0.0)]), "three distinct"),
        (lambda: Geofence.polygon([(0.0, 0.0), (0.01, 0.01), (0.0, 0.01), (0.01, 0.0)]), "self"),
        (lambda: Geofence.polygon([(0.0, 0.0), (0.0, 0.01), (0.0, 0.02)]), "no area"),
        (lambda: Geofence.polygon([(0.0, 0.0), (0.0, 1.0), (1.0, 1.0)]), "50000 m"),
        (lambda: Geofence.polygon([(0.0, 0.0), (0.0, 0.01), (91.0, 0.01)]), "vertex 2"),
        (lambda: Geofence.polygon([(0.0, 0.0, 1.0), (0.0, 0.01), (0.01, 0.01)]), "pairs"),
        (lambda: Geofence.polygon(5), "pairs"),  # type: ignore[arg-type]
        (lambda: Geofence.polygon([(86.0, 0.0), (86.0, 0.01), (86.01, 0.01)]), "85"),
        (lambda: Geofence.polygon([(0.0, 0.0), (0.0, 120.0), (0.0, -120.0)]), "globe"),
        (lambda: Geofence.from_dict({"nothing": 1}), "center"),
        (lambda: Geofence.from_dict({"center": 31.0, "radius_m": 10.0}), "center"),
        (lambda: Geofence.from_dict({"kind": "polygon", "radius_m": 10.0}), "polygon"),
        (lambda: Geofence.from_dict([1, 2]), "mapping"),  # type: ignore[arg-type]
    ],
)
def test_bad_fences_raise_invalid_input(build: object, fragment: str) -> None:
    """Bad radii, centres, polygons and dicts are refused with a message saying why."""
    with pytest.raises(InvalidInput, match=fragment):
        build()  # type: ignore[operator]


@pytest.mark.parametrize("center", [(31.2304, 121.4737), (60.17, 24.94)])
def test_h3_cover_size_and_superset_of_centre_fill(center: tuple[float, float]) -> None:
    """About πr² / cell area cells, sorted, a superset of the cells whose centre is inside."""
    fence = Geofence.circle(*center, 3000.0)
    cells = fence.cells(9)
    assert list(cells) == sorted(cells) and len(set(cells)) == len(cells)
    expected = fence.area_m2 / cell_area_m2(cell_of(*center, 9))
    centred = fence.cell_centers_inside(9)
    assert 0.9 * expected < len(centred) < 1.1 * expected
    assert set(centred) <= set(cells)
    assert len(centred) < len(cells) < 1.3 * expected


@pytest.mark.parametrize(
    "fence",
    [
        Geofence.circle(31.2304, 121.4737, 3000.0),
        Geofence.circle(60.17, 24.94, 3000.0),
        _polygon_from_xy((31.2, 121.4), [(x - 2000, y - 1500) for x, y in L_SHAPE_XY]),
    ],
    ids=["shanghai", "helsinki", "l-shape"],
)
def test_h3_cover_is_exactly_the_overlapping_cells(fence: Geofence) -> None:
    """Every cell overlapping the fence is listed, and every listed cell touches the fence."""
    cells = set(fence.cells(9))
    candidates = disk(cell_of(*fence.center, 9), 16)
    geom = fence.geometry_xy
    for cell in candidates:
        hexagon = cell_polygon_xy(fence, cell)
        if hexagon.intersection(geom).area > 1.0:
            assert cell in cells
        if cell in cells:
            assert hexagon.distance(geom) < 1.0
    assert cells <= set(candidates)


def test_h3_cover_holds_the_cell_of_every_inside_point() -> None:
    """Random points inside the fence always fall in a listed cell."""
    fence = Geofence.circle(31.2304, 121.4737, 3000.0)
    listed = set(fence.cells(9))
    lats, lngs = fence.random_points(3000, np.random.default_rng(1))
    assert all(cell_of(a, b, 9) in listed for a, b in zip(lats, lngs, strict=True))


def test_h3_cover_at_a_coarse_resolution() -> None:
    """A 3 km fence at resolution 5 is covered by the few cells around its centre."""
    fence = Geofence.circle(31.2304, 121.4737, 3000.0)
    cells = fence.cells(5)
    assert cell_of(31.2304, 121.4737, 5) in cells and len(cells) <= 3


def test_h3_cover_refuses_huge_covers_and_bad_resolutions() -> None:
    """Covers of over a million cells and resolutions outside 0..15 raise InvalidInput."""
    fence = Geofence.circle(31.2304, 121.4737, 50_000.0)
    with pytest.raises(InvalidInput, match="coarser"):
        fence.cells(13)
    with pytest.raises(InvalidInput, match="resolution"):
        fence.cells(16)
    with pytest.raises(InvalidInput, match="resolution"):
        fence.cell_centers_inside(-1)


def test_cell_hexagon_in_metres_has_the_cell_area() -> None:
    """A cell drawn in the fence's metric frame has H3's area for it."""
    fence = Geofence.circle(31.2304, 121.4737)
    cell = cell_of(31.2304, 121.4737, 9)
    assert cell_polygon_xy(fence, cell).area == pytest.approx(cell_area_m2(cell), rel=1e-3)


def test_random_points_are_reproducible_and_spread() -> None:
    """The same seed gives the same points; n=0 gives empty arrays; bad n is refused."""
    fence = Geofence.circle(31.23, 121.47, 3000.0)
    a = fence.random_points(500, np.random.default_rng(7))
    b = fence.random_points(500, np.random.default_rng(7))
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    x, y = fence.projection.to_xy(*a)
    r = np.hypot(x, y)
    # Uniform in a disc: the inner half-radius disc holds about a quarter of the points.
    assert 0.18 < float(np.mean(r < 1500.0)) < 0.32
    empty = fence.random_points(0, np.random.default_rng(7))
    assert empty[0].shape == (0,) and empty[1].shape == (0,)
    for bad in (-1, 2.5, True):
        with pytest.raises(InvalidInput):
            fence.random_points(bad, np.random.default_rng(7))  # type: ignore[arg-type]


@settings(max_examples=40, deadline=None)
@given(
    lat=st.floats(-80, 80),
    lng=st.floats(-180, 180),
    radius=st.floats(50, 20_000),
    seed=st.integers(0, 2**16),
)
def test_random_points_lie_inside_circles(lat: float, lng: float, radius: float, seed: int) -> None:
    """Points sampled from a circle are inside it and within its radius."""
    fence = Geofence.circle(lat, lng, radius)
    lats, lngs = fence.random_points(50, np.random.default_rng(seed))
    assert lats.shape == (50,) and lngs.shape == (50,)
    assert bool(np.all(fence.contains_many(lats, lngs)))
    assert float(np.max(haversine_m(lat, lng, lats, lngs))) <= radius


@st.composite
def star_polygons(draw: st.DrawFn) -> list[tuple[float, float]]:
    """Simple polygons: vertices at increasing angles around a centre, random radii."""
    n = draw(st.integers(3, 12))
    lat = draw(st.floats(-75, 75))
    lng = draw(st.floats(-180, 180))
    jitter = draw(st.lists(st.floats(0, 0.4), min_size=n, max_size=n))
    radii = draw(st.lists(st.floats(100, 8000), min_size=n, max_size=n))
    angles = [2 * math.pi * (i + j) / n for i, j in enumerate(jitter)]
    xs = [r * math.cos(a) for r, a in zip(radii, angles, strict=True)]
    ys = [r * math.sin(a) for r, a in zip(radii, angles, strict=True)]
    la, ln = LocalProjection(lat, lng).to_latlng(xs, ys)
    return list(zip(la.tolist(), ln.tolist(), strict=True))


@settings(max_examples=40, deadline=None)
@given(vertices=star_polygons(), seed=st.integers(0, 2**16))
def test_random_points_lie_inside_polygons(vertices: list[tuple[float, float]], seed: int) -> None:
    """Points sampled from a polygon fence are inside it by both membership tests."""
    fence = Geofence.polygon(vertices)
    lats, lngs = fence.random_points(40, np.random.default_rng(seed))
    mask = fence.contains_many(lats, lngs)
    assert mask.shape == (40,) and bool(mask.all())
    assert all(fence.contains(a, b) for a, b in zip(lats[:5], lngs[:5], strict=True))


def test_single_point_answers_match_the_batch_near_the_outline() -> None:
    """contains (distance fast path) and contains_many (polygon) agree, edge included."""
    fence = Geofence.circle(31.2304, 121.4737, 3000.0)
    rng = np.random.default_rng(5)
    bearings = rng.uniform(0, 2 * np.pi, 400)
    radii = np.concatenate([rng.uniform(0, 4000, 200), 3000.0 + rng.uniform(-0.5, 0.5, 200)])
    lat0, lng0 = 31.2304, 121.4737
    lats = lat0 + radii * np.cos(bearings) / 111_195.0
    lngs = lng0 + radii * np.sin(bearings) / (111_195.0 * np.cos(np.radians(lat0)))
    batch = fence.contains_many(lats, lngs)
    single = np.array([fence.contains(float(a), float(b)) for a, b in zip(lats, lngs, strict=True)])
    assert (single == batch).all()
    assert batch.any() and not batch.all()


def test_distance_m_matches_the_vectorised_haversine() -> None:
    """The scalar great-circle distance equals the numpy one."""
    from geo import distance_m, haversine_m

    for a, b, c, d in [(31.2, 121.4, 31.3, 121.5), (0.0, 0.0, 0.0, 180.0), (-45, 10, 45, -170)]:
        assert distance_m(a, b, c, d) == pytest.approx(float(haversine_m(a, b, c, d)), rel=1e-12)
