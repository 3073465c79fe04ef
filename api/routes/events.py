"""The event feed: every state change with a sequence number, paged or long-polled."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Query
from starlette.concurrency import run_in_threadpool

from api.deps import ChangesDep, EngineDep, OrderServiceOrOps, SettingsDep
from api.problems import responses
from api.schemas import EventOut, EventsOut, Id

router = APIRouter(tags=["events"])

MAX_SEQ = 2**53


@router.get("/v1/events", responses=responses(404))
async def get_events(
    engine: EngineDep,
    changes: ChangesDep,
    settings: SettingsDep,
    _: OrderServiceOrOps,
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
    """
    if community_id is not None:
        await run_in_threadpool(engine.get_community, community_id)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + min(wait_s, settings.events_max_wait_s)
    while True:
        seen = changes.generation
        events = await run_in_threadpool(engine.events, after, limit, community_id)
        left = deadline - loop.time()
        if events or left <= 0:
            break
        await changes.wait(seen, min(left, settings.feed_recheck_s))
    last = events[-1].seq if events else after
    return EventsOut(events=[EventOut.of(e) for e in events], last_seq=last)
