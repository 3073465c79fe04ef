"""Listing and tracking: pages of orders and jobs, an order's or job's history, tracking."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query

from api.deps import OrderServiceOrOps, ServicesDep
from api.problems import responses
from api.schemas import Id, Time, to_epoch
from api.schemas.listing import HistoryOut, JobPage, OrderPage, TrackingOut
from api.schemas.outputs import EventOut, JobOut, OrderOut
from api.strict_query import StrictQueryRoute
from dispatch.listing import MAX_LIMIT, ListQuery

router = APIRouter(route_class=StrictQueryRoute, tags=["listing"])

OrderStates = Literal["pending", "assigned", "picked_up", "delivered", "cancelled", "failed"]
JobStates = Literal[
    "pending", "assigned", "en_route", "in_service", "completed", "cancelled", "failed"
]
Cursor = Annotated[
    str | None,
    Query(
        min_length=1,
        max_length=512,
        pattern=r"^[A-Za-z0-9_-]+$",
        description="The next_cursor of the previous page.",
    ),
]


class _Filters:
    """The filters both listings share."""

    def __init__(
        self,
        community_id: Annotated[Id | None, Query(description="Only this community.")] = None,
        worker_id: Annotated[Id | None, Query(description="Only work of this worker.")] = None,
        created_after: Annotated[
            Time | None, Query(description="Created at or after this time.")
        ] = None,
        created_before: Annotated[
            Time | None, Query(description="Created before this time.")
        ] = None,
        external_ref: Annotated[
            str | None,
            Query(min_length=1, max_length=128, description="The order service's reference."),
        ] = None,
        limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Page size.")] = 100,
        cursor: Cursor = None,
    ) -> None:
        self.community_id = community_id
        self.worker_id = worker_id
        self.created_after = to_epoch(created_after)
        self.created_before = to_epoch(created_before)
        self.external_ref = external_ref
        self.limit = limit
        self.cursor = cursor

    def query(self, kind: Literal["order", "job"], states: list[str] | None) -> ListQuery:
        return ListQuery(
            kind=kind,
            community_id=self.community_id,
            states=frozenset(states or ()),
            worker_id=self.worker_id,
            created_after=self.created_after,
            created_before=self.created_before,
            external_ref=self.external_ref,
            limit=self.limit,
            cursor=self.cursor,
        )


Filters = Annotated[_Filters, Depends()]


@router.get("/v1/orders", responses=responses(404, 422))
async def list_orders(
    svc: ServicesDep,
    _: OrderServiceOrOps,
    filters: Filters,
    state: Annotated[
        list[OrderStates] | None, Query(max_length=6, description="Any of these states.")
    ] = None,
) -> OrderPage:
    """Orders in creation order, filtered; page on with ``cursor`` (stable under inserts)."""
    page = await svc.call(svc.engine.list_work, filters.query("order", list(state or ())))
    return OrderPage(
        items=[OrderOut.of(o) for o in page.items],  # type: ignore[arg-type]
        next_cursor=page.next_cursor,
    )


@router.get("/v1/jobs", responses=responses(404, 422))
async def list_jobs(
    svc: ServicesDep,
    _: OrderServiceOrOps,
    filters: Filters,
    state: Annotated[
        list[JobStates] | None, Query(max_length=7, description="Any of these states.")
    ] = None,
) -> JobPage:
    """Jobs in creation order, filtered; page on with ``cursor`` (stable under inserts)."""
    page = await svc.call(svc.engine.list_work, filters.query("job", list(state or ())))
    return JobPage(
        items=[JobOut.of(j) for j in page.items],  # type: ignore[arg-type]
        next_cursor=page.next_cursor,
    )


@router.get("/v1/orders/{order_id}/events", responses=responses(404))
async def order_history(order_id: Id, svc: ServicesDep, _: OrderServiceOrOps) -> HistoryOut:
    """The order's own events, oldest first (created, assigned, picked up, ...)."""
    events = await svc.call(svc.engine.history, order_id, "order")
    return HistoryOut(events=[EventOut.of(e) for e in events])


@router.get("/v1/jobs/{job_id}/events", responses=responses(404))
async def job_history(job_id: Id, svc: ServicesDep, _: OrderServiceOrOps) -> HistoryOut:
    """The job's own events, oldest first."""
    events = await svc.call(svc.engine.history, job_id, "job")
    return HistoryOut(events=[EventOut.of(e) for e in events])


@router.get("/v1/orders/{order_id}/tracking", responses=responses(404))
async def order_tracking(order_id: Id, svc: ServicesDep, _: OrderServiceOrOps) -> TrackingOut:
    """State, ETA and, while on its way, the courier's position: for the resident."""
    return TrackingOut.of(await svc.call(svc.engine.track_order, order_id))
