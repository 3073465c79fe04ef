"""Errors raised by the solver layer.

ValueError
 └── InvalidProblem   a problem that cannot be built (shapes, units, references)
"""


class InvalidProblem(ValueError):
    """The problem's arrays are inconsistent or out of range."""
