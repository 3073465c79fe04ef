"""A request's content hash, the same in every process: what idempotency keys and held
quotes are bound to."""

from __future__ import annotations

import dataclasses
import enum
import hashlib
from typing import Any

__all__ = ["body_hash"]


def _canonical(value: Any) -> Any:
    """A request as nested tuples of plain values, the same in every process
    (sets sorted, enums by value, dataclasses field by field in order)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return tuple(_canonical(getattr(value, f.name)) for f in dataclasses.fields(value))
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, frozenset | set):
        return tuple(sorted(_canonical(v) for v in value))
    if isinstance(value, list | tuple):
        return tuple(_canonical(v) for v in value)
    return value


def body_hash(payload: Any) -> str:
    """A stable hash of a request body (what an idempotency key is bound to)."""
    return hashlib.sha256(repr((type(payload).__name__, _canonical(payload))).encode()).hexdigest()
