"""The seam between a tick and whatever plans it: the ``DispatchPolicy`` protocol.

A tick builds one routing problem from the community's state, hands it to the
injected policy, and commits whatever routes come back. Policies never touch
the store or the clock, so the same tick pipeline serves the optimiser in
production and the baselines the simulator compares it with.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from solver import RoutingResult

if TYPE_CHECKING:
    from dispatch.tick.build import TickProblem


class DispatchPolicy(Protocol):
    """Turns one tick's problem into routes; the tick pipeline commits them.

    name: the policy's registry name (reports and metrics show it).
    orders_per_trip: most orders it stacks on one courier, or None for the
        community's own bundling rule; surge counts only room a policy uses.
    tick_on_arrival: a myopic policy decides when work arrives, so the
        simulator ticks at once instead of waiting for the dispatch interval.
    """

    @property
    def name(self) -> str: ...

    @property
    def orders_per_trip(self) -> int | None: ...

    @property
    def tick_on_arrival(self) -> bool: ...

    def solve(self, tick: TickProblem, budget_s: float) -> RoutingResult:
        """Routes for ``tick.problem`` within ``budget_s`` seconds of wall time."""
        ...
