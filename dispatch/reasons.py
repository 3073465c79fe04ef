"""Why work waits: a machine-readable reason for every unassigned or at-risk order and job.

Pure: a tick's snapshot, the workers it dispatched to and the routes it
planned give each waiting or late item one reason, from the most basic cause
(nobody on shift) to the most specific (a planned arrival past the promise),
so an order service can tell a resident something true and ops know what to fix.
"""

from __future__ import annotations

import enum
from collections.abc import Collection, Sequence
from dataclasses import dataclass

from dispatch.model import Job, Order, Worker, WorkerKind, WorkerStatus

__all__ = ["REASON_TEXT", "Reason", "Reasons"]


class Reason(enum.StrEnum):
    """Reasons, as events and records carry them (documented in README, Reasons)."""

    NO_WORKER_ON_SHIFT = "no_worker_on_shift"
    POSITIONS_STALE = "positions_stale"
    NO_QUALIFIED_WORKER = "no_qualified_worker"
    QUALIFIED_WORKERS_OFF_SHIFT = "qualified_workers_off_shift"
    CAPACITY = "capacity"
    WINDOW_UNREACHABLE = "window_unreachable"
    PROMISE_UNREACHABLE = "promise_unreachable"
    LATE_ETA = "late_eta"


#: One sentence per reason, for people (README's table is generated from the same words).
REASON_TEXT: dict[Reason, str] = {
    Reason.NO_WORKER_ON_SHIFT: "no worker of the needed kind is on shift in the community",
    Reason.POSITIONS_STALE: "workers are on shift but none has sent a fresh position",
    Reason.NO_QUALIFIED_WORKER: "no technician of the community has the skills and rating",
    Reason.QUALIFIED_WORKERS_OFF_SHIFT: "the qualified technicians are off shift or on a break",
    Reason.CAPACITY: "every dispatchable worker is carrying or planned full",
    Reason.WINDOW_UNREACHABLE: "the booked window or due time cannot be met any more",
    Reason.PROMISE_UNREACHABLE: "a free courier exists but cannot make the promise in time",
    Reason.LATE_ETA: "assigned, but the planned arrival is past the promise or due time",
}


def _on_shift(w: Worker, now: float) -> bool:
    if w.status not in (WorkerStatus.AVAILABLE, WorkerStatus.BUSY):
        return False
    return w.shift_end is None or w.shift_end > now


def _qualified(w: Worker, job: Job) -> bool:
    if w.kind != WorkerKind.TECHNICIAN or not job.skills <= w.skills:
        return False
    return job.min_rating is None or w.rating >= job.min_rating


@dataclass(frozen=True)
class Reasons:
    """The reasons of one tick: ``workers`` are the community's, ``dispatched`` those the
    tick planned for, ``busy`` the ids of workers the new plan gives stops."""

    workers: Sequence[Worker]
    dispatched: Collection[str]
    busy: Collection[str]
    now: float

    def _waiting(self, candidates: Sequence[Worker], missing: Reason) -> Reason | None:
        """The shared causes: nobody on shift, stale positions, or everyone busy."""
        on_shift = [w for w in candidates if _on_shift(w, self.now)]
        if not on_shift:
            return missing
        ready = [w for w in on_shift if w.id in self.dispatched]
        if not ready:
            return Reason.POSITIONS_STALE
        if all(w.id in self.busy for w in ready):
            return Reason.CAPACITY
        return None

    def order(self, order: Order) -> Reason:
        """Why a pending order has no courier."""
        couriers = [w for w in self.workers if w.kind == WorkerKind.COURIER]
        return self._waiting(couriers, Reason.NO_WORKER_ON_SHIFT) or Reason.PROMISE_UNREACHABLE

    def job(self, job: Job) -> Reason:
        """Why a pending job has no technician."""
        qualified = [w for w in self.workers if _qualified(w, job)]
        if not qualified:
            return Reason.NO_QUALIFIED_WORKER
        if job.due_by is not None and job.due_by <= self.now:
            return Reason.WINDOW_UNREACHABLE
        waiting = self._waiting(qualified, Reason.QUALIFIED_WORKERS_OFF_SHIFT)
        return waiting or Reason.WINDOW_UNREACHABLE
