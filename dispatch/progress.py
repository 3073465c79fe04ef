"""Work in progress: cancellations and what workers report, through the state machines.

Each change is one version-guarded write of the record and its event, so a
report that races with a tick (or with another report) fails with ``Conflict``
instead of overwriting it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from dispatch.arrivals import ARRIVALS, arrival_stamp, check_proof
from dispatch.clock import Clock
from dispatch.errors import Conflict, InvalidInput, NotFound
from dispatch.events import new_event
from dispatch.kitchen import reported_ready_at
from dispatch.lifecycle import (
    JOB_EVENTS,
    ORDER_EVENTS,
    check_job_transition,
    check_order_transition,
)
from dispatch.model import Job, JobState, Order, OrderState
from dispatch.store.base import Store

__all__ = ["Progress"]

#: Which time stamp a state sets, and the event type a job's state is announced as.
_ORDER_STAMP = {OrderState.PICKED_UP: "picked_up_at", OrderState.DELIVERED: "delivered_at"}
_JOB_STAMP = {
    JobState.EN_ROUTE: "started_at",
    JobState.IN_SERVICE: "arrived_at",
    JobState.COMPLETED: "completed_at",
    JobState.FAILED: "closed_at",
}
_JOB_EVENT_NAME = {JobState.EN_ROUTE: "started", JobState.IN_SERVICE: "arrived"}


State = TypeVar("State", OrderState, JobState)


def _target(events: Mapping[str, State], scope: str, type: str) -> State:
    """The state a reported event leads to; an unknown event names the known ones."""
    target = events.get(type)
    if target is None:
        raise InvalidInput(f"unknown {scope} event {type!r}; expected {sorted(events)}")
    return target


@dataclass
class Progress:
    """Cancels and worker reports for orders and jobs."""

    store: Store
    clock: Clock

    def order(self, order_id: str) -> Order:
        o = self.store.get_order(order_id)
        if o is None:
            raise NotFound(f"order {order_id} does not exist")
        return o

    def job(self, job_id: str) -> Job:
        j = self.store.get_job(job_id)
        if j is None:
            raise NotFound(f"job {job_id} does not exist")
        return j

    def cancel_order(self, order_id: str) -> Order:
        """Cancel before pickup; cancelling a cancelled order returns it unchanged."""
        o = self.order(order_id)
        if o.state == OrderState.CANCELLED:
            return o
        check_order_transition(o.id, o.state, OrderState.CANCELLED)
        return self._save(o, OrderState.CANCELLED, {"closed_at": self.clock.now()}, "cancelled")

    def cancel_job(self, job_id: str) -> Job:
        j = self.job(job_id)
        if j.state == JobState.CANCELLED:
            return j
        check_job_transition(j.id, j.state, JobState.CANCELLED)
        return self._save(j, JobState.CANCELLED, {"closed_at": self.clock.now()}, "cancelled")

    def order_event(
        self, order_id: str, type: str, worker_id: str, proof_ref: str | None = None
    ) -> Order:
        """A courier reports picked_up, delivered (with an optional proof reference) or
        failed for an order it carries, or an arrival (``dispatch.arrivals``)."""
        if type in ARRIVALS:
            return self._arrive(order_id, type, worker_id)
        check_proof(type, proof_ref)
        target = _target(ORDER_EVENTS, "order", type)
        o = self.order(order_id)
        self._check_assignee("order", o, worker_id)
        check_order_transition(o.id, o.state, target)
        stamps: dict[str, Any] = {_ORDER_STAMP.get(target, "closed_at"): self.clock.now()}
        if proof_ref is not None:
            stamps["proof_ref"] = proof_ref
        return self._save(o, target, stamps, target.value)

    def kitchen_report(self, order_id: str, ready_at: float | None = None) -> Order:
        """The merchant's word on an order's food: when it will be ready (``None``: out
        now). Replaces the ready time ticks plan with and their late-food expectation."""
        o = self.order(order_id)
        ready = reported_ready_at(o, ready_at, self.clock.now())
        return self._save(o, o.state, {"ready_at": ready, "late_food_ready_at": None}, "ready")

    def _arrive(self, order_id: str, report: str, worker_id: str) -> Order:
        """Stamp an arrival once; the state stays."""
        o = self.order(order_id)
        self._check_assignee("order", o, worker_id)
        stamp = arrival_stamp(o, report)
        if stamp is None:
            return o
        return self._save(o, o.state, {stamp: self.clock.now()}, report)

    def job_event(self, job_id: str, type: str, worker_id: str) -> Job:
        """A technician reports started, arrived, completed or failed."""
        target = _target(JOB_EVENTS, "job", type)
        j = self.job(job_id)
        self._check_assignee("job", j, worker_id)
        check_job_transition(j.id, j.state, target)
        name = _JOB_EVENT_NAME.get(target, target.value)
        return self._save(j, target, {_JOB_STAMP[target]: self.clock.now()}, name)

    def _check_assignee(self, scope: str, work: Order | Job, worker_id: str) -> None:
        """The reporting worker exists and carries the work."""
        if self.store.get_worker(worker_id) is None:
            raise NotFound(f"worker {worker_id} does not exist")
        if work.worker_id != worker_id:
            raise Conflict(f"{scope} {work.id} is not assigned to worker {worker_id}")

    def _save(self, old: Any, state: Any, stamps: dict[str, Any], event: str) -> Any:
        """Write the record in its new state with its event; the version guards the write."""
        new = dataclasses.replace(old, state=state, version=old.version + 1, **stamps)
        scope = "order" if isinstance(new, Order) else "job"
        self.store.write(
            new.community_id,
            orders=[new] if isinstance(new, Order) else [],
            jobs=[new] if isinstance(new, Job) else [],
            events=[new_event(self.clock.now(), new.community_id, f"{scope}.{event}", new.id, new)],
            expect={old.id: old.version},
        )
        return new
