"""Closing the API documents and ``/metrics`` to everyone but ops keys.

With ``DISPATCH_PROTECT_OPS_ENDPOINTS=true`` the OpenAPI document, the docs
pages (and anything under them) and the Prometheus metrics (which name
communities and show live surge) need a key with the ``ops`` role, through the
same gate as every route (401, 403, 429). A middleware, so it holds however the
docs are served.
"""

from __future__ import annotations

from fastapi import HTTPException
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Receive, Scope, Send

from api.gate import gate_of
from api.problems import problem

__all__ = ["OPS_PATHS", "OpsOnly"]

OPS_PATHS = ("/docs", "/redoc", "/openapi.json", "/metrics")
_OPS = frozenset({"ops"})


def guarded(path: str) -> bool:
    return any(path == p or path.startswith(p + "/") for p in OPS_PATHS)


class OpsOnly:
    """Admit requests to ``OPS_PATHS`` only with an ops key."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and guarded(scope.get("path", "")):
            conn = HTTPConnection(scope)
            try:
                await gate_of(conn).admit(conn, _OPS)
            except HTTPException as exc:
                headers = dict(exc.headers or {})
                response = problem(exc.status_code, str(exc.detail), headers=headers)
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)
