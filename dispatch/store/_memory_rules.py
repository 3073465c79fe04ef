"""Surge rule sets in memory: the global set, communities' own sets, every version kept."""

from __future__ import annotations

import copy
import threading
from collections.abc import Mapping
from typing import Any

__all__ = ["RuleShelf"]

GLOBAL = ""  # the scope of the global set (no community id is empty)


class RuleShelf:
    """Active rule sets by scope and their histories; every method is atomic.

    One counter numbers every scope's versions, so a version names one rule set.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counter = 0
        self._active: dict[str, dict[str, Any]] = {}
        self._history: dict[str, list[dict[str, Any]]] = {}

    def get(self, community_id: str | None) -> dict[str, Any] | None:
        with self._lock:
            return copy.deepcopy(self._active.get(community_id or GLOBAL))

    def version(self, community_id: str | None) -> int:
        with self._lock:
            rules = self._active.get(community_id or GLOBAL)
            return int(rules["version"]) if rules is not None else 0

    def put(
        self, data: Mapping[str, Any], community_id: str | None, meta: Mapping[str, Any] | None
    ) -> int:
        with self._lock:
            self._counter += 1
            v = self._counter
            body = {k: copy.deepcopy(x) for k, x in data.items() if k != "version"}
            stored = {**body, "version": v}
            scope = community_id or GLOBAL
            self._active[scope] = stored
            entry = {**copy.deepcopy(dict(meta or {})), "version": v, "data": copy.deepcopy(stored)}
            self._history.setdefault(scope, []).append(entry)
            return v

    def history(self, community_id: str | None) -> list[dict[str, Any]]:
        with self._lock:
            return copy.deepcopy(self._history.get(community_id or GLOBAL, [])[::-1])

    def clear(self, community_id: str) -> bool:
        with self._lock:
            return self._active.pop(community_id, None) is not None
