"""Positions in bulk: a batch endpoint, and a WebSocket per worker that also pushes its route."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from fastapi import APIRouter, HTTPException, WebSocket, WebSocketDisconnect
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from api.auth import check_worker, offered_protocols
from api.deps import CourierApp, ServicesDep
from api.gate import gate_of
from api.hot_route import hot
from api.problems import UNAVAILABLE_DETAIL, problem, responses
from api.schemas import ItemError, LocationBatchIn, LocationBatchOut, LocationIn, StopOut
from api.strict_query import StrictQueryRoute
from dispatch.errors import DispatchError, NotFound, Retired, StoreUnavailable
from dispatch.retire import check_active_worker

router = APIRouter(route_class=StrictQueryRoute, tags=["workers"])
COURIER = frozenset({"courier-app"})
#: The stream's own subprotocol: echoed when offered (browsers need one echoed back).
SUBPROTOCOL = "dispatch.v1"


@router.post("/v1/locations", responses=responses())
@hot
async def post_locations(
    body: LocationBatchIn, svc: ServicesDep, who: CourierApp
) -> LocationBatchOut:
    """Up to 5 000 positions; good items are kept, bad ones reported by index."""
    allowed = [i for i, u in enumerate(body.updates) if who.may_act_for(u.worker_id)]
    denied = [
        ItemError(index=i, worker_id=u.worker_id, detail="this key may not act for the worker")
        for i, u in enumerate(body.updates)
        if not who.may_act_for(u.worker_id)
    ]
    updates = [body.updates[i].update() for i in allowed]
    result = await svc.call(svc.engine.update_locations, updates)
    errors = [
        ItemError(index=allowed[idx], worker_id=wid, detail=msg) for idx, wid, msg in result.errors
    ]
    svc.metrics.observe_locations(result.accepted, len(errors) + len(denied))
    return LocationBatchOut(
        accepted=result.accepted, errors=sorted(errors + denied, key=lambda e: e.index)
    )


async def _deny(
    websocket: WebSocket, status: int, detail: str, headers: Any = None, code: str | None = None
) -> None:
    """Refuse the handshake: an HTTP problem where the server can send one, else close 1008."""
    if "websocket.http.response" in websocket.scope.get("extensions", {}):
        await websocket.send_denial_response(problem(status, detail, headers=headers, code=code))
    else:
        await websocket.close(code=1008, reason=detail[:120])


@router.websocket("/v1/workers/{worker_id}/stream")
async def stream(websocket: WebSocket, worker_id: str) -> None:
    """Location messages in (``{lat, lng, ts?, status?}``), acks and route pushes out.

    Auth by ``Authorization: Bearer``, a ``bearer.<key>`` subprotocol (offered beside
    ``dispatch.v1``, which is echoed) or ``?token=`` (courier-app role). The server
    sends ``{"type": "route", "stops": [...]}`` at once and whenever the route
    changes; each message gets ``{"type": "ack"}`` or ``{"type": "error"}``.
    Messages over the frame limit (64 KiB) close the socket with 1009; a key past
    its cap of open streams is refused with 429 (or closed with 1013).
    """
    app = websocket.app
    try:
        gate = gate_of(websocket)
        principal = await gate.admit(websocket, COURIER, query_token=True)
        check_worker(principal, worker_id)
        engine = app.state.engine
        check_active_worker(await run_in_threadpool(engine.stored_worker, worker_id))
    except HTTPException as exc:
        await _deny(websocket, exc.status_code, str(exc.detail), exc.headers)
        return
    except NotFound as exc:
        await _deny(websocket, 404, str(exc))
        return
    except Retired as exc:
        await _deny(websocket, 409, str(exc), code="retired")
        return
    except StoreUnavailable:
        await _deny(websocket, 503, UNAVAILABLE_DETAIL)
        return
    with gate.streams.hold(principal.key_id) as admitted:
        offered = offered_protocols(websocket)
        subprotocol = SUBPROTOCOL if SUBPROTOCOL in offered else None
        if not admitted:
            detail = "too many open streams for this key"
            if "websocket.http.response" in websocket.scope.get("extensions", {}):
                await _deny(websocket, 429, detail, {"Retry-After": "5"})
            else:
                await websocket.accept(subprotocol)
                await websocket.close(code=1013, reason=detail)
            return
        await websocket.accept(subprotocol)
        await _Session(websocket, worker_id).run()


class _Session:
    """One accepted stream: a receiving loop and a route pusher sharing one send lock."""

    def __init__(self, websocket: WebSocket, worker_id: str) -> None:
        state = websocket.app.state
        self.ws = websocket
        self.worker_id = worker_id
        self.engine = state.engine
        self.metrics = state.metrics
        self.changes = state.route_changes  # only what can change a route wakes us
        self.limit: int = state.settings.ws_max_frame_bytes
        self.recheck_s: float = state.settings.feed_recheck_s
        self.lock = asyncio.Lock()

    async def send(self, payload: dict[str, Any]) -> None:
        async with self.lock:
            await self.ws.send_json(payload)

    async def close(self, code: int, reason: str) -> None:
        async with self.lock:
            await self.ws.close(code=code, reason=reason)

    async def run(self) -> None:
        tasks = [asyncio.create_task(self.push_routes()), asyncio.create_task(self.receive())]
        done, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in pending:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, WebSocketDisconnect):
                await task
        for task in done:
            exc = task.exception()
            if exc is not None and not isinstance(exc, WebSocketDisconnect):
                with contextlib.suppress(Exception):
                    await self.close(1011, "internal error")
                raise exc

    async def push_routes(self) -> None:
        last: list[dict[str, Any]] | None = None
        while True:
            seen = self.changes.generation
            stops = await run_in_threadpool(self.engine.route, self.worker_id)
            payload = [StopOut.of(s).model_dump(mode="json") for s in stops]
            if payload != last:
                last = payload
                await self.send({"type": "route", "worker_id": self.worker_id, "stops": payload})
            await self.changes.wait(seen, self.recheck_s)

    async def receive(self) -> None:
        while True:
            message = await self.ws.receive()
            if message["type"] == "websocket.disconnect":
                return
            text = message.get("text")
            data: str | bytes = text if text is not None else message.get("bytes") or b""
            size = len(data.encode()) if isinstance(data, str) else len(data)
            if size > self.limit:
                await self.close(1009, "message too big")
                return
            await self.handle(data)

    async def handle(self, data: str | bytes) -> None:
        try:
            loc = LocationIn.model_validate_json(data)
            await run_in_threadpool(self.engine.update_location, loc.update(self.worker_id))
        except ValidationError as exc:
            self.metrics.observe_locations(0, 1)
            errors = exc.errors(include_url=False, include_input=False, include_context=False)
            await self.send({"type": "error", "detail": "invalid message", "errors": errors})
            return
        except DispatchError as exc:
            self.metrics.observe_locations(0, 1)
            detail = UNAVAILABLE_DETAIL if isinstance(exc, StoreUnavailable) else str(exc)[:500]
            await self.send({"type": "error", "detail": detail})
            return
        self.metrics.observe_locations(1, 0)
        await self.send({"type": "ack"})
