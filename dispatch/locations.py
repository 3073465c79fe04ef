"""Location updates, the hot path: validate a batch, keep the good fixes, report the rest.

A batch is checked item by item (known worker, valid point, sane time stamp,
inside the worker's community) with vectorised geofence and H3 work per
community; accepted fixes apply in batch order and the newest time stamp wins.
Only positions are written (``Store.put_positions``), never whole workers.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

import geo
from dispatch.errors import InvalidInput, NotFound, OutsideGeofence, Retired
from dispatch.fences import FenceCache
from dispatch.model import WorkerStatus
from dispatch.requests import LocationBatchResult, LocationUpdate
from dispatch.settings import EngineSettings
from dispatch.store.base import PositionState, Store

__all__ = ["apply_locations", "raise_first_error"]

_UNKNOWN = "unknown worker"
_OUTSIDE = "is outside community"
_RETIRED = "is retired"


def raise_first_error(result: LocationBatchResult) -> None:
    """A single update's failure as the error a one-item request raises."""
    if not result.errors:
        return
    message = result.errors[0][2]
    if message.startswith(_UNKNOWN):
        raise NotFound(message)
    if _OUTSIDE in message:
        raise OutsideGeofence(message)
    if message.endswith(_RETIRED):
        raise Retired(message)
    raise InvalidInput(message)


def _check(u: LocationUpdate, now: float, settings: EngineSettings) -> str | None:
    """Why an update is refused before its community is looked at, or None."""
    try:
        geo.validate_latlng(u.lat, u.lng)
    except geo.InvalidInput as exc:
        return str(exc)
    if u.status == WorkerStatus.RETIRED:
        return "status retired is set by retiring the worker, not reported"
    ts = now if u.ts is None else u.ts
    if not math.isfinite(ts) or ts > now + settings.max_future_skew_s:
        return "timestamp is too far in the future"
    if ts < now - settings.max_past_skew_s:
        return "timestamp is too old"
    return None


def apply_locations(
    store: Store,
    fences: FenceCache,
    settings: EngineSettings,
    now: float,
    updates: Sequence[LocationUpdate],
) -> LocationBatchResult:
    """Apply a batch; errors are (index, worker id, message), sorted by index."""
    errors: list[tuple[int, str, str]] = []
    workers = store.get_positions([u.worker_id for u in updates])
    by_community: dict[str, list[int]] = {}
    for i, (u, w) in enumerate(zip(updates, workers, strict=True)):
        problem = f"{_UNKNOWN} {u.worker_id}" if w is None else _check(u, now, settings)
        if w is not None and w.status == WorkerStatus.RETIRED:
            problem = f"worker {u.worker_id} {_RETIRED}"
        if problem is not None or w is None:
            errors.append((i, u.worker_id, str(problem)))
            continue
        by_community.setdefault(w.community_id, []).append(i)
    changed: dict[str, PositionState] = {}
    for community_id, items in by_community.items():
        community = store.get_community(community_id)
        if community is None:
            errors.extend(
                (i, updates[i].worker_id, "the worker's community is gone") for i in items
            )
            continue
        lats = np.array([updates[i].lat for i in items])
        lngs = np.array([updates[i].lng for i in items])
        inside = fences.get(community).contains_many(lats, lngs)
        cells = geo.cells_of(lats, lngs, community.h3_resolution)
        for j, i in enumerate(items):
            u = updates[i]
            if not inside[j]:
                errors.append((i, u.worker_id, f"({u.lat}, {u.lng}) {_OUTSIDE} {community_id}"))
                continue
            base = changed.get(u.worker_id) or workers[i]
            assert base is not None
            ts = now if u.ts is None else u.ts
            if base.ts is not None and ts < base.ts:
                continue  # an older fix than the one we have: accepted, not applied
            changed[u.worker_id] = PositionState(
                u.worker_id,
                community_id,
                float(u.lat),
                float(u.lng),
                float(ts),
                int(cells[j]),
                u.status.value if u.status is not None else base.status,
            )
    if changed:
        store.put_positions(list(changed.values()))
    errors.sort()
    return LocationBatchResult(accepted=len(updates) - len(errors), errors=tuple(errors))
