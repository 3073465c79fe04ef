"""Coordinate validation and the local metric projection."""

from __future__ import annotations

import math

import numpy as np
import pytest

from geo import InvalidInput, LocalProjection, haversine_m, validate_latlng, validate_latlng_arrays

CENTERS = [(31.2304, 121.4737), (60.17, 24.94), (-33.87, 151.21), (0.0, 179.99), (84.0, -40.0)]


@pytest.mark.parametrize(
    ("lat", "lng", "message"),
    [
        (91.0, 0.0, "latitude 91.0 is outside [-90, 90]"),
        (-90.5, 0.0, "latitude -90.5 is outside"),
        (0.0, 181.0, "longitude 181.0 is outside [-180, 180]"),
        (0.0, -180.5, "longitude -180.5 is outside"),
        (math.nan, 0.0, "latitude must be finite"),
        (0.0, math.inf, "longitude must be finite"),
        (-math.inf, 0.0, "latitude must be finite"),
        ("north", 0.0, "latitude must be a real number"),
        ("31.2", 0.0, "latitude must be a real number"),
        (True, 0.0, "latitude must be a real number"),
        (0.0, None, "longitude must be a real number"),
        (0.0, 1 + 2j, "longitude must be a real number"),
        (np.array([1.0, 2.0]), 0.0, "latitude must be a real number"),
    ],
)
def test_invalid_coordinates_raise_clear_invalid_input(
    lat: object, lng: object, message: str
) -> None:
    """Out-of-range, non-finite and non-numeric coordinates raise InvalidInput saying why."""
    with pytest.raises(InvalidInput) as info:
        validate_latlng(lat, lng)  # type: ignore[arg-type]
    assert message in str(info.value)
    assert isinstance(info.value, ValueError)


def test_valid_coordinates_come_back_as_floats() -> None:
    """Range ends, ints, numpy scalars and 0-d arrays are accepted and returned as floats."""
    assert validate_latlng(90, -180) == (90.0, -180.0)
    assert validate_latlng(-90.0, 180.0) == (-90.0, 180.0)
    out = validate_latlng(np.float32(31.5), np.array(121.25))
    assert out == (31.5, 121.25) and all(type(v) is float for v in out)


def test_array_validation_names_the_first_bad_index() -> None:
    """Vectorised validation reports the first offending point by index."""
    with pytest.raises(InvalidInput, match=r"point 1: latitude 95.0 is outside"):
        validate_latlng_arrays([10.0, 95.0, 99.0], [0.0, 0.0, 0.0])
    with pytest.raises(InvalidInput, match=r"point 2: longitude must be finite"):
        validate_latlng_arrays([1.0, 2.0, 3.0], [1.0, 2.0, math.nan])
    with pytest.raises(InvalidInput, match=r"point \(1, 0\): longitude 200.0"):
        validate_latlng_arrays([[1.0, 2.0], [3.0, 4.0]], [[1.0, 2.0], [200.0, 4.0]])


@pytest.mark.parametrize(
    ("lats", "lngs", "fragment"),
    [
        ([1.0, 2.0], [1.0], "differ in shape"),
        (["1.0", "2.0"], [1.0, 2.0], "real numbers"),
        ([True, False], [1.0, 2.0], "real numbers"),
        ([1.0, None], [1.0, 2.0], "point 1"),
        ([[1.0], [2.0, 3.0]], [1.0, 2.0], "real numbers"),
    ],
)
def test_array_validation_refuses_bad_arrays(lats: object, lngs: object, fragment: str) -> None:
    """Mismatched shapes, strings, booleans, None and ragged input raise InvalidInput."""
    with pytest.raises(InvalidInput, match=fragment):
        validate_latlng_arrays(lats, lngs)


def test_array_validation_returns_float64_of_the_input_shape() -> None:
    """Integer and list input become float64 arrays; empty input is fine."""
    la, ln = validate_latlng_arrays([[1, 2, 3]], [[4, 5, 6]])
    assert la.dtype == np.float64 and ln.dtype == np.float64 and la.shape == (1, 3)
    empty_la, empty_ln = validate_latlng_arrays([], [])
    assert empty_la.shape == (0,) and empty_ln.shape == (0,)


@pytest.mark.parametrize("center", CENTERS)
def test_projection_round_trip_within_50_km(center: tuple[float, float]) -> None:
    """Metres → lat/lng → metres and lat/lng → metres → lat/lng agree to < 1 cm within 50 km."""
    proj = LocalProjection(*center)
    rng = np.random.default_rng(3)
    x = rng.uniform(-35_000, 35_000, 500)
    y = rng.uniform(-35_000, 35_000, 500)
    lat, lng = proj.to_latlng(x, y)
    x2, y2 = proj.to_xy(lat, lng)
    assert float(np.max(np.hypot(x2 - x, y2 - y))) < 0.01
    lat2, lng2 = proj.to_latlng(x2, y2)
    assert float(np.max(haversine_m(lat, lng, lat2, lng2))) < 0.01


@pytest.mark.parametrize("center", CENTERS)
def test_projection_distance_from_center_is_great_circle(center: tuple[float, float]) -> None:
    """Azimuthal equidistant: the distance from the centre equals the great-circle distance."""
    proj = LocalProjection(*center)
    rng = np.random.default_rng(4)
    x = rng.uniform(-50_000, 50_000, 300) / math.sqrt(2)
    y = rng.uniform(-50_000, 50_000, 300) / math.sqrt(2)
    lat, lng = proj.to_latlng(x, y)
    d = haversine_m(center[0], center[1], lat, lng)
    assert np.allclose(d, np.hypot(x, y), rtol=0, atol=1e-5)


@pytest.mark.parametrize("center", CENTERS)
def test_projected_distances_match_haversine_within_a_community(
    center: tuple[float, float],
) -> None:
    """Between any two points within 5 km of the centre, planar metres ≈ great-circle metres."""
    proj = LocalProjection(*center)
    rng = np.random.default_rng(5)
    x = rng.uniform(-3500, 3500, (2, 400))
    y = rng.uniform(-3500, 3500, (2, 400))
    lat, lng = proj.to_latlng(x, y)
    planar = np.hypot(x[0] - x[1], y[0] - y[1])
    sphere = haversine_m(lat[0], lng[0], lat[1], lng[1])
    assert float(np.max(np.abs(planar - sphere) - 1e-6 * sphere)) < 1e-3


def test_projection_orientation_and_centre() -> None:
    """The centre maps to (0, 0); x grows east and y grows north; tiny offsets stay exact."""
    proj = LocalProjection(31.23, 121.47)
    x, y = proj.to_xy([31.23, 31.24, 31.23], [121.47, 121.47, 121.48])
    assert abs(x[0]) < 1e-9 and abs(y[0]) < 1e-9
    assert abs(x[1]) < 1e-6 and y[1] > 1000
    assert x[2] > 900 and abs(y[2]) < 1.0
    lat, lng = proj.to_latlng([0.01], [0.0])
    assert float(haversine_m(31.23, 121.47, lat[0], lng[0])) == pytest.approx(0.01, abs=1e-6)


@pytest.mark.parametrize("center", CENTERS)
def test_scalar_projection_matches_the_array_form(center: tuple[float, float]) -> None:
    """point_to_xy gives the same metres as to_xy, and validates like it."""
    proj = LocalProjection(*center)
    rng = np.random.default_rng(6)
    lat, lng = proj.to_latlng(rng.uniform(-9000, 9000, 50), rng.uniform(-9000, 9000, 50))
    x, y = proj.to_xy(lat, lng)
    pairs = [proj.point_to_xy(a, b) for a, b in zip(lat.tolist(), lng.tolist(), strict=True)]
    assert np.allclose(np.array(pairs), np.column_stack([x, y]), rtol=0, atol=1e-8)
    assert proj.point_to_xy(*center) == (0.0, 0.0)
    with pytest.raises(InvalidInput, match="latitude"):
        proj.point_to_xy(math.nan, 0.0)


@pytest.mark.parametrize(
    ("xs", "ys", "fragment"),
    [
        ([math.nan], [0.0], "finite"),
        ([0.0], [math.inf], "finite"),
        ([3e7], [0.0], "half the Earth"),
        ([0.0, 1.0], [0.0], "differ in shape"),
    ],
)
def test_inverse_projection_refuses_bad_metres(xs: object, ys: object, fragment: str) -> None:
    """Non-finite, impossibly far or mismatched projected coordinates raise InvalidInput."""
    with pytest.raises(InvalidInput, match=fragment):
        LocalProjection(0.0, 0.0).to_latlng(xs, ys)


def test_projection_is_immutable_and_compares_by_centre() -> None:
    """Projections cannot be changed after construction and are equal when centred alike."""
    proj = LocalProjection(31.0, 121.0)
    with pytest.raises(AttributeError):
        proj._lat0 = 0.0  # type: ignore[misc]
    assert proj == LocalProjection(31.0, 121.0) and proj != LocalProjection(31.0, 121.5)
    assert hash(proj) == hash(LocalProjection(31.0, 121.0))
    assert proj.center == (31.0, 121.0)
    with pytest.raises(InvalidInput):
        LocalProjection(100.0, 0.0)
