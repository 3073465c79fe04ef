"""Community geofences: membership near the boundary, H3 cover, sampling."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from geo import Geofence, InvalidInput, cell_area_m2, cell_of


def _point_at(fence: Geofence, distance_m: float, bearing_deg: float) -> tuple[float, float]:
    b = math.radians(bearing_deg)
    lat, lng = fence.projection.to_latlng(
        np.array([distance_m * math.sin(b)]), np.array([distance_m * math.cos(b)])
    )
    return float(lat[0]), float(lng[0])


@pytest.mark.parametrize("center", [(31.2304, 121.4737), (60.17, 24.94), (-33.87, 151.21)])
@pytest.mark.parametrize("bearing", [0, 45, 90, 135, 180, 270, 333])
def test_membership_five_metres_either_side_of_the_boundary(
    center: tuple[float, float], bearing: float
) -> None:
    """Points 5 m inside the 3 km circle are in, 5 m outside are out, at any bearing or latitude."""
    fence = Geofence.circle(*center, 3000.0)
    assert fence.contains(*_point_at(fence, 2995.0, bearing))
    assert not fence.contains(*_point_at(fence, 3005.0, bearing))


def test_circle_is_metric_not_degrees() -> None:
    """At 60°N the fence reaches 3 km east as well as north (a degree buffer would not)."""
    fence = Geofence.circle(60.0, 25.0, 3000.0)
    east = _point_at(fence, 2990.0, 90)
    north = _point_at(fence, 2990.0, 0)
    assert fence.contains(*east) and fence.contains(*north)
    assert fence.area_m2 == pytest.approx(math.pi * 3000.0**2, rel=1e-3)


def test_contains_many_agrees_with_contains() -> None:
    """The vectorised test gives the same answers as the scalar one."""
    fence = Geofence.circle(31.23, 121.47, 3000.0)
    rng = np.random.default_rng(5)
    lats = 31.23 + rng.uniform(-0.04, 0.04, 300)
    lngs = 121.47 + rng.uniform(-0.04, 0.04, 300)
    mask = fence.contains_many(lats, lngs)
    assert mask.dtype == bool
    assert mask.tolist() == [fence.contains(a, b) for a, b in zip(lats, lngs, strict=True)]
    assert 0 < mask.sum() < 300


def test_polygon_fence() -> None:
    """A square polygon contains its centre and not a point beyond its edge."""
    square = [(31.20, 121.40), (31.20, 121.44), (31.24, 121.44), (31.24, 121.40)]
    fence = Geofence.polygon(square)
    assert fence.contains(31.22, 121.42)
    assert not fence.contains(31.25, 121.42)
    assert fence.radius_m is None
    again = Geofence.from_dict(fence.to_dict())
    assert again.contains(31.22, 121.42)


@pytest.mark.parametrize(
    "build",
    [
        lambda: Geofence.circle(31.0, 121.0, -5.0),
        lambda: Geofence.circle(31.0, 121.0, math.nan),
        lambda: Geofence.circle(95.0, 121.0, 3000.0),
        lambda: Geofence.polygon([(0.0, 0.0), (0.0, 1.0)]),
        lambda: Geofence.polygon([(0.0, 0.0), (1.0, 1.0), (0.0, 1.0), (1.0, 0.0)]),
        lambda: Geofence.from_dict({"nothing": 1}),
    ],
)
def test_bad_fences_raise_invalid_input(build: object) -> None:
    """Negative or NaN radii, bad centres, degenerate or self-crossing polygons are refused."""
    with pytest.raises(InvalidInput):
        build()  # type: ignore[operator]


def test_h3_cover_has_the_expected_size_and_covers_every_inside_point() -> None:
    """About πr² / cell area cells; every point inside the fence falls in a listed cell."""
    fence = Geofence.circle(31.2304, 121.4737, 3000.0)
    cells = fence.cells(9)
    assert list(cells) == sorted(cells)
    expected = fence.area_m2 / cell_area_m2(cells[len(cells) // 2])
    assert expected * 0.9 < len(cells) < expected * 1.4
    centred = fence.cell_centers_inside(9)
    assert set(centred) <= set(cells)
    lats, lngs = fence.random_points(2000, np.random.default_rng(1))
    listed = set(cells)
    assert all(cell_of(a, b, 9) in listed for a, b in zip(lats, lngs, strict=True))


@settings(max_examples=40, deadline=None)
@given(
    lat=st.floats(-70, 70),
    lng=st.floats(-179, 179),
    radius=st.floats(200, 10_000),
    seed=st.integers(0, 2**16),
)
def test_random_points_lie_inside(lat: float, lng: float, radius: float, seed: int) -> None:
    """Sampled points are always inside the fence they were drawn from."""
    fence = Geofence.circle(lat, lng, radius)
    lats, lngs = fence.random_points(50, np.random.default_rng(seed))
    assert len(lats) == 50
    assert bool(np.all(fence.contains_many(lats, lngs)))
