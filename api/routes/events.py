"""The event feed: every state change with a sequence number, paged or long-polled."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request
from starlette.concurrency import run_in_threadpool

from api.changes import Changes
from api.deps import ChangesDep, EngineDep, OrderServiceOrOps, SettingsDep
from api.gate import gate_of
from api.problems import responses
from api.schemas import EventOut, EventsOut, Id
from api.settings import ApiSettings
from api.strict_query import StrictQueryRoute
from dispatch.engine import Engine

router = APIRouter(route_class=StrictQueryRoute, tags=["events"])

MAX_SEQ = 2**53


@router.get("/v1/events", responses=responses(404, 410))
async def get_events(
    engine: EngineDep,
    changes: ChangesDep,
    settings: SettingsDep,
    who: OrderServiceOrOps,
    request: Request,
    after: Annotated[int, Query(ge=0, le=MAX_SEQ, description="Last seq already seen")] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    wait_s: Annotated[
        float,
        Query(
            ge=0,
            le=30,
            allow_inf_nan=False,
            description="Wait up to this long for a new event (the server may cap it)",
        ),
    ] = 0.0,
    community_id: Annotated[Id | None, Query()] = None,
) -> EventsOut:
    """Events after ``after`` in order; with ``wait_s`` an empty answer waits for the next one.

    Page with ``after=<last_seq>``. Waiting wakes as soon as this process changes
    something, and re-reads the store at least every second for other processes.
    Events are kept under the retention (README: Event retention): ``after=0``
    starts at the oldest event kept; a later ``after`` whose next events were
    trimmed is 410 (the detail names the seq to resume after, the events between
    being lost). A key may hold a few long polls at once
    (``DISPATCH_MAX_WAITS_PER_KEY``); past that, 429.
    """
    if community_id is not None:
        await run_in_threadpool(engine.get_community, community_id)
    if wait_s <= 0:
        return await _read(engine, changes, settings, after, limit, 0.0, community_id)
    waits = gate_of(request).waits
    with waits.hold(who.key_id) as admitted:
        if not admitted:
            raise HTTPException(
                429,
                f"this key already holds {waits.limit} waiting long polls",
                headers={"Retry-After": "1"},
            )
        return await _read(engine, changes, settings, after, limit, wait_s, community_id)


async def _read(
    engine: Engine,
    changes: Changes,
    settings: ApiSettings,
    after: int,
    limit: int,
    wait_s: float,
    community_id: str | None,
) -> EventsOut:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + min(wait_s, settings.events_max_wait_s)
    while True:
        seen = changes.generation
        events = await run_in_threadpool(engine.events, after, limit, community_id)
        left = deadline - loop.time()
        if events or left <= 0:
            break
        await changes.wait(seen, min(left, settings.feed_recheck_s))
    # Read after the events: a trim between the two is seen, never a silent gap. The
    # whole feed continuing right after ``after`` proves nothing was lost (no read).
    contiguous = community_id is None and events and events[0].seq == after + 1
    if after > 0 and not contiguous:
        trimmed = await run_in_threadpool(engine.store.trimmed_seq)
        if after < trimmed:
            raise Gone(trimmed)
    last = events[-1].seq if events else after
    return EventsOut(events=[EventOut.of(e) for e in events], last_seq=last)


class Gone(HTTPException):
    """410: the events right after the cursor were trimmed away by the retention."""

    def __init__(self, trimmed: int) -> None:
        super().__init__(
            410,
            f"events up to seq {trimmed} are past the retention; resume with "
            f"after={trimmed} (the events between are lost)",
        )
