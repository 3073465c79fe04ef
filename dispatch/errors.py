"""The engine's error tree; the API maps each class to one status code.

DispatchError
 ├── InvalidInput (also ValueError)   bad values the caller can fix      -> 422
 │    └── OutsideGeofence             a point outside the community      -> 422
 ├── NotFound (also KeyError)          unknown community/worker/order/job -> 404
 ├── Conflict                          illegal transition, idempotency    -> 409
 ├── Infeasible                        the request can never be served    -> 422
 ├── LeaseLost                         a dispatcher's lease passed on     -> 409
 └── StoreUnavailable                  the state store cannot be reached  -> 503
"""

from __future__ import annotations


class DispatchError(Exception):
    """Base of every error the engine raises on purpose."""


class InvalidInput(DispatchError, ValueError):
    """A value is out of range or inconsistent."""


class OutsideGeofence(InvalidInput):
    """A point lies outside every community it could belong to."""


class NotFound(DispatchError, KeyError):
    """An entity does not exist."""

    def __str__(self) -> str:  # KeyError quotes its argument; keep messages readable
        return str(self.args[0]) if self.args else "not found"


class Conflict(DispatchError):
    """The request clashes with the current state (illegal transition, key reuse)."""


class Infeasible(DispatchError):
    """The request can never be served as asked (no worker has the skills, etc.)."""


class LeaseLost(DispatchError):
    """A dispatcher's write was fenced off: its lease expired and another took over.

    Not a ``Conflict``: reading again and retrying would be wrong, the community
    is someone else's now.
    """


class StoreUnavailable(DispatchError):
    """The state store did not answer."""
