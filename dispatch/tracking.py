"""What an order service passes on to a resident: where the order is and when it arrives.

Read-only: the order, its courier's last position while the courier is on
the way (never before assignment or after delivery: a resident sees a
courier only while it is theirs), and the stops the courier makes first.
"""

from __future__ import annotations

from dataclasses import dataclass

from dispatch.errors import NotFound
from dispatch.model import LatLng, Order, OrderState, StopKind
from dispatch.routes import live_route
from dispatch.store.base import Store

__all__ = ["Tracking", "track_order"]

_EN_ROUTE = (OrderState.ASSIGNED, OrderState.PICKED_UP)


@dataclass(frozen=True)
class Tracking:
    order: Order
    courier_position: LatLng | None = None
    courier_position_ts: float | None = None
    courier_vehicle: str | None = None
    stops_before: int | None = None  # stops the courier makes before this order's next one


def track_order(store: Store, order_id: str) -> Tracking:
    """The tracking view of an order; raises ``NotFound`` for an unknown id."""
    order = store.get_order(order_id)
    if order is None:
        raise NotFound(f"order {order_id} does not exist")
    if order.state not in _EN_ROUTE or order.worker_id is None:
        return Tracking(order)
    courier = store.get_worker(order.worker_id)
    if courier is None:
        return Tracking(order)
    route = live_route(store, order.community_id, courier.id)  # stops already done left out
    next_kind = StopKind.DROPOFF if order.state == OrderState.PICKED_UP else StopKind.PICKUP
    before = next(
        (i for i, s in enumerate(route) if s.entity_id == order.id and s.kind == next_kind),
        None,
    )
    return Tracking(
        order,
        courier_position=courier.position,
        courier_position_ts=courier.position_ts,
        courier_vehicle=courier.vehicle.value,
        stops_before=before,
    )
