"""Technician jobs: book (idempotent), read, cancel (idempotent), technician-reported events."""

from __future__ import annotations

from fastapi import APIRouter, status

from api.auth import check_worker
from api.deps import (
    CourierApp,
    EngineDep,
    OrderService,
    OrderServiceOrOps,
    ServicesDep,
)
from api.problems import responses
from api.routes.orders import IdempotencyKey
from api.schemas import Id, JobEventIn, JobIn, JobOut
from api.strict_query import StrictQueryRoute

router = APIRouter(route_class=StrictQueryRoute, prefix="/v1/jobs", tags=["jobs"])


@router.post("", status_code=status.HTTP_201_CREATED, responses=responses(404, 409))
async def post_job(
    body: JobIn,
    svc: ServicesDep,
    _: OrderService,
    idempotency_key: IdempotencyKey = None,
) -> JobOut:
    """Book a technician; emergencies are due within the community's emergency SLA."""
    engine = svc.engine
    job = await svc.call.awaiting_first(
        engine.create_job_async, engine.create_job, body.request(), idempotency_key
    )
    svc.metrics.observe_price(job.community_id, job.price.multiplier)
    return JobOut.of(job)


@router.get("/{job_id}", responses=responses(404))
def get_job(job_id: Id, engine: EngineDep, _: OrderServiceOrOps) -> JobOut:
    """State, technician, ETA and due time of a job."""
    return JobOut.of(engine.get_job(job_id))


@router.post("/{job_id}/cancel", responses=responses(404, 409))
def cancel_job(job_id: Id, engine: EngineDep, _: OrderServiceOrOps) -> JobOut:
    """Cancel before the work starts (409 after); cancelling again is harmless."""
    return JobOut.of(engine.cancel_job(job_id))


@router.post("/{job_id}/events", responses=responses(404, 409))
def job_event(job_id: Id, body: JobEventIn, engine: EngineDep, who: CourierApp) -> JobOut:
    """The technician reports started, arrived, completed or failed."""
    check_worker(who, body.worker_id)
    return JobOut.of(engine.job_event(job_id, body.type, body.worker_id))
