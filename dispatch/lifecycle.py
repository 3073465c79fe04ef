"""Explicit state machines for orders and jobs; anything else is a Conflict.

Orders:  pending → assigned → picked_up → delivered
         pending|assigned → cancelled;  assigned|picked_up → failed
         assigned → pending (unassigned by a tick: the courier became unavailable)
Jobs:    pending → assigned → en_route → in_service → completed
         pending|assigned|en_route → cancelled;  assigned|en_route|in_service → failed
         assigned → pending
Reassignment (assigned → assigned to another worker) is allowed until pickup
for orders and until the technician sets off (en_route) for jobs.
"""

from __future__ import annotations

from collections.abc import Mapping

from dispatch.errors import Conflict
from dispatch.model import JobState, OrderState

ORDER_TRANSITIONS: Mapping[OrderState, frozenset[OrderState]] = {
    OrderState.PENDING: frozenset({OrderState.ASSIGNED, OrderState.CANCELLED}),
    OrderState.ASSIGNED: frozenset(
        {
            OrderState.ASSIGNED,
            OrderState.PENDING,
            OrderState.PICKED_UP,
            OrderState.CANCELLED,
            OrderState.FAILED,
        }
    ),
    OrderState.PICKED_UP: frozenset({OrderState.DELIVERED, OrderState.FAILED}),
    OrderState.DELIVERED: frozenset(),
    OrderState.CANCELLED: frozenset(),
    OrderState.FAILED: frozenset(),
}

JOB_TRANSITIONS: Mapping[JobState, frozenset[JobState]] = {
    JobState.PENDING: frozenset({JobState.ASSIGNED, JobState.CANCELLED}),
    JobState.ASSIGNED: frozenset(
        {
            JobState.ASSIGNED,
            JobState.PENDING,
            JobState.EN_ROUTE,
            JobState.CANCELLED,
            JobState.FAILED,
        }
    ),
    JobState.EN_ROUTE: frozenset({JobState.IN_SERVICE, JobState.CANCELLED, JobState.FAILED}),
    JobState.IN_SERVICE: frozenset({JobState.COMPLETED, JobState.FAILED}),
    JobState.COMPLETED: frozenset(),
    JobState.CANCELLED: frozenset(),
    JobState.FAILED: frozenset(),
}

#: Worker-reported events and the state each one leads to.
ORDER_EVENTS: Mapping[str, OrderState] = {
    "picked_up": OrderState.PICKED_UP,
    "delivered": OrderState.DELIVERED,
    "failed": OrderState.FAILED,
}
JOB_EVENTS: Mapping[str, JobState] = {
    "started": JobState.EN_ROUTE,
    "arrived": JobState.IN_SERVICE,
    "completed": JobState.COMPLETED,
    "failed": JobState.FAILED,
}

#: States in which the plan may still move the work to another worker.
ORDER_MOVABLE = frozenset({OrderState.PENDING, OrderState.ASSIGNED})
JOB_MOVABLE = frozenset({JobState.PENDING, JobState.ASSIGNED})


def check_order_transition(order_id: str, current: OrderState, target: OrderState) -> None:
    if target not in ORDER_TRANSITIONS[current]:
        raise Conflict(f"order {order_id} is {current.value}; it cannot become {target.value}")


def check_job_transition(job_id: str, current: JobState, target: JobState) -> None:
    if target not in JOB_TRANSITIONS[current]:
        raise Conflict(f"job {job_id} is {current.value}; it cannot become {target.value}")
