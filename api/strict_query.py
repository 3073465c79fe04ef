"""Query strings as strict as bodies: a parameter the route does not declare is a 422.

Every HTTP route is a ``StrictQueryRoute``: before FastAPI resolves anything it
compares the query's names with the route's declared query parameters (all its
dependencies included, computed once per route). A typo such as ``?afetr=5`` would
otherwise be ignored silently and answer something else. A route class, not an
app-wide dependency: a request without a query string pays nothing, where each
dependency costs every request of every route. WebSockets are left alone (their
``?token=`` is read by hand).
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi.dependencies.models import Dependant
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import BaseModel
from starlette.requests import HTTPConnection, Request
from starlette.responses import Response

from api.hot_route import hot_handler, is_hot

__all__ = ["StrictQueryRoute", "check_query"]

_ATTR = "_declared_query_names"


def _collect(dependant: Dependant, out: set[str]) -> None:
    for param in dependant.query_params:
        model = param.field_info.annotation
        if isinstance(model, type) and issubclass(model, BaseModel):  # a query model
            out.update(f.alias or name for name, f in model.model_fields.items())
        else:
            out.add(param.alias)
    for sub in dependant.dependencies:
        _collect(sub, out)


def _names(route: APIRoute) -> frozenset[str]:
    """The route's query parameter names, computed once and kept on the route."""
    names: frozenset[str] | None = getattr(route, _ATTR, None)
    if names is None:
        found: set[str] = set()
        _collect(route.dependant, found)
        names = frozenset(found)
        setattr(route, _ATTR, names)
    return names


def check_query(route: APIRoute, conn: HTTPConnection) -> None:
    """Refuse (422) query parameters ``route`` does not declare."""
    unknown = sorted(set(conn.query_params) - _names(route))
    if unknown:
        raise RequestValidationError(
            [
                {
                    "loc": ("query", name),
                    "msg": "unknown query parameter",
                    "type": "extra_forbidden",
                }
                for name in unknown
            ]
        )


class StrictQueryRoute(APIRoute):
    """An ``APIRoute`` that refuses undeclared query parameters (``check_query``)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def strict(request: Request) -> Response:
            if request.scope.get("query_string"):
                check_query(self, request)
            return await handler(request)

        return hot_handler(self, strict) if is_hot(self) else strict
