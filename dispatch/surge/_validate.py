"""Checks for rule data that collect every problem with its field path.

A ``Problems`` collector is passed through the parser; each check records a
problem (location tuple and message) instead of raising, so one response lists
everything an analyst has to fix.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from dispatch.errors import InvalidInput

Loc = tuple[str | int, ...]


def format_loc(loc: Loc) -> str:
    """``("services", "takeout", "curve", 2)`` → ``"services.takeout.curve[2]"``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else part
    return out or "(root)"


class InvalidRules(InvalidInput):
    """A rule set failed validation.

    ``errors`` lists every problem as ``{"loc": [...], "msg": "..."}`` (the API
    turns them into problem+json ``errors[]``); the message joins them as
    ``"path: msg"``.
    """

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        self.errors = errors
        text = "; ".join(f"{format_loc(tuple(e['loc']))}: {e['msg']}" for e in errors)
        super().__init__(f"invalid surge rules: {text}")

    @property
    def messages(self) -> list[str]:
        """The problems as ``"path: msg"`` strings."""
        return [f"{format_loc(tuple(e['loc']))}: {e['msg']}" for e in self.errors]


class Problems:
    """Collects validation problems; ``raise_if_any`` raises them together."""

    def __init__(self) -> None:
        self.items: list[dict[str, Any]] = []

    def add(self, loc: Loc, msg: str) -> None:
        self.items.append({"loc": list(loc), "msg": msg})

    def raise_if_any(self) -> None:
        if self.items:
            raise InvalidRules(self.items)

    def table(
        self, loc: Loc, value: Any, known: frozenset[str], unknown: str = "unknown field"
    ) -> Mapping[str, Any] | None:
        """A table (mapping with string keys); unknown keys are reported."""
        if not isinstance(value, Mapping):
            self.add(loc, "must be a table")
            return None
        for key in value:
            if not isinstance(key, str) or key not in known:
                self.add((*loc, str(key)), unknown)
        return value

    def number(
        self,
        loc: Loc,
        value: Any,
        *,
        ge: float | None = None,
        gt: float | None = None,
        le: float | None = None,
        lt: float | None = None,
        what: str = "",
    ) -> float | None:
        """A finite real number within the given bounds, or None (problem recorded).

        ``what`` names the value inside its location ("ratio" of a curve point).
        """
        lead = f"{what} must" if what else "must"
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.add(loc, f"{lead} be a number")
            return None
        x = float(value)
        if not math.isfinite(x):
            self.add(loc, f"{lead} be a finite number")
            return None
        for bound, ok, word in (
            (ge, lambda b: x >= b, "at least"),
            (gt, lambda b: x > b, "greater than"),
            (le, lambda b: x <= b, "at most"),
            (lt, lambda b: x < b, "less than"),
        ):
            if bound is not None and not ok(bound):
                self.add(loc, f"{lead} be {word} {bound:g}")
                return None
        return x

    def integer(self, loc: Loc, value: Any, *, ge: int, le: int) -> int | None:
        """An integer in [ge, le] (floats are refused: 1.5 rings make no sense)."""
        if isinstance(value, bool) or not isinstance(value, int):
            self.add(loc, "must be an integer")
            return None
        if not ge <= value <= le:
            self.add(loc, f"must lie in [{ge}, {le}]")
            return None
        return int(value)

    def boolean(self, loc: Loc, value: Any) -> bool | None:
        if not isinstance(value, bool):
            self.add(loc, "must be true or false")
            return None
        return value

    def string(self, loc: Loc, value: Any, *, max_len: int = 200) -> str | None:
        if not isinstance(value, str) or not value.strip() or len(value) > max_len:
            self.add(loc, f"must be a non-empty string of at most {max_len} characters")
            return None
        return value
