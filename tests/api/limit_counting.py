"""A rate-limit strategy wrapper that counts the calls reaching its storage: what the
limit tests and ``benchmarks/limits.py`` measure (work, not time)."""

from __future__ import annotations

from typing import Any


class CountingStrategy:
    """The limiter's strategy, counting the calls that reach the storage."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.calls = 0

    def hit(self, *args: Any, **kwargs: Any) -> bool:
        self.calls += 1
        return bool(self.inner.hit(*args, **kwargs))

    def get_window_stats(self, *args: Any) -> Any:
        self.calls += 1
        return self.inner.get_window_stats(*args)
