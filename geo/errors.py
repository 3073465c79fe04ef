"""Errors of the geography layer.

ValueError
 └── InvalidInput   coordinates, resolutions or profiles out of range
"""


class InvalidInput(ValueError):
    """A coordinate, resolution or travel profile is not acceptable."""
