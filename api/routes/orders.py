"""Orders: create (idempotent), read, cancel (idempotent), kitchen reports, courier events."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, status

from api.auth import check_worker
from api.deps import (
    CourierApp,
    OrderService,
    OrderServiceOrOps,
    ServicesDep,
)
from api.hot_route import hot
from api.problems import responses
from api.schemas import Id, OrderEventIn, OrderIn, OrderOut, ReadyIn
from api.strict_query import StrictQueryRoute

router = APIRouter(route_class=StrictQueryRoute, prefix="/v1/orders", tags=["orders"])

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=255,
        pattern=r"^[\x21-\x7e]+$",
        description="Retries with the same key and body return the first result (24 h).",
    ),
]


@router.post("", status_code=status.HTTP_201_CREATED, responses=responses(404, 409))
@hot
async def post_order(
    body: OrderIn,
    svc: ServicesDep,
    _: OrderService,
    idempotency_key: IdempotencyKey = None,
) -> OrderOut:
    """Accept an order at the quoted price, promised within the community's SLA.

    A retry with the same ``Idempotency-Key`` and body returns the same order, also
    when the retries arrive concurrently; the same key with another body is 409.
    """
    engine = svc.engine
    order = await svc.call.awaiting_first(
        engine.create_order_async, engine.create_order, body.request(), idempotency_key
    )
    svc.metrics.observe_price(order.community_id, order.price.multiplier)
    return OrderOut.of(order)


@router.get("/{order_id}", responses=responses(404))
async def get_order(order_id: Id, svc: ServicesDep, _: OrderServiceOrOps) -> OrderOut:
    """State, courier, ETA, promise and price of an order."""
    return OrderOut.of(await svc.call(svc.engine.get_order, order_id))


@router.post("/{order_id}/cancel", responses=responses(404, 409))
async def cancel_order(order_id: Id, svc: ServicesDep, _: OrderServiceOrOps) -> OrderOut:
    """Cancel before pickup (409 after); cancelling again returns the cancelled order."""
    return OrderOut.of(await svc.call(svc.engine.cancel_order, order_id))


@router.post("/{order_id}/ready", responses=responses(404, 409))
async def order_ready(
    order_id: Id, body: ReadyIn, svc: ServicesDep, _: OrderServiceOrOps
) -> OrderOut:
    """The merchant's kitchen reports when the food will be ready (no ``ready_at``: it is
    out now); dispatch plans with it from the next tick. 409 once picked up or closed."""
    return OrderOut.of(await svc.call(svc.engine.kitchen_report, order_id, body.ready_epoch()))


@router.post("/{order_id}/events", responses=responses(404, 409))
async def order_event(
    order_id: Id,
    body: OrderEventIn,
    svc: ServicesDep,
    who: CourierApp,
) -> OrderOut:
    """The courier reports arrived_at_pickup, picked_up, arrived_at_dropoff, delivered (with
    an optional ``proof_ref``) or failed (409: illegal transition; arrivals change no state)."""
    check_worker(who, body.worker_id)
    order = await svc.call(
        svc.engine.order_event, order_id, body.type, body.worker_id, body.proof_ref
    )
    if body.type == "delivered":
        svc.metrics.observe_delivery(order)
    return OrderOut.of(order)
