"""The HTTP API and the `dispatch` command line (thin: all behaviour lives in dispatch/).

``create_app(settings, *, engine=None, clock=None)`` builds the ASGI app;
``ApiSettings`` reads ``DISPATCH_*`` variables. Both are imported lazily so the
command line starts without loading the web stack.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from api.app import create_app
    from api.settings import ApiSettings

__all__ = ["ApiSettings", "create_app"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from api.app import create_app

        return create_app
    if name == "ApiSettings":
        from api.settings import ApiSettings

        return ApiSettings
    raise AttributeError(f"module 'api' has no attribute {name!r}")
