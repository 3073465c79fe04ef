"""The engine's error tree; the API maps each class to one status code.

DispatchError
 ├── InvalidInput (also ValueError)   bad values the caller can fix      -> 422
 │    ├── OutsideGeofence             a point outside the community      -> 422
 │    ├── UnknownQuote                no such quote in this community    -> 422
 │    └── QuoteMismatch               the request is not what was quoted -> 422
 ├── NotFound (also KeyError)          unknown community/worker/order/job -> 404
 ├── Conflict                          illegal transition, idempotency    -> 409
 │    ├── QuoteExpired                the quote's time ran out           -> 409
 │    ├── QuoteUsed                   another order already used it      -> 409
 │    ├── Retired                     the worker or community is retired -> 409
 │    └── HoldsOpenWork               retiring what still has open work  -> 409
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


class UnknownQuote(InvalidInput):
    """The request names a quote this community never gave (or forgot long ago)."""


class QuoteMismatch(InvalidInput):
    """The request differs from the one the quote priced (or is another kind of work)."""


class NotFound(DispatchError, KeyError):
    """An entity does not exist."""

    def __str__(self) -> str:  # KeyError quotes its argument; keep messages readable
        return str(self.args[0]) if self.args else "not found"


class Conflict(DispatchError):
    """The request clashes with the current state (illegal transition, key reuse)."""


class QuoteExpired(Conflict):
    """The quote's hold ran out: quote again."""


class QuoteUsed(Conflict):
    """Another order or job already used the quote (a quote holds for one)."""


class Retired(Conflict):
    """The worker or community was retired: it takes no new work or positions."""


class HoldsOpenWork(Conflict):
    """A worker or community cannot be retired while it still has open work."""


class Infeasible(DispatchError):
    """The request can never be served as asked (no worker has the skills, etc.)."""


class LeaseLost(DispatchError):
    """A dispatcher's write was fenced off: its lease expired and another took over.

    Not a ``Conflict``: reading again and retrying would be wrong, the community
    is someone else's now.
    """


class StoreUnavailable(DispatchError):
    """The state store did not answer."""
