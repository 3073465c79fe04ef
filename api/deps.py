"""Dependencies as ``Annotated`` aliases: the engine, app services, and callers by role.

A role alias both authenticates (401) and authorises (403). The bearer scheme is
written into the OpenAPI document by ``declare_security`` (each operation that
needs a role gets it, with the roles named), not through a ``Security`` dependency:
every dependency costs each request a resolution step, and the gate reads the
header itself anyway.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Request
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts
from starlette.concurrency import run_in_threadpool
from starlette.routing import BaseRoute

from api.auth import Principal
from api.changes import Changes
from api.gate import gate_of
from api.metrics import Metrics
from api.settings import ApiSettings
from dispatch.engine import Engine
from dispatch.store.memory import MemoryStore

T = TypeVar("T")

SCHEME = "ApiKey"
BEARER = {
    "type": "http",
    "scheme": "bearer",
    "description": "An API key: `Authorization: Bearer <key>`; each key holds roles.",
}
_ROLES = "__dispatch_roles__"


async def get_engine(request: Request) -> Engine:
    return request.app.state.engine  # type: ignore[no-any-return]


class EngineCalls:
    """Runs engine calls the way the store needs: inline for the memory store (pure
    CPU, no I/O: a thread-pool hop would only add latency), in the thread pool for
    Redis (blocking I/O must not stall the event loop)."""

    def __init__(self, inline: bool, counted: Callable[[str], None] = lambda path: None) -> None:
        self.inline = inline
        self.counted = counted  # told "loop" or "thread" for each ``awaiting_first`` call

    async def __call__(self, fn: Callable[..., T], *args: Any) -> T:
        if self.inline:
            return fn(*args)
        return await run_in_threadpool(fn, *args)

    async def awaiting_first(
        self, fast: Callable[..., Awaitable[T | None]], slow: Callable[..., T], *args: Any
    ) -> T:
        """``fast`` on the loop (an engine call that awaits its I/O and answers None when
        it would have to block), else ``slow`` the usual way; inline stores go slow at
        once (their calls never wait)."""
        if not self.inline:
            done = await fast(*args)
            if done is not None:
                self.counted("loop")
                return done
            self.counted("thread")
        return await self(slow, *args)


class Services:
    """What a hot route needs in one dependency (each dependency costs a request time):
    the engine, the metrics and the right way to call the engine."""

    __slots__ = ("call", "engine", "metrics")

    def __init__(self, engine: Engine, metrics: Metrics) -> None:
        self.engine = engine
        self.metrics = metrics
        series = {p: metrics.engine_calls.labels(p) for p in ("loop", "thread")}
        self.call = EngineCalls(
            isinstance(engine.store, MemoryStore), lambda path: series[path].inc()
        )


async def get_services(request: Request) -> Services:
    """The app's services, built once per engine (the lifespan may set the engine late)."""
    state = request.app.state
    svc: Services | None = getattr(state, "services", None)
    if svc is None or svc.engine is not state.engine:
        svc = state.services = Services(state.engine, state.metrics)
    return svc


async def get_metrics(request: Request) -> Metrics:
    return request.app.state.metrics  # type: ignore[no-any-return]


async def get_changes(request: Request) -> Changes:
    return request.app.state.changes  # type: ignore[no-any-return]


async def get_settings(request: Request) -> ApiSettings:
    return request.app.state.settings  # type: ignore[no-any-return]


def require(*roles: str) -> Callable[[Request], Awaitable[Principal]]:
    """A dependency admitting callers that hold one of ``roles``.

    Dependencies are coroutines: a plain function would cost each request a hop
    through the thread pool (the gate's rare Redis calls take that hop themselves).
    Refusals: 401, 403, and 429 past the key's rate limit (``api.gate``).
    """
    wanted = frozenset(roles)

    async def dependency(request: Request) -> Principal:
        principal = await gate_of(request).admit(request, wanted)
        request.state.principal = principal
        return principal

    setattr(dependency, _ROLES, wanted)
    return dependency


def _roles_of(dependant: Dependant) -> frozenset[str] | None:
    """The roles the first ``require`` dependency of a route admits (None: open)."""
    for sub in dependant.dependencies:
        roles = getattr(sub.call, _ROLES, None)
        if roles is None:
            roles = _roles_of(sub)
        if roles is not None:
            return frozenset(roles)
    return None


def declare_security(schema: dict[str, Any], routes: list[BaseRoute]) -> None:
    """Write the bearer scheme into ``schema`` and, on each operation that needs a
    role, a security requirement and the roles it admits."""
    paths = schema.get("paths", {})
    needed = False
    for route in iter_route_contexts(routes):
        path = route.path_format
        if not isinstance(route.original_route, APIRoute) or path not in paths:
            continue
        roles = _roles_of(route.dependant)
        if roles is None:
            continue
        for method in route.methods or ():
            operation = paths[path].get(method.lower())
            if operation is None:
                continue
            needed = True
            operation["security"] = [{SCHEME: []}]
            note = "Roles: " + ", ".join(f"`{r}`" for r in sorted(roles)) + "."
            text = operation.get("description", "")
            operation["description"] = f"{text}\n\n{note}" if text else note
    if needed:
        schemes = schema.setdefault("components", {}).setdefault("securitySchemes", {})
        schemes[SCHEME] = dict(BEARER)


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
