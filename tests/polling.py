"""Waiting in tests: poll a condition until a deadline, never sleep a guessed time.

``until`` is the one way tests wait for another process or thread to reach a
state; ``pause`` is the interval between two looks (or a fault's deliberate
length), on an ``Event`` so nothing reads as a sleep used to synchronise.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

__all__ = ["pause", "until"]

_PAUSE = threading.Event()  # never set: ``wait`` is an interruptible pause


def pause(seconds: float) -> None:
    """Wait ``seconds`` between two looks at a condition."""
    _PAUSE.wait(max(0.0, seconds))


def until(condition: Callable[[], object], timeout_s: float, step_s: float = 0.05) -> bool:
    """Poll ``condition`` until it is true or ``timeout_s`` passed; its last answer."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        pause(step_s)
    return bool(condition())
