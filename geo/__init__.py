"""Pure geography: coordinates, H3 cells, community geofences, travel matrices.

Imports nothing from the other layers.
"""

from geo.cells import (
    DEFAULT_RESOLUTION,
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
)
from geo.coords import EARTH_RADIUS_M, LocalProjection, validate_latlng, validate_latlng_arrays
from geo.errors import InvalidInput
from geo.geofence import Geofence, cell_polygon_xy
from geo.travel import (
    PROFILES,
    HaversineMatrixProvider,
    MatrixProvider,
    TravelProfile,
    distance_matrix_m,
    eta_s,
    haversine_m,
    profile,
    time_matrix_s,
)

__all__ = [
    "DEFAULT_RESOLUTION",
    "EARTH_RADIUS_M",
    "PROFILES",
    "Geofence",
    "HaversineMatrixProvider",
    "InvalidInput",
    "LocalProjection",
    "MatrixProvider",
    "TravelProfile",
    "cell_area_m2",
    "cell_boundary",
    "cell_center",
    "cell_of",
    "cell_polygon_xy",
    "cell_resolution",
    "cells_of",
    "check_resolution",
    "disk",
    "distance_matrix_m",
    "eta_s",
    "grid_distance",
    "haversine_m",
    "is_valid_cell",
    "profile",
    "time_matrix_s",
    "validate_latlng",
    "validate_latlng_arrays",
]
