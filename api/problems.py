"""One place that turns every error into RFC 9457 problem details (application/problem+json).

Domain errors map to one status each: InvalidInput (OutsideGeofence included) and
Infeasible → 422, NotFound → 404, Conflict → 409, StoreUnavailable → 503.
Request validation → 422 with ``errors[]``; unknown paths 404, wrong methods 405,
bad or missing keys 401, missing roles 403, oversize bodies 413 (``api.middleware``).
A ``code`` member names the problem for programs (``outside_geofence`` ...).
"""

from __future__ import annotations

import http
import json
import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from api.deps import declare_security
from dispatch.errors import (
    Conflict,
    DispatchError,
    HoldsOpenWork,
    Infeasible,
    InvalidInput,
    NotFound,
    OutsideGeofence,
    QuoteExpired,
    QuoteMismatch,
    QuoteUsed,
    Retired,
    StoreUnavailable,
    UnknownQuote,
)

log = logging.getLogger(__name__)
MEDIA_TYPE = "application/problem+json"

# Most specific first.
_DOMAIN: list[tuple[type[DispatchError], int, str]] = [
    (OutsideGeofence, 422, "outside_geofence"),
    (UnknownQuote, 422, "quote_unknown"),
    (QuoteMismatch, 422, "quote_mismatch"),
    (QuoteExpired, 409, "quote_expired"),
    (QuoteUsed, 409, "quote_used"),
    (Retired, 409, "retired"),
    (HoldsOpenWork, 409, "open_work"),
    (InvalidInput, 422, "invalid_input"),
    (Infeasible, 422, "infeasible"),
    (NotFound, 404, "not_found"),
    (Conflict, 409, "conflict"),
    (StoreUnavailable, 503, "store_unavailable"),
]
_TITLES = {413: "Content Too Large", 422: "Unprocessable Content"}
_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    408: "request_timeout",
    409: "conflict",
    410: "gone",
    413: "content_too_large",
    422: "validation_error",
    414: "uri_too_long",
    429: "too_many_requests",
    431: "headers_too_large",
    503: "unavailable",
}
#: Error lists are capped: the first ones, and ``error_count`` says how many there were.
MAX_ERRORS = 50
#: What a 503 says: never the store's address or its client's wording (that is logged).
UNAVAILABLE_DETAIL = "the state store is unavailable; retry later"


class FieldError(BaseModel):
    """One field problem: where (``loc``, as in the body or query), what and why."""

    loc: list[str | int] = Field(
        description="Where the problem is: body or query, then the path to the field."
    )
    msg: str = Field(description="What is wrong with it.")
    type: str = Field(description="A machine-readable kind of problem.")


class Problem(BaseModel):
    """RFC 9457 problem details: the body of every error response of this API."""

    type: str = Field(
        default="about:blank",
        description="A URI naming the kind of problem (about:blank: the status says it).",
    )
    title: str = Field(description="A short summary of the status.")
    status: int = Field(description="The HTTP status code.")
    detail: str | None = Field(default=None, description="What went wrong with this request.")
    instance: str | None = Field(default=None, description="The path of the request that failed.")
    code: str | None = Field(
        default=None, description="A machine-readable error code (e.g. conflict, not_found)."
    )
    errors: list[FieldError] | None = Field(
        default=None, description="Every field problem of a 422, each with its location."
    )
    error_count: int | None = Field(
        default=None, description="How many field problems there were (errors may be cut short)."
    )


def title(status: int) -> str:
    return _TITLES.get(status) or http.HTTPStatus(status).phrase


def body(
    status: int,
    detail: str | None = None,
    *,
    code: str | None = None,
    instance: str | None = None,
    errors: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "about:blank", "title": title(status), "status": status}
    if detail:
        out["detail"] = detail
    if instance:
        out["instance"] = instance
    out["code"] = code or _CODES.get(status, "error")
    if errors is not None:
        out["errors"] = errors[:MAX_ERRORS]
        if len(errors) > MAX_ERRORS:
            out["error_count"] = len(errors)
    return out


def problem(
    status: int,
    detail: str | None = None,
    *,
    code: str | None = None,
    instance: str | None = None,
    errors: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    """A problem+json response."""
    content = body(status, detail, code=code, instance=instance, errors=errors)
    return JSONResponse(content, status_code=status, media_type=MEDIA_TYPE, headers=headers)


def problem_bytes(status: int, detail: str) -> bytes:
    """The encoded body, for ASGI middleware that answers before the app runs."""
    return json.dumps(body(status, detail)).encode()


def _detail(exc: DispatchError, status: int) -> str:
    """The error's message; a 503's is fixed (the store's address stays in the log)."""
    if status == 503:
        log.warning("store unavailable: %s", exc)
        return UNAVAILABLE_DETAIL
    return str(exc)


def _field_errors(exc: DispatchError) -> list[dict[str, Any]] | None:
    """Domain errors listing field problems (surge rules) become ``errors[]``.

    Items are ``{"loc": [...], "msg": ...}`` dicts or ``"path: msg"`` strings.
    """
    items = getattr(exc, "errors", None)
    if not isinstance(items, list):
        return None
    out = []
    for item in items:
        loc: list[str | int]
        if isinstance(item, dict):
            loc = [x if isinstance(x, int) else str(x) for x in item.get("loc", ())]
            msg = str(item.get("msg", ""))
        else:
            path, sep, msg = str(item).partition(": ")
            loc = list(path.split(".")) if sep else []
            msg = msg if sep else str(item)
        out.append({"loc": ["body", *loc], "msg": msg, "type": "value_error"})
    return out


def install(app: FastAPI) -> None:
    """Register the handlers and the problem schema in the OpenAPI document."""

    @app.exception_handler(DispatchError)
    async def domain(request: Request, exc: DispatchError) -> JSONResponse:
        for cls, status, code in _DOMAIN:
            if isinstance(exc, cls):
                headers = {"Retry-After": "5"} if status == 503 else None
                return problem(
                    status,
                    _detail(exc, status),
                    code=code,
                    instance=request.url.path,
                    errors=_field_errors(exc),
                    headers=headers,
                )
        log.error("unmapped domain error %s: %s", type(exc).__name__, exc)
        return problem(422, str(exc), code="invalid_input", instance=request.url.path)

    @app.exception_handler(RequestValidationError)
    async def validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {
                "loc": [x if isinstance(x, int) else str(x) for x in e.get("loc", ())],
                "msg": str(e.get("msg", "")),
                "type": str(e.get("type", "")),
            }
            for e in exc.errors()
        ]
        return problem(
            422, "the request has invalid fields", instance=request.url.path, errors=errors
        )

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            headers["Allow"] = ", ".join(_allowed_methods(request))
        return problem(exc.status_code, str(exc.detail), instance=request.url.path, headers=headers)

    @app.exception_handler(Exception)
    async def crash(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s", request.url.path)
        return problem(500, "an unexpected error; it was logged", code="internal")

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            problem_schema = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
            components.update(problem_schema.pop("$defs", {}))
            components["Problem"] = problem_schema
            declare_security(schema, app.routes)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _allowed_methods(request: Request) -> list[str]:
    """Every method some route serves at this path (Starlette names only the first route's)."""
    allowed = []
    for method in ("GET", "POST", "PUT", "PATCH", "DELETE"):
        scope = {**request.scope, "method": method}
        if any(r.matches(scope)[0] == Match.FULL for r in request.app.router.routes):
            allowed.append(method)
    return allowed


_DESCRIPTIONS = {
    400: "The body could not be read (not UTF-8, not parseable)",
    401: "Missing or invalid API key (with a WWW-Authenticate challenge)",
    403: "The key lacks the route's role, or may not act for this worker",
    404: "Unknown community, worker, order or job",
    408: "The request body was not sent in time",
    409: "Illegal state transition, an Idempotency-Key reused with another body, an expired "
    "or used quote, or a retired worker or community (or one that still has open work)",
    410: "The events after this sequence number are past the retention and gone",
    413: "Request body larger than the limit",
    422: "Invalid fields (errors[], the first 50, error_count), or a point outside the community",
    429: "Rate limit, failed-authentication limit or concurrency cap reached (Retry-After)",
    503: "The state store is unavailable",
}


def responses(*codes: int, auth: bool = True) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for a route's error statuses, all problem+json."""
    wanted = {400, 413, 422, 503, *codes}
    if auth:
        wanted |= {401, 403, 429}
    ref = {"schema": {"$ref": "#/components/schemas/Problem"}}
    return {
        c: {"description": _DESCRIPTIONS[c], "content": {MEDIA_TYPE: ref}} for c in sorted(wanted)
    }
