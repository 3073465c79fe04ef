"""Dispatch policies behind one protocol, and the one registry that names them.

``make_policy("optimizer")`` is what servers and workers run; the simulator
compares it with ``regret-insertion`` (its start and fallback alone) and
``nearest-idle`` (the classic myopic dispatcher). Nothing else in the code
branches on a policy's name.
"""

from __future__ import annotations

from collections.abc import Callable

from dispatch.errors import InvalidInput
from dispatch.policies.base import DispatchPolicy
from dispatch.policies.nearest_idle import NearestIdlePolicy
from dispatch.policies.optimizer import OptimizerPolicy, RegretInsertionPolicy
from solver import RoutingParams

__all__ = [
    "POLICIES",
    "DispatchPolicy",
    "NearestIdlePolicy",
    "OptimizerPolicy",
    "RegretInsertionPolicy",
    "make_policy",
]

#: Registry name → factory taking the solver's parameters (only the optimiser uses them).
POLICIES: dict[str, Callable[[RoutingParams], DispatchPolicy]] = {
    "optimizer": lambda params: OptimizerPolicy(params),
    "regret-insertion": lambda _params: RegretInsertionPolicy(),
    "nearest-idle": lambda _params: NearestIdlePolicy(),
}


def make_policy(name: str, params: RoutingParams | None = None) -> DispatchPolicy:
    """The policy registered under ``name``; ``InvalidInput`` names the known ones."""
    factory = POLICIES.get(name)
    if factory is None:
        raise InvalidInput(f"unknown dispatch policy {name!r}; expected one of {sorted(POLICIES)}")
    return factory(params or RoutingParams(use_vroom=False))
