"""The hot routes' common case without FastAPI's generic request solving.

Order creation, quotes and location batches carry most of an API's traffic, and on
them FastAPI's per-request machinery (resolving the dependency tree, reading
headers through their declared fields, validating the returned model again before
serialising it) cost about as much as our own work. A route marked ``@hot`` keeps
its FastAPI declaration (OpenAPI, validation rules, dependencies, status code), and
its handler serves the common case directly:

- no query string, ``Content-Type: application/json``, a body that parses and
  validates against the declared model (through the route's own field, so the rules
  are FastAPI's), declared headers valid;
- then the route's dependencies (each an ``async def`` of the request alone: the
  services, the role check with its rate limit) and the endpoint, whose returned
  model is serialised once.

Anything else (a query string, another content type, a body or header FastAPI would
refuse) goes to FastAPI's own handler before any dependency has run, so refusals,
their order and their wording are FastAPI's. Checking a valid body before the
caller is authenticated changes nothing a caller can see.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar, cast

from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import Response

__all__ = ["hot", "hot_handler", "is_hot"]

_HOT = "__dispatch_hot__"
F = TypeVar("F", bound=Callable[..., Any])
Handler = Callable[[Request], Coroutine[Any, Any, Response]]


def hot(endpoint: F) -> F:
    """Mark an endpoint for ``hot_handler`` (apply under the route decorator)."""
    setattr(endpoint, _HOT, True)
    return endpoint


def is_hot(route: APIRoute) -> bool:
    return bool(getattr(route.endpoint, _HOT, False))


def _request_only(sub: Dependant) -> bool:
    """A dependency that is an ``async def`` taking only the request."""
    params = sub.path_params + sub.query_params + sub.header_params
    params += sub.cookie_params + sub.body_params
    return (
        sub.call is not None
        and inspect.iscoroutinefunction(sub.call)
        and not sub.dependencies
        and not params
        and sub.request_param_name is not None
        and sub.name is not None
    )


def hot_handler(route: APIRoute, fallback: Handler) -> Handler:
    """The handler of a ``@hot`` route: its common case served directly, the rest by
    ``fallback`` (FastAPI's handler). Refuses, when the app starts, a route whose
    shape it cannot serve exactly (path, query or cookie parameters, dependencies that
    need more than the request, a sync endpoint, no JSON body model)."""
    dependant = route.dependant
    call = dependant.call
    body = route.body_field
    model = route.response_field.field_info.annotation if route.response_field else None
    problems = []
    if call is None or not inspect.iscoroutinefunction(call):
        problems.append("the endpoint must be an async def")
    if dependant.path_params or dependant.query_params or dependant.cookie_params:
        problems.append("path, query or cookie parameters")
    if body is None or len(dependant.body_params) != 1:
        problems.append("exactly one JSON body model")
    if not all(_request_only(sub) for sub in dependant.dependencies):
        problems.append("dependencies must be async functions of the request alone")
    if dependant.request_param_name or dependant.response_param_name:
        problems.append("Request or Response parameters")
    if dependant.background_tasks_param_name:
        problems.append("background tasks")
    if not (isinstance(model, type) and issubclass(model, BaseModel)):
        problems.append("a pydantic response model")
    if problems:
        raise TypeError(f"route {route.path} cannot be hot: " + "; ".join(problems))
    assert call is not None and body is not None
    response_model = cast(type[BaseModel], model)
    body_name = dependant.body_params[0].name
    headers = [(h.name, h.alias.lower(), h) for h in dependant.header_params]
    subs = [(str(sub.name), sub.call) for sub in dependant.dependencies]
    status = route.status_code or 200

    async def handle(request: Request) -> Response:
        scope = request.scope
        if scope.get("query_string") or request.headers.get("content-type") != "application/json":
            return await fallback(request)
        raw = await request.body()
        try:
            parsed = json.loads(raw)
        except ValueError:
            return await fallback(request)
        value, errors = body.validate(parsed, {}, loc=("body",))
        if errors:
            return await fallback(request)
        kwargs: dict[str, Any] = {body_name: value}
        for name, alias, field in headers:
            given = request.headers.get(alias)
            if given is None:
                if field.field_info.is_required():
                    return await fallback(request)
                kwargs[name] = field.get_default()
                continue
            checked, errors = field.validate(given, {}, loc=("header", alias))
            if errors:
                return await fallback(request)
            kwargs[name] = checked
        for sub_name, dependency in subs:
            kwargs[sub_name] = await dependency(request)  # type: ignore[misc]
        out = await call(**kwargs)
        if isinstance(out, Response):
            return out
        if not isinstance(out, response_model):
            raise TypeError(f"{route.path} returned {type(out).__name__}, not {response_model}")
        return Response(
            out.model_dump_json(by_alias=True), status_code=status, media_type="application/json"
        )

    return handle
