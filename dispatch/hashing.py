"""A request's content hash, the same in every process: what idempotency keys and held
quotes are bound to."""

from __future__ import annotations

import dataclasses
import enum
import hashlib
from typing import Any

__all__ = ["body_hash"]


#: Types returned as they are (by far the most common leaves of a request).
_PLAIN = frozenset({str, int, float, bool, type(None)})
#: Field names of each dataclass seen, in order (``dataclasses.fields`` is slow).
_FIELDS: dict[type, tuple[str, ...]] = {}


def _canonical(value: Any) -> Any:
    """A request as nested tuples of plain values, the same in every process
    (sets sorted, enums by value, dataclasses field by field in order)."""
    kind = type(value)
    if kind in _PLAIN:
        return value
    names = _FIELDS.get(kind)
    if names is None and dataclasses.is_dataclass(value) and not isinstance(value, type):
        names = _FIELDS[kind] = tuple(f.name for f in dataclasses.fields(value))
    if names is not None:
        return tuple(_canonical(getattr(value, n)) for n in names)
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
