"""The live ops console: its page and assets at ``/ops``, and the snapshot it draws.

The page (``api/ops/console.*``, shipped in the package, no CDN) signs in with
an ops or analyst key kept in the tab's session storage and long-polls
``GET /v1/ops/communities/{id}/snapshot?since=<etag>``: the answer comes as soon
as anything the console shows changed (at once after a change made through
this process, within ``feed_recheck_s`` otherwise, e.g. a position or another
process's write), or when the wait ends. Everything it shows is computed by
``dispatch.ops``; this module only reads, waits and shapes.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import FileResponse, HTMLResponse
from starlette.concurrency import run_in_threadpool

from api.changes import Changes
from api.deps import AnalystOrOps, ChangesDep, EngineDep, SettingsDep
from api.gate import gate_of
from api.problems import responses
from api.schemas import Id
from api.schemas.ops import OpsCommunityOut, OpsSnapshotOut
from api.settings import ApiSettings
from api.strict_query import StrictQueryRoute
from dispatch.engine import Engine
from dispatch.ops import Alert, OpsConsole, OpsView

__all__ = ["ASSETS", "console_of", "router"]

router = APIRouter(route_class=StrictQueryRoute, tags=["ops"])

_HERE = Path(__file__).resolve().parent.parent / "ops"
#: The console's files by the name the page asks for, with their media types.
ASSETS = {
    "console.js": "text/javascript; charset=utf-8",
    "console.css": "text/css; charset=utf-8",
}
#: Shortest time between two looks of one waiting request: every change in this process
#: wakes every waiter, and a busy server changes something many times a second.
MIN_LOOK_S = 0.25
Etag = Annotated[
    str,
    Query(
        max_length=64,
        pattern=r"^[0-9a-f]*$",
        description="The etag of the snapshot you hold: with `wait_s`, wait for another",
    ),
]


def console_of(request: Request, engine: Engine, settings: ApiSettings) -> OpsConsole:
    """The app's ops console (made on first use, for the engine the app runs now)."""
    console: OpsConsole | None = getattr(request.app.state, "ops", None)
    if console is None or console.engine is not engine:
        console = OpsConsole(engine, settings.alerts)
        request.app.state.ops = console
    return console


def _policy(settings: ApiSettings) -> str:
    """The page's Content-Security-Policy: only its own origin, plus the tile host if any."""
    tiles = ""
    if settings.ops_tile_url:
        parts = urlsplit(settings.ops_tile_url.replace("{", "").replace("}", ""))
        tiles = f" {parts.scheme}://{parts.netloc}"
    return (
        "default-src 'self'; script-src 'self'; style-src 'self'; connect-src 'self'; "
        f"img-src 'self' data:{tiles}; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
    )


@router.get("/ops", include_in_schema=False)
async def console_page(settings: SettingsDep) -> HTMLResponse:
    """The console's page (public: it holds no data; the data needs a key)."""
    html = await run_in_threadpool((_HERE / "console.html").read_text, "utf-8")
    return HTMLResponse(
        html,
        headers={
            "Content-Security-Policy": _policy(settings),
            "Cache-Control": "no-cache",
            "Referrer-Policy": "no-referrer",
            "X-Content-Type-Options": "nosniff",
        },
    )


@router.get("/ops/assets/{name}", include_in_schema=False)
async def console_asset(name: str) -> FileResponse:
    """One of the console's own files (a fixed list: no path reaches the disk)."""
    media = ASSETS.get(name)
    if media is None:
        raise HTTPException(404, f"no console asset {name!r}")
    return FileResponse(
        _HERE / name,
        media_type=media,
        headers={"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"},
    )


@router.get("/v1/ops/communities", responses=responses())
async def ops_communities(engine: EngineDep, _: AnalystOrOps) -> list[OpsCommunityOut]:
    """Every community by id and name: what the console offers to watch."""
    listed = await run_in_threadpool(engine.list_communities)
    return [OpsCommunityOut(id=c.id, name=c.name, retired=c.retired_at is not None) for c in listed]


@router.get("/v1/ops/communities/{community_id}/snapshot", responses=responses(404, 429))
async def ops_snapshot(
    community_id: Id,
    request: Request,
    engine: EngineDep,
    changes: ChangesDep,
    settings: SettingsDep,
    who: AnalystOrOps,
    since: Etag = "",
    wait_s: Annotated[
        float,
        Query(
            ge=0,
            le=30,
            allow_inf_nan=False,
            description="With `since`: wait up to this long for a snapshot whose etag differs",
        ),
    ] = 0.0,
    outlines: Annotated[
        bool,
        Query(
            description="false: cells without their outlines (they change only with the "
            "community's version; a 3 km community's answer shrinks to about 40 %)",
        ),
    ] = True,
) -> OpsSnapshotOut:
    """The community as the console draws it: geofence, surge cells, workers, open work,
    routes, KPI tiles and alerts.

    With ``since`` (the etag of the snapshot you hold) and ``wait_s`` the answer
    waits until something changed or the wait ends (then the same etag comes back).
    Waiting takes one of the key's long-poll slots (``DISPATCH_MAX_WAITS_PER_KEY``;
    past them, 429).
    """
    console = console_of(request, engine, settings)

    def look() -> Look:
        view = console.view(community_id)
        return view, console.alerts(view)

    def shape(seen: Look) -> OpsSnapshotOut:
        return OpsSnapshotOut.of(seen[0], seen[1], settings.ops_tile_url, outlines)

    if wait_s <= 0 or not since:
        return await run_in_threadpool(lambda: shape(look()))
    waits = gate_of(request).waits
    with waits.hold(who.key_id) as admitted:
        if not admitted:
            raise HTTPException(
                429,
                f"this key already holds {waits.limit} waiting long polls",
                headers={"Retry-After": "1"},
            )
        return await _wait(look, shape, since, wait_s, request, changes, settings)


Look = tuple[OpsView, tuple[Alert, ...]]


def _content(seen: Look) -> Look:
    """What a look shows, without the time it was taken."""
    view, alerts = seen
    return dataclasses.replace(view, generated_at=0.0), alerts


async def _wait(
    look: Callable[[], Look],
    shape: Callable[[Look], OpsSnapshotOut],
    since: str,
    wait_s: float,
    request: Request,
    changes: Changes,
    settings: ApiSettings,
) -> OpsSnapshotOut:
    """Look again until what is shown differs from ``since``, the wait ends or the client
    leaves. A look that equals the previous one is not shaped again (shaping a large
    community costs several times the look)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + min(wait_s, settings.events_max_wait_s)
    held: Look | None = None
    while True:
        seen = changes.generation
        looked_at = loop.time()
        now = await run_in_threadpool(look)
        left = deadline - loop.time()
        content = _content(now)
        if content != held:
            out = await run_in_threadpool(shape, now)
            if out.etag != since:
                return out
            held = content
        if left <= 0 or await request.is_disconnected():
            # The same etag, taken now (or an answer nobody reads: the client left).
            return await run_in_threadpool(shape, now)
        await changes.wait(seen, min(left, settings.feed_recheck_s))
        rest = looked_at + MIN_LOOK_S - loop.time()
        if rest > 0:  # woken right after a look: let changes gather first
            await asyncio.sleep(min(rest, max(0.0, deadline - loop.time())))
