"""Where a store may not wait on I/O: the event loop's optimistic hot path.

An API request may run its CPU work on the event loop and await only its commit
(``RedisStore.write_async``). Any other store call on that path would block the
loop, so inside ``no_blocking_io()`` such a call raises ``WouldBlock`` before it
touches the network, and the caller falls back to the thread path, which is
correct in every case (a cache miss, a held quote, a retry).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["WouldBlock", "check_blocking_allowed", "no_blocking_io"]

_state = threading.local()


class WouldBlock(Exception):
    """A store call would wait on I/O where waiting is not allowed."""


@contextmanager
def no_blocking_io() -> Iterator[None]:
    """Forbid blocking store calls in this thread for the block (never across an await)."""
    before = getattr(_state, "forbidden", False)
    _state.forbidden = True
    try:
        yield
    finally:
        _state.forbidden = before


def check_blocking_allowed() -> None:
    """Raise ``WouldBlock`` inside ``no_blocking_io()``; stores call it before any I/O."""
    if getattr(_state, "forbidden", False):
        raise WouldBlock("a blocking store call on the non-blocking path")
