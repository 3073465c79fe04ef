"""Quotes: price, surge multiplier and ETA for an order now, with the reasons."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import OrderService, ServicesDep
from api.problems import responses
from api.schemas import OrderIn, QuoteOut

router = APIRouter(tags=["orders"])


@router.post("/v1/quotes", responses=responses(404))
async def post_quote(body: OrderIn, svc: ServicesDep, _: OrderService) -> QuoteOut:
    """Price and ETA of an order placed now; nothing is stored (404: unknown community)."""
    quote = await svc.call(svc.engine.quote, body.request())
    svc.metrics.observe_price(body.community_id, quote.multiplier)
    return QuoteOut.of(quote)
