"""ASGI middleware: a body-size limit (413) and timeout (408), and per-request context.

``BodyLimit`` counts bytes as they arrive (a ``Content-Length`` over the limit is
refused at once; chunked bodies are counted chunk by chunk) and answers a
problem+json 413 instead of dropping the connection. ``RequestContext`` gives
each request an id (``X-Request-ID`` in and out), writes one JSON access log
line, samples latency by route template, and wakes feed waiters after changes.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import re
import time
import uuid
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.changes import Changes
from api.logging import request_id
from api.metrics import Metrics
from api.problems import MEDIA_TYPE, problem_bytes

access = logging.getLogger("api.access")
_MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
#: POSTs that change nothing a feed or a route shows: waking every waiter would be waste.
_NO_EVENTS = frozenset(
    {"/v1/quotes", "/v1/surge/rules/preview", "/v1/locations", "/v1/workers/{worker_id}/location"}
)
#: Requests that can change a worker's route (route streams re-read it after them).
_ROUTE_CHANGING = frozenset(
    {
        "/v1/orders/{order_id}/cancel",
        "/v1/orders/{order_id}/events",
        "/v1/jobs/{job_id}/cancel",
        "/v1/jobs/{job_id}/events",
        "/v1/communities/{community_id}/dispatch",
        "/v1/workers/{worker_id}",
    }
)
MAX_TARGET_BYTES = 8192  # path and query string
_GOOD_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
#: Request ids made here: this process's random prefix and a counter (unique without
#: a uuid per request; they correlate log lines, they are no secret).
_ID_PREFIX = uuid.uuid4().hex[:16]
_ID_COUNTER = itertools.count(1)


async def _send_413(send: Send, limit: int) -> None:
    await _send_problem(send, 413, f"the request body exceeds {limit} bytes")


async def _send_problem(send: Send, status: int, detail: str) -> None:
    payload = problem_bytes(status, detail)
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", MEDIA_TYPE.encode()),
                (b"content-length", str(len(payload)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})


class BodyLimit:
    """Refuse bodies over ``limit`` bytes, by header or while streaming (chunked too),
    and bodies not complete within ``timeout_s`` (408: uvicorn has no body timeout,
    and a client trickling a body would hold a connection and a task forever)."""

    def __init__(
        self,
        app: ASGIApp,
        limit: int,
        timeout_s: float | None = None,
        max_head_bytes: int | None = None,
        path_limits: dict[str, int] | None = None,
    ) -> None:
        self.app = app
        self.limit = limit
        self.path_limits = path_limits or {}  # smaller limits of some paths (surge rules)
        self.timeout_s = timeout_s
        self.max_head_bytes = max_head_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self.max_head_bytes is not None and await self._head_too_large(scope, send):
            return
        limit = min(self.limit, self.path_limits.get(scope.get("path", ""), self.limit))
        for name, value in scope.get("headers", []):
            if name == b"content-length" and value.isdigit() and int(value) > limit:
                await _send_413(send, limit)
                return
        # Read the body first (at most limit + one chunk), then replay it to the app:
        # the 413 goes out before the app sees a byte, and nothing half-read is acted on.
        chunks: list[Message] = []
        seen = 0
        try:
            async with asyncio.timeout(self.timeout_s):  # one timer per request, not per chunk
                while True:
                    message = await receive()
                    chunks.append(message)
                    if message["type"] != "http.request":
                        break
                    seen += len(message.get("body", b""))
                    if seen > limit:
                        await _send_413(send, limit)
                        return
                    if not message.get("more_body", False):
                        break
        except TimeoutError:
            await _send_problem(send, 408, f"the body was not sent within {self.timeout_s:g} s")
            return
        pending = iter(chunks)

        async def replay() -> Message:
            for message in pending:
                return message
            return await receive()

        await self.app(scope, replay, send)

    async def _head_too_large(self, scope: Scope, send: Send) -> bool:
        """414 for a target over ``MAX_TARGET_BYTES``, 431 for headers over the limit
        (h11 bounds only a head still arriving; one that came whole is checked here)."""
        target = len(scope.get("raw_path") or b"") + len(scope.get("query_string") or b"")
        if target > MAX_TARGET_BYTES:
            await _send_problem(send, 414, f"the request target exceeds {MAX_TARGET_BYTES} bytes")
            return True
        size = sum(len(k) + len(v) + 4 for k, v in scope.get("headers", []))
        if self.max_head_bytes is not None and size > self.max_head_bytes:
            await _send_problem(send, 431, f"the headers exceed {self.max_head_bytes} bytes")
            return True
        return False


class RequestContext:
    """Request id, access log, latency histogram, and wake-ups after changes."""

    def __init__(
        self, app: ASGIApp, metrics: Metrics, changes: Changes, routes: Changes | None = None
    ) -> None:
        self.app = app
        self.metrics = metrics
        self.changes = changes
        self.routes = routes
        self._series: dict[tuple[str, str, int], Any] = {}  # labelled histograms, looked up once

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = next((v for k, v in scope.get("headers", ()) if k == b"x-request-id"), b"")
        rid = given.decode("latin-1") if given else ""
        if not _GOOD_ID.match(rid):
            rid = f"{_ID_PREFIX}{next(_ID_COUNTER):016x}"
        token = request_id.set(rid)
        status = 500
        start = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                message = {
                    **message,
                    "headers": [*message.get("headers", []), (b"x-request-id", rid.encode())],
                }
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - start
            route: Any = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            method = scope.get("method", "")
            labels = (method, template, status // 100)
            series = self._series.get(labels)
            if series is None:
                series = self.metrics.request_seconds.labels(method, template, f"{labels[2]}xx")
                self._series[labels] = series
            series.observe(elapsed)
            access.info(
                "%s %s %s",
                method,
                scope.get("path"),
                status,
                extra={"route": template, "status": status, "ms": round(elapsed * 1000, 2)},
            )
            request_id.reset(token)
        if method in _MUTATING and status < 400 and template not in _NO_EVENTS:
            await self.changes.notify()
            if self.routes is not None and template in _ROUTE_CHANGING:
                await self.routes.notify()
