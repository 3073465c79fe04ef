"""Liveness, readiness and metrics: no auth, for load balancers and Prometheus."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from api.deps import EngineDep, MetricsDep
from api.dispatcher_health import dispatcher_age_s
from api.problems import problem, responses
from api.schemas import Health
from api.strict_query import StrictQueryRoute

router = APIRouter(route_class=StrictQueryRoute, tags=["health"])
_PROMETHEUS = "text/plain; version=0.0.4; charset=utf-8"


@router.get("/healthz", response_model_exclude_none=True)
def healthz() -> Health:
    """The process is alive."""
    return Health(status="ok")


@router.get("/readyz", responses=responses(503, auth=False), response_model=Health)
async def readyz(engine: EngineDep, request: Request) -> Response:
    """The state store answers and a dispatcher completed a step lately (503 otherwise).

    The dispatcher is this process's own ticker when it runs one, else the
    freshest ``dispatch worker`` heartbeat on the shared store.
    """
    if not await run_in_threadpool(engine.store.ping):
        return problem(503, "the state store does not answer", headers={"Retry-After": "5"})
    age = await run_in_threadpool(dispatcher_age_s, request.app, engine)
    limit = request.app.state.settings.stall_after_s
    if age is not None and age > limit:
        return problem(
            503,
            f"no dispatcher completed a step for {age:.0f} s (limit {limit:g} s)",
            headers={"Retry-After": "5"},
        )
    body = Health(status="ready", dispatcher_age_s=None if age is None else round(age, 3))
    return Response(body.model_dump_json(exclude_none=True), media_type="application/json")


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {_PROMETHEUS: {"schema": {"type": "string"}}}}},
)
async def metrics(metrics: MetricsDep) -> Response:
    """Prometheus text exposition."""
    body = await run_in_threadpool(metrics.render)
    return Response(body, media_type=_PROMETHEUS)
