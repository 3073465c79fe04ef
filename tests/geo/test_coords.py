"""Coordinate validation and the local metric projection."""

from __future__ import annotations

import math

import numpy as np
import pytest

from geo import EARTH_RADIUS_M, InvalidInput, LocalProjection, haversine_m, validate_latlng
from geo.coords import validate_latlng_arrays


@pytest.mark.parametrize(
    ("lat", "lng", "fragment"),
    [
        (91.0, 0.0, "latitude"),
        (-90.5, 0.0, "latitude"),
        (0.0, 180.5, "longitude"),
        (math.nan, 0.0, "finite"),
        (0.0, math.inf, "finite"),
        ("north", 0.0, "numbers"),
    ],
)
def test_invalid_coordinates_raise_clear_invalid_input(
    lat: object, lng: object, fragment: str
) -> None:
    """Out-of-range, non-finite and non-numeric coordinates raise InvalidInput saying why."""
    with pytest.raises(InvalidInput, match=fragment):
        validate_latlng(lat, lng)  # type: ignore[arg-type]


def test_invalid_input_is_a_value_error() -> None:
    """Callers that catch ValueError also catch geo's InvalidInput."""
    assert issubclass(InvalidInput, ValueError)


def test_array_validation_names_first_bad_index() -> None:
    """Vectorised validation reports the first offending point."""
    with pytest.raises(InvalidInput, match="latitude 95"):
        validate_latlng_arrays([10.0, 95.0, 99.0], [0.0, 0.0, 0.0])
    with pytest.raises(InvalidInput, match="shape"):
        validate_latlng_arrays([1.0, 2.0], [1.0])


@pytest.mark.parametrize(
    "center", [(31.23, 121.47), (60.17, 24.94), (-33.87, 151.21), (0.0, 179.9)]
)
def test_projection_round_trip_is_exact_within_50_km(center: tuple[float, float]) -> None:
    """to_latlng(to_xy(p)) returns p to well under a centimetre within 50 km."""
    proj = LocalProjection(*center)
    rng = np.random.default_rng(3)
    x = rng.uniform(-50_000, 50_000, 500)
    y = rng.uniform(-50_000, 50_000, 500)
    lat, lng = proj.to_latlng(x, y)
    x2, y2 = proj.to_xy(lat, lng)
    assert np.max(np.hypot(x2 - x, y2 - y)) < 0.01


def test_projection_preserves_distance_from_center() -> None:
    """Distances from the centre equal great-circle distances (azimuthal equidistant)."""
    proj = LocalProjection(31.23, 121.47)
    lat, lng = proj.to_latlng(np.array([3000.0, 0.0, -2121.32]), np.array([0.0, -3000.0, 2121.32]))
    d = haversine_m(31.23, 121.47, lat, lng)
    assert np.allclose(d, 3000.0, atol=0.01)


def test_haversine_known_distance() -> None:
    """One degree of latitude is about 111.2 km on the mean sphere."""
    d = float(haversine_m(0.0, 0.0, 1.0, 0.0))
    assert d == pytest.approx(math.radians(1.0) * EARTH_RADIUS_M, rel=1e-9)
