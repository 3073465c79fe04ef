"""What a courier reports besides state changes: arrivals, and the proof of delivery.

Arriving at the merchant (``arrived_at_pickup``, while the order is assigned) or
at the door (``arrived_at_dropoff``, while it is picked up) stamps the order and
announces ``order.arrived_at_pickup`` / ``order.arrived_at_dropoff``; the state
does not change. A repeated arrival changes nothing (apps retry on bad networks).
A delivered report may carry ``proof_ref``: a reference to a photo or signature
the courier app stored elsewhere, kept on the order and shown in its events.
"""

from __future__ import annotations

from collections.abc import Mapping

from dispatch.errors import Conflict, InvalidInput
from dispatch.model import Order, OrderState

__all__ = ["ARRIVALS", "MAX_PROOF_REF", "arrival_stamp", "check_proof"]

#: Arrival report -> (the state it is reported in, the order field it stamps).
ARRIVALS: Mapping[str, tuple[OrderState, str]] = {
    "arrived_at_pickup": (OrderState.ASSIGNED, "arrived_pickup_at"),
    "arrived_at_dropoff": (OrderState.PICKED_UP, "arrived_dropoff_at"),
}
MAX_PROOF_REF = 256


def arrival_stamp(order: Order, report: str) -> str | None:
    """The field an arrival stamps, or None when it was already reported."""
    state, stamp = ARRIVALS[report]
    if order.state != state:
        raise Conflict(
            f"order {order.id} is {order.state.value}; {report} is reported while it is "
            f"{state.value}"
        )
    return None if getattr(order, stamp) is not None else stamp


def check_proof(report: str, proof_ref: str | None) -> None:
    """A proof reference goes with a delivery only, and is short printable text."""
    if proof_ref is None:
        return
    if report != "delivered":
        raise InvalidInput("proof_ref goes with a delivered report only")
    if not 1 <= len(proof_ref) <= MAX_PROOF_REF or not proof_ref.isprintable():
        raise InvalidInput(f"proof_ref must be 1-{MAX_PROOF_REF} printable characters")
