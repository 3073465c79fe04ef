"""``/docs`` that works offline: Swagger UI's files served from the installed package.

FastAPI's default page loads Swagger UI from a CDN, so it is blank without
internet access. The files come from the ``swagger-ui-bundle-v2`` package on
PyPI (a dependency), served from a fixed list under ``/docs/assets/``.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, HTTPException, Request
from fastapi.openapi.docs import get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import FileResponse, HTMLResponse
from swagger_ui_bundle import swagger_ui_path

from api.strict_query import StrictQueryRoute

__all__ = ["SWAGGER_ASSETS", "router"]

router = APIRouter(route_class=StrictQueryRoute, include_in_schema=False)

_DIST = Path(swagger_ui_path)
#: Swagger UI's files the page loads, with their media types.
SWAGGER_ASSETS = {
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "swagger-ui.css": "text/css; charset=utf-8",
    "favicon-32x32.png": "image/png",
}
_PREFIX = "/docs/assets/"


@router.get("/docs")
async def swagger_ui(request: Request) -> HTMLResponse:
    """Swagger UI over this app's OpenAPI document, every file from this server."""
    app = request.app
    return get_swagger_ui_html(
        openapi_url=app.openapi_url or "/openapi.json",
        title=f"{app.title} - docs",
        oauth2_redirect_url="/docs/oauth2-redirect",
        swagger_js_url=_PREFIX + "swagger-ui-bundle.js",
        swagger_css_url=_PREFIX + "swagger-ui.css",
        swagger_favicon_url=_PREFIX + "favicon-32x32.png",
    )


@router.get("/docs/oauth2-redirect")
async def swagger_ui_redirect() -> HTMLResponse:
    return get_swagger_ui_oauth2_redirect_html()


@router.get(_PREFIX + "{name}")
async def swagger_asset(name: str) -> FileResponse:
    """One of Swagger UI's files (a fixed list: no path reaches the disk)."""
    media = SWAGGER_ASSETS.get(name)
    if media is None:
        raise HTTPException(404, f"no docs asset {name!r}")
    return FileResponse(
        _DIST / name, media_type=media, headers={"Cache-Control": "public, max-age=86400"}
    )
