"""Communities and workers: creating and updating the records work is dispatched on."""

from __future__ import annotations

import math

import geo
from dispatch.community import CommunitySpec
from dispatch.errors import InvalidInput, NotFound
from dispatch.model import DEFAULT_SKILLS, Community, LatLng, Worker, WorkerKind
from dispatch.requests import WorkerSpec
from dispatch.store.base import Store

__all__ = ["build_community", "build_worker", "check_known_skills", "require_community"]


def require_community(store: Store, community_id: str) -> Community:
    c = store.get_community(community_id)
    if c is None:
        raise NotFound(f"community {community_id} does not exist")
    return c


def build_community(spec: CommunitySpec, old: Community | None) -> Community:
    """The community record of a spec (its version follows the old one's)."""
    try:
        fence = geo.Geofence.circle(spec.center.lat, spec.center.lng, spec.radius_m)
        cells = fence.cells(geo.check_resolution(spec.h3_resolution))
    except geo.InvalidInput as exc:
        raise InvalidInput(str(exc)) from exc
    return Community(
        id=spec.id,
        name=spec.name,
        center=LatLng(*fence.center),
        radius_m=float(spec.radius_m),
        h3_resolution=int(spec.h3_resolution),
        delivery_sla_s=spec.delivery_sla_min * 60.0,
        emergency_sla_s=spec.emergency_sla_min * 60.0,
        dispatch_interval_s=spec.dispatch_interval_s,
        solver_budget_s=spec.solver_budget_s,
        max_orders_per_trip=int(spec.max_orders_per_trip),
        single_merchant_trips=spec.single_merchant_trips,
        skills=_catalogue(spec, old),
        cell_count=len(cells),
        version=(old.version + 1) if old else 1,
    )


def _catalogue(spec: CommunitySpec, old: Community | None) -> frozenset[str]:
    """The spec's skills, else the community's own, else the product's home services."""
    if spec.skills is not None:
        return frozenset(spec.skills)
    return old.skills if old is not None else DEFAULT_SKILLS


def check_known_skills(community: Community, skills: frozenset[str], what: str) -> None:
    """Raise ``InvalidInput`` when ``skills`` name one outside the community's catalogue."""
    unknown = sorted(skills - community.skills)
    if unknown:
        raise InvalidInput(
            f"{what} names skills community {community.id} does not offer: {unknown}; "
            f"known skills: {sorted(community.skills)}"
        )


def build_worker(spec: WorkerSpec, old: Worker | None) -> Worker:
    """The worker record of a spec; its last position is kept within the same community."""
    if not spec.id or len(spec.id) > 64:
        raise InvalidInput("worker id must be 1-64 characters")
    if not math.isfinite(spec.rating) or not 0.0 <= spec.rating <= 5.0:
        raise InvalidInput("rating must lie in [0, 5]")
    if spec.capacity < 0 or spec.capacity > 50:
        raise InvalidInput("capacity must lie in [0, 50]")
    if spec.kind == WorkerKind.COURIER and spec.capacity < 1:
        raise InvalidInput("a courier needs a capacity of at least 1")
    keep = old if old is not None and old.community_id == spec.community_id else None
    return Worker(
        id=spec.id,
        kind=spec.kind,
        community_id=spec.community_id,
        vehicle=spec.vehicle,
        capacity=spec.capacity,
        skills=frozenset(spec.skills),
        rating=float(spec.rating),
        shift_end=spec.shift_end,
        status=spec.status,
        position=keep.position if keep else None,
        position_ts=keep.position_ts if keep else None,
        cell=keep.cell if keep else None,
        version=(old.version + 1) if old else 1,
    )
