"""Webhooks: register receivers, read and page them, test, follow and redeliver deliveries.

Sending is never done here: tests and redeliveries are queued for the dispatcher
that runs beside the tick workers.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request, Response, status

from api.deps import EngineCalls, OrderServiceOrOps
from api.problems import responses
from api.schemas import Id
from api.schemas.webhooks import (
    DeliveryOut,
    DeliveryPage,
    RecoverIn,
    RecoverOut,
    WebhookCreatedOut,
    WebhookIn,
    WebhookOut,
    WebhookPage,
    WebhookPatchIn,
)
from api.strict_query import StrictQueryRoute
from api.webhooks_runtime import webhooks_of
from dispatch.store.memory import MemoryStore
from dispatch.webhooks import DeliveryState, Webhooks

router = APIRouter(route_class=StrictQueryRoute, prefix="/v1/webhooks", tags=["webhooks"])

MAX_LIMIT = 500
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Page size.")]
Cursor = Annotated[
    str | None,
    Query(
        min_length=1,
        max_length=128,
        pattern=r"^[A-Za-z0-9_.:-]+$",
        description="The next_cursor of the previous page.",
    ),
]


class WebhookCalls:
    """The webhook service and the right way to call it (inline in memory, else threads)."""

    def __init__(self, webhooks: Webhooks) -> None:
        self.webhooks = webhooks
        self.call = EngineCalls(isinstance(webhooks.feed, MemoryStore))


async def get_webhooks(request: Request) -> WebhookCalls:
    return WebhookCalls(webhooks_of(request.app))


WebhooksDep = Annotated[WebhookCalls, Depends(get_webhooks)]


@router.post("", status_code=status.HTTP_201_CREATED, responses=responses(409))
async def register_webhook(
    body: WebhookIn, wh: WebhooksDep, _: OrderServiceOrOps
) -> WebhookCreatedOut:
    """Register a receiver. The answer holds its signing ``secret``: shown this once.

    It receives the events added to the feed from now on that match ``event_types``
    (exact types or groups such as ``order.*``) and ``community_ids`` (empty: all).
    """
    svc = wh.webhooks
    endpoint = await wh.call(
        svc.register, body.url, body.event_types, body.community_ids, body.description
    )
    return WebhookCreatedOut.of(endpoint)


@router.get("", responses=responses())
async def list_webhooks(
    wh: WebhooksDep, _: OrderServiceOrOps, limit: Limit = 100, cursor: Cursor = None
) -> WebhookPage:
    """Registered receivers by id (secrets are never shown again)."""
    items, nxt = await wh.call(wh.webhooks.page, limit, cursor)
    return WebhookPage(items=[WebhookOut.of(e) for e in items], next_cursor=nxt)


@router.get("/{webhook_id}", responses=responses(404))
async def get_webhook(webhook_id: Id, wh: WebhooksDep, _: OrderServiceOrOps) -> WebhookOut:
    """One receiver, with whether it is disabled and why."""
    return WebhookOut.of(await wh.call(wh.webhooks.get, webhook_id))


@router.patch("/{webhook_id}", responses=responses(404))
async def update_webhook(
    webhook_id: Id, body: WebhookPatchIn, wh: WebhooksDep, _: OrderServiceOrOps
) -> WebhookOut:
    """Change the URL, filters or description (fields left out are kept). Pending
    deliveries go to the new URL; new filters apply to events from now on."""
    endpoint = await wh.call(
        lambda: wh.webhooks.update(
            webhook_id,
            url=body.url,
            event_types=body.event_types,
            community_ids=body.community_ids,
            description=body.description,
        )
    )
    return WebhookOut.of(endpoint)


@router.post("/{webhook_id}/rotate-secret", responses=responses(404))
async def rotate_secret(webhook_id: Id, wh: WebhooksDep, _: OrderServiceOrOps) -> WebhookCreatedOut:
    """A new signing secret, shown this once. For 24 h every delivery carries two
    signatures (new and previous secret), so receivers switch without losing one."""
    return WebhookCreatedOut.of(await wh.call(wh.webhooks.rotate_secret, webhook_id))


@router.delete("/{webhook_id}", status_code=status.HTTP_204_NO_CONTENT, responses=responses(404))
async def delete_webhook(webhook_id: Id, wh: WebhooksDep, _: OrderServiceOrOps) -> Response:
    """Remove a receiver and every delivery it had (pending ones are not sent)."""
    await wh.call(wh.webhooks.delete, webhook_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/{webhook_id}/enable", responses=responses(404))
async def enable_webhook(webhook_id: Id, wh: WebhooksDep, _: OrderServiceOrOps) -> WebhookOut:
    """Re-enable a receiver disabled after failing past the retry schedule."""
    return WebhookOut.of(await wh.call(wh.webhooks.enable, webhook_id))


@router.post(
    "/{webhook_id}/test", status_code=status.HTTP_202_ACCEPTED, responses=responses(404, 409)
)
async def test_webhook(webhook_id: Id, wh: WebhooksDep, _: OrderServiceOrOps) -> DeliveryOut:
    """Queue a signed ``webhook.test`` delivery; follow it in the deliveries."""
    return DeliveryOut.of(await wh.call(wh.webhooks.send_test, webhook_id))


@router.get("/{webhook_id}/deliveries", responses=responses(404))
async def list_deliveries(
    webhook_id: Id,
    wh: WebhooksDep,
    _: OrderServiceOrOps,
    limit: Limit = 100,
    cursor: Cursor = None,
    state: Annotated[
        Literal["pending", "succeeded", "failed", "skipped"] | None,
        Query(description="Only deliveries in this state."),
    ] = None,
) -> DeliveryPage:
    """Deliveries newest first, each with its attempts (kept 7 days after they end)."""
    wanted = None if state is None else DeliveryState(state)
    items, nxt = await wh.call(wh.webhooks.deliveries, webhook_id, limit, cursor, wanted)
    return DeliveryPage(items=[DeliveryOut.of(d) for d in items], next_cursor=nxt)


@router.post(
    "/{webhook_id}/recover", status_code=status.HTTP_202_ACCEPTED, responses=responses(404, 409)
)
async def recover(
    webhook_id: Id, body: RecoverIn, wh: WebhooksDep, _: OrderServiceOrOps
) -> RecoverOut:
    """Send again every given-up delivery created since ``since``, oldest first (after
    an outage: enable, then recover); 409 while the receiver is disabled."""
    again = await wh.call(wh.webhooks.recover, webhook_id, body.since.timestamp())
    return RecoverOut(requeued=len(again))


@router.get("/{webhook_id}/deliveries/{delivery_id}", responses=responses(404))
async def get_delivery(
    webhook_id: Id, delivery_id: Id, wh: WebhooksDep, _: OrderServiceOrOps
) -> DeliveryOut:
    """One delivery with its attempts."""
    return DeliveryOut.of(await wh.call(wh.webhooks.delivery, webhook_id, delivery_id))


@router.post(
    "/{webhook_id}/deliveries/{delivery_id}/redeliver",
    status_code=status.HTTP_202_ACCEPTED,
    responses=responses(404, 409),
)
async def redeliver(
    webhook_id: Id, delivery_id: Id, wh: WebhooksDep, _: OrderServiceOrOps
) -> DeliveryOut:
    """Send a finished delivery again (same id and body, a fresh retry schedule), after
    any pending delivery of the same entity; 409 while it is pending."""
    return DeliveryOut.of(await wh.call(wh.webhooks.redeliver, webhook_id, delivery_id))
