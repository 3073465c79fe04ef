"""Liveness, readiness and metrics: no auth, for load balancers and Prometheus."""

from __future__ import annotations

from fastapi import APIRouter, Response
from starlette.concurrency import run_in_threadpool

from api.deps import EngineDep, MetricsDep
from api.problems import problem, responses
from api.schemas import Health

router = APIRouter(tags=["health"])
_PROMETHEUS = "text/plain; version=0.0.4; charset=utf-8"


@router.get("/healthz")
def healthz() -> Health:
    """The process is alive."""
    return Health(status="ok")


@router.get("/readyz", responses=responses(503, auth=False), response_model=Health)
async def readyz(engine: EngineDep) -> Response:
    """The state store answers (503 otherwise)."""
    if await run_in_threadpool(engine.store.ping):
        return Response(Health(status="ready").model_dump_json(), media_type="application/json")
    return problem(503, "the state store does not answer", headers={"Retry-After": "5"})


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {_PROMETHEUS: {"schema": {"type": "string"}}}}},
)
async def metrics(metrics: MetricsDep) -> Response:
    """Prometheus text exposition."""
    body = await run_in_threadpool(metrics.render)
    return Response(body, media_type=_PROMETHEUS)
