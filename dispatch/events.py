"""Events as the engine records them: what changed, with a compact payload."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from dispatch.model import Job, Order, to_dict
from dispatch.store.base import NewEvent

__all__ = ["new_event"]


def _jsonable(value: Any) -> Any:
    """A dataclass as its dict; anything else unchanged."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return to_dict(value)
    return value


def new_event(
    now: float, community_id: str, type: str, entity_id: str, record: Any = None
) -> NewEvent:
    """An event for an order or job (its state, worker, at-risk flag) or a plain mapping."""
    data: dict[str, Any] = {}
    if isinstance(record, Order | Job):
        data = {"state": record.state.value, "worker_id": record.worker_id}
        if record.at_risk:
            data["at_risk"] = True
        if record.reason:
            data["reason"] = record.reason
        if isinstance(record, Order) and record.proof_ref:
            data["proof_ref"] = record.proof_ref  # order.delivered: the proof of delivery
        if isinstance(record, Order) and type == "order.ready":
            data["ready_at"] = record.ready_at  # the kitchen's reported time
    elif isinstance(record, Mapping):
        data = {str(k): _jsonable(v) for k, v in record.items()}
    return NewEvent(now, community_id, type, entity_id, data)
