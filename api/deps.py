"""Dependencies as ``Annotated`` aliases: the engine, app services, and callers by role.

A role alias both authenticates (401) and authorises (403); the bearer scheme is
declared through ``HTTPBearer`` so the OpenAPI document shows it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from api.auth import Principal
from api.changes import Changes
from api.gate import gate_of
from api.metrics import Metrics
from api.settings import ApiSettings
from dispatch.engine import Engine
from dispatch.store.memory import MemoryStore

T = TypeVar("T")

_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="ApiKey",
    description="An API key: `Authorization: Bearer <key>`; each key holds roles.",
)
Credentials = Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)]


async def get_engine(request: Request) -> Engine:
    return request.app.state.engine  # type: ignore[no-any-return]


class EngineCalls:
    """Runs engine calls the way the store needs: inline for the memory store (pure
    CPU, no I/O: a thread-pool hop would only add latency), in the thread pool for
    Redis (blocking I/O must not stall the event loop)."""

    def __init__(self, inline: bool) -> None:
        self.inline = inline

    async def __call__(self, fn: Callable[..., T], *args: Any) -> T:
        if self.inline:
            return fn(*args)
        return await run_in_threadpool(fn, *args)


class Services:
    """What a hot route needs in one dependency (each dependency costs a request time):
    the engine, the metrics and the right way to call the engine."""

    __slots__ = ("call", "engine", "metrics")

    def __init__(self, engine: Engine, metrics: Metrics) -> None:
        self.engine = engine
        self.metrics = metrics
        self.call = EngineCalls(isinstance(engine.store, MemoryStore))


async def get_services(request: Request) -> Services:
    return Services(request.app.state.engine, request.app.state.metrics)


async def get_metrics(request: Request) -> Metrics:
    return request.app.state.metrics  # type: ignore[no-any-return]


async def get_changes(request: Request) -> Changes:
    return request.app.state.changes  # type: ignore[no-any-return]


async def get_settings(request: Request) -> ApiSettings:
    return request.app.state.settings  # type: ignore[no-any-return]


def require(
    *roles: str,
) -> Callable[[Request, HTTPAuthorizationCredentials | None], Awaitable[Principal]]:
    """A dependency admitting callers that hold one of ``roles``.

    Dependencies are coroutines: a plain function would cost each request a hop
    through the thread pool (the gate's rare Redis calls take that hop themselves).
    Refusals: 401, 403, and 429 past the key's rate limit (``api.gate``).
    """
    wanted = frozenset(roles)

    async def dependency(request: Request, credentials: Credentials) -> Principal:
        # ``credentials`` documents the scheme in OpenAPI; the gate reads the header itself.
        principal = await gate_of(request).admit(request, wanted)
        request.state.principal = principal
        return principal

    return dependency


EngineDep = Annotated[Engine, Depends(get_engine)]
MetricsDep = Annotated[Metrics, Depends(get_metrics)]
ServicesDep = Annotated[Services, Depends(get_services)]
ChangesDep = Annotated[Changes, Depends(get_changes)]
SettingsDep = Annotated[ApiSettings, Depends(get_settings)]

AnyRole = Annotated[Principal, Depends(require("ops", "order-service", "courier-app", "analyst"))]
Ops = Annotated[Principal, Depends(require("ops"))]
OrderService = Annotated[Principal, Depends(require("order-service"))]
OrderServiceOrOps = Annotated[Principal, Depends(require("order-service", "ops"))]
CourierApp = Annotated[Principal, Depends(require("courier-app"))]
CourierOrOps = Annotated[Principal, Depends(require("courier-app", "ops"))]
Analyst = Annotated[Principal, Depends(require("analyst"))]
AnalystOrOps = Annotated[Principal, Depends(require("analyst", "ops"))]
