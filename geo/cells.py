"""H3 cells as integers (h3 v4 integer API, ``h3.api.basic_int``).

Cells are plain Python ``int`` (``uint64`` in arrays). Every function that
returns several cells returns them sorted, so callers may rely on the order.
Coordinates are ``(lat, lng)``, the same order h3 uses.
"""

from __future__ import annotations

import h3
import h3.api.basic_int as h3i
import numpy as np
import numpy.typing as npt

from geo.coords import validate_latlng, validate_latlng_arrays
from geo.errors import InvalidInput

DEFAULT_RESOLUTION = 9
MAX_RESOLUTION = 15
#: Largest k accepted by ``disk`` (3k²+3k+1 cells: three million at k=1000).
MAX_DISK_K = 1000

CellArray = npt.NDArray[np.uint64]


def _is_int(value: object) -> bool:
    return isinstance(value, int | np.integer) and not isinstance(value, bool | np.bool_)


def check_resolution(resolution: int) -> int:
    """The resolution as an int, or InvalidInput unless it is an integer in [0, 15]."""
    if not _is_int(resolution):
        raise InvalidInput(f"H3 resolution must be an integer, got {resolution!r}")
    if not 0 <= int(resolution) <= MAX_RESOLUTION:
        raise InvalidInput(f"H3 resolution {resolution} is outside [0, {MAX_RESOLUTION}]")
    return int(resolution)


def cell_of(lat: float, lng: float, resolution: int = DEFAULT_RESOLUTION) -> int:
    """The cell containing a point."""
    la, ln = validate_latlng(lat, lng)
    return int(h3i.latlng_to_cell(la, ln, check_resolution(resolution)))


def cells_of(lats: object, lngs: object, resolution: int = DEFAULT_RESOLUTION) -> CellArray:
    """Cells of many points, same shape as the input (a loop: h3-py has no array call)."""
    la, ln = validate_latlng_arrays(lats, lngs)
    res = check_resolution(resolution)
    to_cell = h3i.latlng_to_cell
    pairs = zip(la.ravel().tolist(), ln.ravel().tolist(), strict=True)
    flat = [to_cell(a, b, res) for a, b in pairs]
    return np.array(flat, dtype=np.uint64).reshape(la.shape)


def is_valid_cell(cell: object) -> bool:
    """True for an integer that is a valid H3 cell index (strings are never cells here)."""
    if not _is_int(cell):
        return False
    value = int(cell)  # type: ignore[call-overload]
    if not 0 <= value < 2**64:
        return False
    return bool(h3i.is_valid_cell(value))


def _checked(cell: object) -> int:
    if not is_valid_cell(cell):
        raise InvalidInput(f"{cell!r} is not a valid H3 cell")
    return int(cell)  # type: ignore[call-overload]


def disk(cell: int, k: int) -> tuple[int, ...]:
    """Cells within k grid steps, sorted (k=1: 7 cells, k=2: 19, fewer near pentagons)."""
    if not _is_int(k) or not 0 <= int(k) <= MAX_DISK_K:
        raise InvalidInput(f"k must be an integer in [0, {MAX_DISK_K}], got {k!r}")
    return tuple(sorted(int(c) for c in h3i.grid_disk(_checked(cell), int(k))))


def ring(cell: int, k: int) -> tuple[int, ...]:
    """Cells exactly k grid steps away, sorted (k=0: the cell itself; 6k cells away from
    pentagons). Walking rings outwards visits each cell of a disk once."""
    if not _is_int(k) or not 0 <= int(k) <= MAX_DISK_K:
        raise InvalidInput(f"k must be an integer in [0, {MAX_DISK_K}], got {k!r}")
    c = _checked(cell)
    if k == 0:
        return (int(c),)
    try:
        return tuple(sorted(int(x) for x in h3i.grid_ring(c, int(k))))
    except h3.H3BaseException:  # a pentagon nearby: fall back to the difference of disks
        inner = set(h3i.grid_disk(c, int(k) - 1))
        return tuple(sorted(int(x) for x in h3i.grid_disk(c, int(k)) if x not in inner))


def cell_center(cell: int) -> tuple[float, float]:
    """The cell's centre as ``(lat, lng)``."""
    lat, lng = h3i.cell_to_latlng(_checked(cell))
    return float(lat), float(lng)


def cell_boundary(cell: int) -> list[tuple[float, float]]:
    """The cell's vertices as ``(lat, lng)``, first vertex not repeated (6, or 5 for pentagons)."""
    return [(float(a), float(b)) for a, b in h3i.cell_to_boundary(_checked(cell))]


def cell_resolution(cell: int) -> int:
    return int(h3i.get_resolution(_checked(cell)))


def grid_distance(a: int, b: int) -> int:
    """Grid steps between two cells of one resolution; InvalidInput when h3 cannot tell."""
    ca, cb = _checked(a), _checked(b)
    try:
        return int(h3i.grid_distance(ca, cb))
    except h3.H3BaseException as exc:  # resolution mismatch, too far apart, pentagon distortion
        raise InvalidInput(f"no grid distance between {a} and {b}: {exc}") from None


def cell_area_m2(cell: int) -> float:
    """The cell's exact area on the sphere, square metres."""
    return float(h3i.cell_area(_checked(cell), unit="m^2"))


def average_cell_area_m2(resolution: int) -> float:
    """Mean hexagon area at a resolution (cells vary about twofold around it)."""
    return float(h3i.average_hexagon_area(check_resolution(resolution), unit="m^2"))
