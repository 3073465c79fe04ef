"""Query strings as strict as bodies: a parameter the route does not declare is a 422.

An app-wide dependency compares the query's names with the route's declared query
parameters (all its dependencies included, cached per route). A typo such as
``?afetr=5`` would otherwise be ignored silently and answer something else.
WebSockets are left alone (their ``?token=`` is read by hand).
"""

from __future__ import annotations

from fastapi.dependencies.models import Dependant
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import BaseModel
from starlette.requests import HTTPConnection

__all__ = ["strict_query"]

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


async def strict_query(conn: HTTPConnection) -> None:
    """Refuse (422) query parameters the matched route does not declare."""
    if not conn.scope.get("query_string") or conn.scope["type"] != "http":
        return
    route = conn.scope.get("route")
    if not isinstance(route, APIRoute):
        return
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
