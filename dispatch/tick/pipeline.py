"""A tick as a pipeline: snapshot → build → solve (the policy) → apply → one commit.

Only the first and last steps touch the store. The commit is one atomic write
guarded by the plan's version and every changed record's version, so a tick
that raced with an API write (an order cancelled while it solved) fails as a
whole; it then reads again and retries, a bounded number of times.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from dispatch.errors import Conflict
from dispatch.model import Community
from dispatch.policies.base import DispatchPolicy
from dispatch.requests import TickResult
from dispatch.settings import EngineSettings
from dispatch.store.base import Fence, Store
from dispatch.tick.apply import PlanChanges, apply_plan
from dispatch.tick.ready import build_believed
from dispatch.tick.snapshot import read_snapshot
from geo import MatrixProvider
from solver import FALLBACK

__all__ = ["COMMIT_RESERVE_S", "TickPipeline", "commit"]

log = logging.getLogger(__name__)

#: Part of a tick's budget kept for writing the plan and its events.
COMMIT_RESERVE_S = 0.05
#: Shortest search a policy is given, even when building used the whole budget.
MIN_SOLVE_S = 0.05


def commit(
    store: Store, community_id: str, changes: PlanChanges, fence: Fence | None = None
) -> None:
    """Write a plan and its changes in one version-guarded (and lease-fenced) atomic step."""
    store.write(
        community_id,
        orders=list(changes.orders),
        jobs=list(changes.jobs),
        events=list(changes.events),
        expect=changes.expect,
        plan=changes.plan,
        expect_plan=changes.expect_plan,
        fence=fence,
    )


@dataclass(frozen=True)
class TickPipeline:
    """The steps of a tick wired to a store, a policy, settings and a travel model.

    ``timer`` measures the wall time the budget limits (the solver's time is
    real even when the engine's clock is simulated).
    """

    store: Store
    policy: DispatchPolicy
    settings: EngineSettings
    matrices: MatrixProvider
    attempts: int = 3
    timer: Callable[[], float] = time.perf_counter

    def run(self, community: Community, now: float, *, fence: Fence | None = None) -> TickResult:
        """One tick; a lost version race reads again and retries (``TickResult.retries``).

        With ``fence`` the commit succeeds only while that lease holds
        (``LeaseLost`` otherwise, never retried); ``plan.committed`` names its owner.
        """
        for attempt in range(self.attempts):
            try:
                result = self._once(community, now, fence)
            except Conflict:
                if attempt == self.attempts - 1:
                    raise
                log.info("tick of %s raced with another change; retrying", community.id)
                continue
            return dataclasses.replace(result, retries=attempt)
        raise AssertionError("unreachable")  # pragma: no cover

    def _once(self, community: Community, now: float, fence: Fence | None) -> TickResult:
        snap = read_snapshot(self.store, community, now)
        started = self.timer()
        # late food at a counter is planned as late (dispatch.tick.ready)
        tp = build_believed(snap, self.settings, self.matrices)
        # The budget covers the whole tick: building, solving and committing.
        left = community.solver_budget_s - (self.timer() - started) - COMMIT_RESERVE_S
        result = self.policy.solve(tp, max(MIN_SOLVE_S, left))
        solve_ms = (self.timer() - started) * 1000.0
        fallback = FALLBACK in result.warnings
        changes = apply_plan(
            snap,
            tp,
            result,
            self.settings,
            solve_ms=solve_ms,
            fallback=fallback,
            dispatcher=fence.owner if fence is not None else None,
        )
        commit(self.store, community.id, changes, fence)
        return TickResult(
            community.id,
            changes.assigned,
            changes.unassigned,
            solve_ms,
            changes.plan.version,
            fallback,
            changes.at_risk,
        )
