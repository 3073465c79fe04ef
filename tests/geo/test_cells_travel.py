"""H3 helpers and the travel model."""

from __future__ import annotations

import numpy as np
import pytest

from geo import (
    PROFILES,
    HaversineMatrixProvider,
    InvalidInput,
    cell_boundary,
    cell_center,
    cell_of,
    cells_of,
    disk,
    eta_s,
    grid_distance,
    profile,
)
from geo.travel import TravelProfile


def test_disk_sizes_and_order() -> None:
    """A k=1 disk has 7 cells and k=2 has 19, sorted, centred on the cell."""
    c = cell_of(31.2304, 121.4737, 9)
    d1, d2 = disk(c, 1), disk(c, 2)
    assert len(d1) == 7 and len(d2) == 19
    assert list(d2) == sorted(d2) and c in d1 and set(d1) <= set(d2)
    assert all(grid_distance(c, x) <= 2 for x in d2)


def test_cells_of_matches_cell_of() -> None:
    """The array form agrees with the scalar form and keeps the input shape."""
    lats = np.array([[31.23, 31.24], [31.25, 31.26]])
    lngs = np.array([[121.47, 121.48], [121.49, 121.50]])
    out = cells_of(lats, lngs, 9)
    assert out.shape == (2, 2) and out.dtype == np.uint64
    assert int(out[1, 0]) == cell_of(31.25, 121.49, 9)


def test_cell_geometry_round_trip() -> None:
    """A cell's centre maps back to the cell and its boundary has six vertices."""
    c = cell_of(31.2304, 121.4737, 9)
    assert cell_of(*cell_center(c), 9) == c
    assert len(cell_boundary(c)) == 6


@pytest.mark.parametrize("res", [-1, 16, 3.5, True])
def test_bad_resolution_raises(res: object) -> None:
    """Resolutions outside 0..15 (or not integers) are refused."""
    with pytest.raises(InvalidInput):
        cell_of(31.0, 121.0, res)  # type: ignore[arg-type]


def test_bad_cell_raises() -> None:
    """An integer that is no H3 cell is refused with InvalidInput."""
    with pytest.raises(InvalidInput):
        disk(12345, 1)


def test_unknown_profile_and_bad_profiles() -> None:
    """Unknown profile names and implausible speeds raise InvalidInput."""
    with pytest.raises(InvalidInput, match="unknown travel profile"):
        profile("rocket")
    with pytest.raises(InvalidInput):
        TravelProfile("x", speed_mps=0.0)
    with pytest.raises(InvalidInput):
        TravelProfile("x", speed_mps=5.0, circuity=0.5)
    assert set(PROFILES) == {"walk", "bicycle", "scooter", "car"}


def test_matrices_shapes_symmetry_and_speed_order() -> None:
    """Integer matrices: zero diagonal, symmetric, a time matrix per profile, faster is less."""
    rng = np.random.default_rng(2)
    lats = 31.23 + rng.uniform(-0.02, 0.02, 25)
    lngs = 121.47 + rng.uniform(-0.02, 0.02, 25)
    dist, times = HaversineMatrixProvider().matrices(lats, lngs, ["walk", "bicycle", "car"])
    assert dist.shape == (25, 25) and times.shape == (3, 25, 25)
    assert dist.dtype == np.int64 and times.dtype == np.int64
    assert np.all(np.diag(dist) == 0) and np.array_equal(dist, dist.T)
    off = ~np.eye(25, dtype=bool)
    assert np.all(times[0][off] > times[1][off]) and np.all(times[1][off] > times[2][off])


def test_eta_uses_speed_and_circuity() -> None:
    """An ETA is road distance (great circle × circuity) over speed, rounded up."""
    p = profile("bicycle")
    lat2 = 31.23 + 1000.0 / 111_195.0
    t = eta_s(31.23, 121.47, lat2, 121.47, p)
    assert t == pytest.approx(1000.0 * p.circuity / p.speed_mps, abs=1.5)
