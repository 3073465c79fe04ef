"""Listing and tracking bodies: pages of orders and jobs, an order's history, its tracking."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from api.schemas._common import Out, PointOut, to_time, utc
from api.schemas.outputs import EventOut, JobOut, OrderOut
from dispatch.tracking import Tracking

__all__ = ["HistoryOut", "JobPage", "OrderPage", "TrackingOut"]


class OrderPage(Out):
    """One page of orders, oldest first."""

    items: list[OrderOut] = Field(description="Orders in creation order.")
    next_cursor: str | None = Field(
        description="Pass as ``cursor`` for the next page; null when the listing is done."
    )


class JobPage(Out):
    """One page of jobs, oldest first."""

    items: list[JobOut] = Field(description="Jobs in creation order.")
    next_cursor: str | None = Field(
        description="Pass as ``cursor`` for the next page; null when the listing is done."
    )


class HistoryOut(Out):
    """An order's or job's own events, oldest first (as the event feed shows them)."""

    events: list[EventOut] = Field(description="The entity's events in order.")


class CourierOut(Out):
    """The courier on its way, as a resident may see it."""

    position: PointOut | None = Field(description="Last reported position.")
    position_ts: datetime | None = Field(description="When that position was reported.")
    vehicle: str | None = Field(description="How the courier travels.")
    stops_before: int | None = Field(
        description="Stops the courier makes before this order's next stop."
    )


class TrackingOut(Out):
    """What an order service may pass on to the resident."""

    order_id: str = Field(description="The order.")
    state: str = Field(description="pending, assigned, picked_up, delivered, cancelled, failed.")
    eta: datetime | None = Field(description="Planned arrival at the door.")
    eta_pickup: datetime | None = Field(description="Planned pickup at the merchant.")
    promised_by: datetime = Field(description="The delivery promise.")
    at_risk: bool = Field(description="The promise may be missed.")
    reason: str | None = Field(description="Why it waits or is at risk.")
    courier: CourierOut | None = Field(
        description="The courier while it is on its way (assigned or picked up), else null."
    )

    @classmethod
    def of(cls, t: Tracking) -> TrackingOut:
        o = t.order
        courier = None
        if t.courier_vehicle is not None:
            pos = t.courier_position
            courier = CourierOut(
                position=None if pos is None else PointOut(lat=pos.lat, lng=pos.lng),
                position_ts=to_time(t.courier_position_ts),
                vehicle=t.courier_vehicle,
                stops_before=t.stops_before,
            )
        return cls(
            order_id=o.id,
            state=o.state.value,
            eta=to_time(o.eta_dropoff),
            eta_pickup=to_time(o.eta_pickup),
            promised_by=utc(o.promised_by),
            at_risk=o.at_risk,
            reason=o.reason,
            courier=courier,
        )
