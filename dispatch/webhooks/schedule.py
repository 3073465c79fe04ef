"""When a failed delivery is tried again: exponential backoff with jitter, > 24 h in all.

The default waits after each failed attempt are 10 s, 1 min, 5 min, 30 min, 1 h,
2 h, 4 h, 8 h and 10 h (25.6 h in all), each stretched by a random 0-20 % so
that the retries of many deliveries spread out. Jitter only lengthens a wait,
so the schedule never ends before 24 h. After the last wait's attempt fails,
the delivery is given up (and its endpoint disabled).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

__all__ = ["DEFAULT_DELAYS_S", "RetrySchedule"]

DEFAULT_DELAYS_S: tuple[float, ...] = (
    10.0,
    60.0,
    300.0,
    1800.0,
    3600.0,
    7200.0,
    14400.0,
    28800.0,
    36000.0,
)


@dataclass(frozen=True)
class RetrySchedule:
    """Waits after the 1st, 2nd, ... failed attempt, each stretched by up to ``jitter``."""

    delays_s: tuple[float, ...] = DEFAULT_DELAYS_S
    jitter: float = 0.2

    def __post_init__(self) -> None:
        if not self.delays_s or any(d <= 0 for d in self.delays_s):
            raise ValueError("a retry schedule needs positive delays")
        if not 0 <= self.jitter <= 1:
            raise ValueError("jitter must be within [0, 1]")

    @property
    def attempts(self) -> int:
        """Attempts in all: the first and one after each wait."""
        return len(self.delays_s) + 1

    @property
    def shortest_span_s(self) -> float:
        """The least time from the first to the last attempt (no jitter drawn)."""
        return sum(self.delays_s)

    def delay(self, failures: int, rng: random.Random) -> float | None:
        """The wait after ``failures`` failed attempts in a row; None: give up."""
        if failures < 1 or failures > len(self.delays_s):
            return None
        return self.delays_s[failures - 1] * (1.0 + rng.random() * self.jitter)
