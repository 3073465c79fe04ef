"""One dispatch tick as a pipeline of plain steps (see ``dispatch.tick.pipeline``)."""

from dispatch.tick.apply import PlanChanges, apply_plan
from dispatch.tick.build import (
    StopRef,
    TickProblem,
    build_problem,
    build_tick_problem,
    dispatchable,
)
from dispatch.tick.pipeline import TickPipeline, commit
from dispatch.tick.snapshot import TickSnapshot, read_snapshot

__all__ = [
    "PlanChanges",
    "StopRef",
    "TickPipeline",
    "TickProblem",
    "TickSnapshot",
    "apply_plan",
    "build_problem",
    "build_tick_problem",
    "commit",
    "dispatchable",
    "read_snapshot",
]
