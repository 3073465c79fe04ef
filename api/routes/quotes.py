"""Quotes: price, surge multiplier and ETA of an order or a job now, with the reasons,
held for the order or job that names the quote's id (``dispatch.quotes``)."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import OrderService, Services, ServicesDep
from api.hot_route import hot
from api.problems import responses
from api.schemas import JobIn, OrderIn, QuoteOut
from api.strict_query import StrictQueryRoute
from dispatch.requests import JobRequest, OrderRequest

router = APIRouter(route_class=StrictQueryRoute, tags=["orders"])


async def _quote(svc: Services, request: OrderRequest | JobRequest) -> QuoteOut:
    engine = svc.engine
    quote = await svc.call.awaiting_first(engine.quote_async, engine.quote, request)
    svc.metrics.observe_price(request.community_id, quote.multiplier)
    return QuoteOut.of(quote)


@router.post("/v1/quotes", responses=responses(404, 409))
@hot
async def post_quote(body: OrderIn, svc: ServicesDep, _: OrderService) -> QuoteOut:
    """Price and ETA of an order placed now, held until ``expires_at`` for
    ``POST /v1/orders`` with ``quote_id`` (404: unknown community; 409: retired)."""
    return await _quote(svc, body.request())


@router.post("/v1/quotes/jobs", responses=responses(404, 409))
async def post_job_quote(body: JobIn, svc: ServicesDep, _: OrderService) -> QuoteOut:
    """Price and ETA of a technician job booked now (service type, emergency), held
    until ``expires_at`` for ``POST /v1/jobs`` with ``quote_id``."""
    return await _quote(svc, body.request())
