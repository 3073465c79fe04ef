"""The hindsight bound: a simulated day solved offline with perfect knowledge.

``day_from_result`` reads a run's realised demand and fleet; ``solve_day``
plans the whole day at once with the project's solver and re-times the plan on
the simulator's clock (``replay``, an independent check); ``decompose`` says of
each late delivery and late job whether it was late even in hindsight or
because of dispatch, and for jobs which cause shows.
"""

from simulations.hindsight.build import Model, courier_model, qualified, technician_model
from simulations.hindsight.day import Day, DayJob, DayOrder, day_from_result
from simulations.hindsight.replay import Replay, Stop, replay
from simulations.hindsight.solve import DEFAULT_PARAMS, HindsightPlan, solve_day

__all__ = [
    "DEFAULT_PARAMS",
    "Day",
    "DayJob",
    "DayOrder",
    "HindsightPlan",
    "Model",
    "Replay",
    "Stop",
    "courier_model",
    "day_from_result",
    "qualified",
    "replay",
    "solve_day",
    "technician_model",
]
