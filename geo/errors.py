"""Errors of the geography layer.

ValueError
 └── InvalidInput   a coordinate, array, resolution, cell, fence or travel profile
                    that cannot be used; the message says which value and why
                    (e.g. "latitude 95.0 is outside [-90, 90]").

Subclassing ValueError lets callers that only know the standard library catch
it; the dispatch layer maps it to its own InvalidInput (HTTP 422).
"""


class InvalidInput(ValueError):
    """A coordinate, resolution, cell, fence or travel profile is not acceptable."""
