"""Order and job state machines: every legal move allowed, every other one a Conflict."""

from __future__ import annotations

import pytest

from dispatch.errors import Conflict
from dispatch.lifecycle import (
    JOB_TRANSITIONS,
    ORDER_TRANSITIONS,
    check_job_transition,
    check_order_transition,
)
from dispatch.model import JOB_TERMINAL, ORDER_TERMINAL, JobState, OrderState


@pytest.mark.parametrize("current", list(OrderState))
@pytest.mark.parametrize("target", list(OrderState))
def test_order_transitions(current: OrderState, target: OrderState) -> None:
    """Allowed exactly when the table says so; otherwise Conflict naming both states."""
    if target in ORDER_TRANSITIONS[current]:
        check_order_transition("o1", current, target)
    else:
        with pytest.raises(Conflict, match=current.value):
            check_order_transition("o1", current, target)


@pytest.mark.parametrize("current", list(JobState))
@pytest.mark.parametrize("target", list(JobState))
def test_job_transitions(current: JobState, target: JobState) -> None:
    """Allowed exactly when the table says so; otherwise Conflict."""
    if target in JOB_TRANSITIONS[current]:
        check_job_transition("j1", current, target)
    else:
        with pytest.raises(Conflict):
            check_job_transition("j1", current, target)


def test_terminal_states_are_final_and_pickup_is_irreversible() -> None:
    """Nothing leaves a terminal state; a picked-up order can never go back to assigned."""
    assert all(not ORDER_TRANSITIONS[s] for s in ORDER_TERMINAL)
    assert all(not JOB_TRANSITIONS[s] for s in JOB_TERMINAL)
    assert OrderState.ASSIGNED not in ORDER_TRANSITIONS[OrderState.PICKED_UP]
    assert OrderState.CANCELLED not in ORDER_TRANSITIONS[OrderState.PICKED_UP]
