"""H3 helpers on the integer API."""

from __future__ import annotations

import h3.api.basic_int as h3i
import numpy as np
import pytest

from geo import (
    DEFAULT_RESOLUTION,
    InvalidInput,
    average_cell_area_m2,
    cell_area_m2,
    cell_boundary,
    cell_center,
    cell_of,
    cell_resolution,
    cells_of,
    check_resolution,
    disk,
    grid_distance,
    is_valid_cell,
    ring,
)

SHANGHAI = (31.2304, 121.4737)


def test_disk_sizes_and_order() -> None:
    """A k=1 disk has 7 cells and k=2 has 19, sorted, nested, centred on the cell."""
    c = cell_of(*SHANGHAI)
    d0, d1, d2 = disk(c, 0), disk(c, 1), disk(c, 2)
    assert d0 == (c,)
    assert len(d1) == 7 and len(d2) == 19
    assert list(d2) == sorted(d2) and c in d1 and set(d1) <= set(d2)
    assert sorted(grid_distance(c, x) for x in d2) == [0] + [1] * 6 + [2] * 12


@pytest.mark.parametrize("k", [0, 1, 2, 5])
def test_rings_partition_the_disk(k: int) -> None:
    """Rings 0..k are disjoint, sorted, exactly k steps away, and together make disk k."""
    for c in (cell_of(*SHANGHAI), int(h3i.get_pentagons(9)[0])):
        rings = [ring(c, j) for j in range(k + 1)]
        assert all(list(r) == sorted(r) for r in rings)
        assert all(grid_distance(c, x) == j for j, r in enumerate(rings) for x in r)
        cells = [x for r in rings for x in r]
        assert len(cells) == len(set(cells)) and set(cells) == set(disk(c, k))
    with pytest.raises(InvalidInput):
        ring(cell_of(*SHANGHAI), -1)


def test_disk_around_a_pentagon_is_smaller() -> None:
    """Pentagons have five neighbours, so their disks hold fewer cells."""
    pentagon = int(h3i.get_pentagons(9)[0])
    assert len(disk(pentagon, 1)) == 6
    assert len(disk(pentagon, 2)) < 19


def test_cells_of_matches_cell_of_and_keeps_shape() -> None:
    """The array form agrees with the scalar form, keeps the input shape and is uint64."""
    lats = np.array([[31.23, 31.24], [31.25, 31.26]])
    lngs = np.array([[121.47, 121.48], [121.49, 121.50]])
    out = cells_of(lats, lngs, 9)
    assert out.shape == (2, 2) and out.dtype == np.uint64
    expected = [
        [cell_of(a, b, 9) for a, b in zip(ra, rb, strict=True)]
        for ra, rb in zip(lats, lngs, strict=True)
    ]
    assert out.tolist() == expected
    empty = cells_of([], [])
    assert empty.shape == (0,) and empty.dtype == np.uint64


def test_cells_of_validates_points() -> None:
    """A bad point in the array raises InvalidInput naming its index."""
    with pytest.raises(InvalidInput, match="point 1"):
        cells_of([31.0, 91.0], [121.0, 121.0])


def test_default_resolution_is_nine() -> None:
    """Cells default to resolution 9."""
    assert DEFAULT_RESOLUTION == 9
    assert cell_resolution(cell_of(*SHANGHAI)) == 9
    assert cell_resolution(cell_of(*SHANGHAI, resolution=12)) == 12


def test_cell_geometry_round_trip() -> None:
    """A cell's centre maps back to the cell; its boundary has six vertices near the centre."""
    c = cell_of(*SHANGHAI, 9)
    assert cell_of(*cell_center(c), 9) == c
    ring = cell_boundary(c)
    assert len(ring) == 6 and ring[0] != ring[-1]
    lat, lng = cell_center(c)
    assert all(abs(a - lat) < 0.01 and abs(b - lng) < 0.01 for a, b in ring)


def test_cell_areas_are_of_the_expected_order() -> None:
    """Resolution 9 cells cover roughly a tenth of a square kilometre."""
    assert average_cell_area_m2(9) == pytest.approx(105_333, rel=0.01)
    assert 0.05e6 < cell_area_m2(cell_of(*SHANGHAI)) < 0.15e6


@pytest.mark.parametrize("res", [-1, 16, 3.5, True, "9", None, np.float64(9.0)])
def test_bad_resolution_raises(res: object) -> None:
    """Resolutions outside 0..15, or not integers, raise InvalidInput (also a ValueError)."""
    with pytest.raises(InvalidInput) as info:
        cell_of(31.0, 121.0, res)  # type: ignore[arg-type]
    assert isinstance(info.value, ValueError)
    with pytest.raises(InvalidInput):
        check_resolution(res)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput):
        cells_of([31.0], [121.0], res)  # type: ignore[arg-type]


def test_numpy_integer_resolution_is_accepted() -> None:
    """A numpy integer resolution works like a Python int."""
    assert check_resolution(np.int64(7)) == 7
    assert cell_of(*SHANGHAI, np.int32(7)) == cell_of(*SHANGHAI, 7)  # type: ignore[arg-type]


def test_is_valid_cell() -> None:
    """Only integers that are H3 cells are valid; strings and booleans never are."""
    c = cell_of(*SHANGHAI)
    assert is_valid_cell(c) and is_valid_cell(np.uint64(c))
    assert not is_valid_cell(12345)
    assert not is_valid_cell(-1)
    assert not is_valid_cell(2**64)
    assert not is_valid_cell(str(c))
    assert not is_valid_cell(h3i.int_to_str(c))
    assert not is_valid_cell(True)


@pytest.mark.parametrize(
    "call",
    [
        lambda: disk(12345, 1),
        lambda: disk(cell_of(*SHANGHAI), -1),
        lambda: disk(cell_of(*SHANGHAI), 1.5),
        lambda: disk(cell_of(*SHANGHAI), 1001),
        lambda: cell_center(0),
        lambda: cell_boundary(-5),
        lambda: cell_resolution(7),
        lambda: grid_distance(cell_of(*SHANGHAI, 9), cell_of(*SHANGHAI, 8)),
        lambda: grid_distance(cell_of(0.0, 0.0, 9), cell_of(60.0, 120.0, 9)),
    ],
)
def test_bad_cells_and_arguments_raise(call: object) -> None:
    """Non-cells, bad k and impossible grid distances raise InvalidInput."""
    with pytest.raises(InvalidInput):
        call()  # type: ignore[operator]


def test_grid_distance_between_neighbours() -> None:
    """Adjacent cells are one step apart; a cell is zero steps from itself."""
    c = cell_of(*SHANGHAI)
    ring = [x for x in disk(c, 1) if x != c]
    assert grid_distance(c, c) == 0
    assert all(grid_distance(c, x) == 1 for x in ring)
