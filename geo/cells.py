"""H3 cells as integers (h3 v4 integer API); outputs sorted before anyone relies on them."""

from __future__ import annotations

import h3.api.basic_int as h3i
import numpy as np
import numpy.typing as npt

from geo.coords import validate_latlng, validate_latlng_arrays
from geo.errors import InvalidInput

DEFAULT_RESOLUTION = 9


def check_resolution(resolution: int) -> int:
    if isinstance(resolution, bool) or not isinstance(resolution, int | np.integer):
        raise InvalidInput(f"H3 resolution must be an integer, got {resolution!r}")
    if not 0 <= int(resolution) <= 15:
        raise InvalidInput(f"H3 resolution {resolution} is outside [0, 15]")
    return int(resolution)


def cell_of(lat: float, lng: float, resolution: int = DEFAULT_RESOLUTION) -> int:
    la, ln = validate_latlng(lat, lng)
    return int(h3i.latlng_to_cell(la, ln, check_resolution(resolution)))


def cells_of(
    lats: object, lngs: object, resolution: int = DEFAULT_RESOLUTION
) -> npt.NDArray[np.uint64]:
    """Cells of many points (h3-py has no vectorised call; the int API is the fast path)."""
    la, ln = validate_latlng_arrays(lats, lngs)
    res = check_resolution(resolution)
    to_cell = h3i.latlng_to_cell
    flat = [
        to_cell(a, b, res) for a, b in zip(la.ravel().tolist(), ln.ravel().tolist(), strict=True)
    ]
    return np.array(flat, dtype=np.uint64).reshape(la.shape)


def is_valid_cell(cell: int) -> bool:
    try:
        return bool(h3i.is_valid_cell(int(cell)))
    except (TypeError, ValueError, OverflowError):
        return False


def _checked(cell: int) -> int:
    if not is_valid_cell(cell):
        raise InvalidInput(f"{cell!r} is not a valid H3 cell")
    return int(cell)


def disk(cell: int, k: int) -> tuple[int, ...]:
    """Cells within k steps, sorted (k=1: 7 cells, k=2: 19 away from pentagons)."""
    if k < 0:
        raise InvalidInput("k must be non-negative")
    return tuple(sorted(int(c) for c in h3i.grid_disk(_checked(cell), int(k))))


def cell_center(cell: int) -> tuple[float, float]:
    lat, lng = h3i.cell_to_latlng(_checked(cell))
    return float(lat), float(lng)


def cell_boundary(cell: int) -> list[tuple[float, float]]:
    return [(float(a), float(b)) for a, b in h3i.cell_to_boundary(_checked(cell))]


def cell_resolution(cell: int) -> int:
    return int(h3i.get_resolution(_checked(cell)))


def grid_distance(a: int, b: int) -> int:
    try:
        return int(h3i.grid_distance(_checked(a), _checked(b)))
    except Exception as exc:  # h3 raises its own error for far-apart or pentagon cases
        raise InvalidInput(f"no grid distance between {a} and {b}: {exc}") from None


def cell_area_m2(cell: int) -> float:
    return float(h3i.cell_area(_checked(cell), unit="m^2"))
