"""Quote ETAs from the injected travel model: the nearest fresh worker, then the trip."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

import geo
from dispatch.model import LatLng, Worker
from dispatch.supply import is_fresh

__all__ = ["CANDIDATES", "quote_eta_s"]

#: Workers (nearest by straight line) whose travel time the model is asked for.
CANDIDATES = 8


def quote_eta_s(
    workers: Sequence[Worker],
    origin: LatLng,
    destination: LatLng | None,
    now: float,
    *,
    staleness_s: float,
    matrices: geo.MatrixProvider,
    fallback_s: float,
) -> float:
    """Seconds until the work is done: reach the origin, then ride to the destination.

    The fastest of the few nearest fresh workers reaches the origin; a delivery
    then rides with that worker's vehicle. Without a fresh worker the reach is
    ``fallback_s`` (the promise) and the ride uses a bicycle.
    """
    fresh = [w for w in workers if w.position is not None and is_fresh(w, now, staleness_s)]
    if fresh:
        lats = np.array([w.position.lat for w in fresh if w.position is not None])
        lngs = np.array([w.position.lng for w in fresh if w.position is not None])
        near = np.argsort(geo.haversine_m(lats, lngs, origin.lat, origin.lng), kind="stable")
        fresh = [fresh[int(i)] for i in near[:CANDIDATES]]
    points = [origin] + ([destination] if destination is not None else [])
    points += [w.position for w in fresh if w.position is not None]
    profiles = sorted({w.vehicle.value for w in fresh}) or ["bicycle"]
    _dist, times = matrices.matrices([p.lat for p in points], [p.lng for p in points], profiles)
    first = len(points) - len(fresh)
    best, ride = fallback_s, 0  # ride: index of the profile the delivery rides with
    if fresh:
        reach = [
            float(times[profiles.index(w.vehicle.value), first + i, 0]) for i, w in enumerate(fresh)
        ]
        i = int(np.argmin(reach))
        best, ride = reach[i], profiles.index(fresh[i].vehicle.value)
    if destination is None:
        return best
    return best + float(times[ride, 0, 1])
