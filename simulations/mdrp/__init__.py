"""The Grubhub Meal Delivery Routing Problem (MDRP) format: instances, solutions, a checker.

``read_instance`` reads an instance folder; ``solution_lines`` / ``write_solution``
produce the three solution files Grubhub's evaluator reads; ``check`` verifies
such files independently of the code that wrote them and computes the MDRP
metrics (``python -m simulations.mdrp INSTANCE_DIR SOLUTION_DIR``). The
replay itself (an instance as a simulated world) is ``simulations.sim.replay``.
"""

from simulations.mdrp.check import CheckReport, check
from simulations.mdrp.instance import (
    MdrpCourier,
    MdrpFormatError,
    MdrpInstance,
    MdrpOrder,
    read_instance,
    travel_minutes,
)
from simulations.mdrp.solution import (
    ASSIGNMENTS,
    COURIERS,
    ORDERS,
    Dropoff,
    Move,
    SolutionFiles,
    Trip,
    metric_dict,
    solution_lines,
    write_solution,
)

__all__ = [
    "ASSIGNMENTS",
    "COURIERS",
    "ORDERS",
    "CheckReport",
    "Dropoff",
    "MdrpCourier",
    "MdrpFormatError",
    "MdrpInstance",
    "MdrpOrder",
    "Move",
    "SolutionFiles",
    "Trip",
    "check",
    "metric_dict",
    "read_instance",
    "solution_lines",
    "travel_minutes",
    "write_solution",
]
