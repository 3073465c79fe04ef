"""Quote ETAs from the injected travel model: the nearest fresh worker, then the trip."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

import geo
from dispatch.model import LatLng
from dispatch.supply import Placed

__all__ = ["CANDIDATES", "quote_eta_s"]

#: Workers (nearest by straight line) whose travel time the model is asked for.
CANDIDATES = 8


def quote_eta_s(
    workers: Sequence[Placed],
    origin: LatLng,
    destination: LatLng | None,
    *,
    matrices: geo.MatrixProvider,
    fallback_s: float,
) -> float:
    """Seconds until the work is done: reach the origin, then ride to the destination.

    ``workers`` are fresh workers near the origin (a ``SupplyIndex`` lookup); the
    fastest of the ``CANDIDATES`` nearest reaches the origin, and a delivery then
    rides with that worker's vehicle. Without a worker the reach is
    ``fallback_s`` (the promise) and the ride uses a bicycle.
    """
    fresh = list(workers)
    if len(fresh) > CANDIDATES:
        lats = np.array([w.position.lat for w in fresh])
        lngs = np.array([w.position.lng for w in fresh])
        near = np.argsort(geo.haversine_m(lats, lngs, origin.lat, origin.lng), kind="stable")
        fresh = [fresh[int(i)] for i in near[:CANDIDATES]]
    points = [origin] + ([destination] if destination is not None else [])
    points += [w.position for w in fresh]
    profiles = sorted({w.vehicle for w in fresh}) or ["bicycle"]
    _dist, times = matrices.matrices([p.lat for p in points], [p.lng for p in points], profiles)
    first = len(points) - len(fresh)
    best, ride = fallback_s, 0  # ride: index of the profile the delivery rides with
    if fresh:
        reach = [float(times[profiles.index(w.vehicle), first + i, 0]) for i, w in enumerate(fresh)]
        i = int(np.argmin(reach))
        best, ride = reach[i], profiles.index(fresh[i].vehicle)
    if destination is None:
        return best
    return best + float(times[ride, 0, 1])
