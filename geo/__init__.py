"""Pure geography: coordinates, H3 cells, community geofences, travel matrices.

Coordinates are ``(lat, lng)`` everywhere (see ``geo.coords``); H3 cells are
ints; distances are metres and times seconds. Imports nothing from the other
layers of the project.
"""

from geo.cells import (
    DEFAULT_RESOLUTION,
    MAX_RESOLUTION,
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
from geo.coords import EARTH_RADIUS_M, LocalProjection, validate_latlng, validate_latlng_arrays
from geo.errors import InvalidInput
from geo.geofence import MAX_COVER_CELLS, MAX_RADIUS_M, Geofence, cell_polygon_xy
from geo.travel import (
    DEFAULT_CIRCUITY,
    PROFILES,
    HaversineMatrixProvider,
    MatrixProvider,
    TravelProfile,
    distance_m,
    distance_matrix_m,
    eta_s,
    great_circle_matrix_m,
    haversine_m,
    profile,
    time_matrix_s,
)

__all__ = [
    "DEFAULT_CIRCUITY",
    "DEFAULT_RESOLUTION",
    "EARTH_RADIUS_M",
    "MAX_COVER_CELLS",
    "MAX_RADIUS_M",
    "MAX_RESOLUTION",
    "PROFILES",
    "Geofence",
    "HaversineMatrixProvider",
    "InvalidInput",
    "LocalProjection",
    "MatrixProvider",
    "TravelProfile",
    "average_cell_area_m2",
    "cell_area_m2",
    "cell_boundary",
    "cell_center",
    "cell_of",
    "cell_polygon_xy",
    "cell_resolution",
    "cells_of",
    "check_resolution",
    "disk",
    "distance_m",
    "distance_matrix_m",
    "eta_s",
    "great_circle_matrix_m",
    "grid_distance",
    "haversine_m",
    "is_valid_cell",
    "profile",
    "ring",
    "time_matrix_s",
    "validate_latlng",
    "validate_latlng_arrays",
]
