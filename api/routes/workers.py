"""Workers: register, read, report one position, read the planned route."""

from __future__ import annotations

from fastapi import APIRouter

from api.auth import check_worker
from api.deps import CourierApp, CourierOrOps, EngineDep, MetricsDep, Ops
from api.problems import responses
from api.schemas import Id, LocationIn, RouteOut, StopOut, WorkerIn, WorkerOut
from api.strict_query import StrictQueryRoute
from dispatch.errors import DispatchError

router = APIRouter(route_class=StrictQueryRoute, prefix="/v1/workers", tags=["workers"])


@router.put("/{worker_id}", responses=responses(404))
def put_worker(worker_id: Id, body: WorkerIn, engine: EngineDep, _: Ops) -> WorkerOut:
    """Create or update a worker (404: unknown community); dispatched once it has a fresh fix."""
    return WorkerOut.of(engine.upsert_worker(body.spec(worker_id)))


@router.get("/{worker_id}", responses=responses(404))
def get_worker(worker_id: Id, engine: EngineDep, who: CourierOrOps) -> WorkerOut:
    """The worker with its last position; ``busy`` while it carries open work."""
    if "ops" not in who.roles:
        check_worker(who, worker_id)
    return WorkerOut.of(engine.get_worker(worker_id))


@router.post("/{worker_id}/location", responses=responses(404))
def post_location(
    worker_id: Id, body: LocationIn, engine: EngineDep, metrics: MetricsDep, who: CourierApp
) -> WorkerOut:
    """One position (and, when given, a new status); 422 outside the community."""
    check_worker(who, worker_id)
    try:
        worker = engine.update_location(body.update(worker_id))
    except DispatchError:
        metrics.observe_locations(0, 1)
        raise
    metrics.observe_locations(1, 0)
    return WorkerOut.of(worker)


@router.post("/{worker_id}/retire", responses=responses(404, 409))
def retire_worker(worker_id: Id, engine: EngineDep, _: Ops) -> WorkerOut:
    """Retire a worker for good: no more dispatch or positions (409 while it carries
    open work); retiring again returns it."""
    return WorkerOut.of(engine.retire_worker(worker_id))


@router.get("/{worker_id}/route", responses=responses(404))
def get_route(worker_id: Id, engine: EngineDep, who: CourierOrOps) -> RouteOut:
    """The worker's committed stops, in order, with ETAs."""
    if "ops" not in who.roles:
        check_worker(who, worker_id)
    return RouteOut(worker_id=worker_id, stops=[StopOut.of(s) for s in engine.route(worker_id)])
