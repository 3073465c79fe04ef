"""The range every time a caller gives must lie in, and a safe reading of stored ones.

Times are float epoch seconds. A shift end or an appointment window in year 1
or 9999 once passed the edge, was stored, and then made every read of it fail
(no calendar date for it in UTC). The engine refuses anything before
``EARLIEST`` or more than ``MAX_AHEAD_S`` past its clock (``InvalidInput``, so
nothing is committed by any path); reads clamp what an older version may have
stored into the range a date can always be made of.
"""

from __future__ import annotations

import math

from dispatch.errors import InvalidInput

__all__ = ["EARLIEST", "LATEST_READABLE", "MAX_AHEAD_S", "check_time", "readable"]

EARLIEST = 946_684_800.0  # 2000-01-01T00:00:00Z
MAX_AHEAD_S = 90 * 86_400.0  # ninety days past the engine's clock
LATEST_READABLE = 4_102_444_800.0  # 2100-01-01T00:00:00Z: stored times are read up to here


def check_time(name: str, t: float | None, now: float) -> None:
    """Raise ``InvalidInput`` unless ``t`` (None: not given) lies in the accepted range."""
    if t is None:
        return
    if not math.isfinite(t) or t < EARLIEST:
        raise InvalidInput(f"{name} must not lie before 2000-01-01T00:00:00Z")
    if t > now + MAX_AHEAD_S:
        raise InvalidInput(f"{name} must lie at most 90 days ahead")


def readable(t: float) -> float:
    """A stored time clamped into [EARLIEST, LATEST_READABLE]: reads never fail on it."""
    if not math.isfinite(t):
        return EARLIEST if t != math.inf else LATEST_READABLE
    return min(max(t, EARLIEST), LATEST_READABLE)
