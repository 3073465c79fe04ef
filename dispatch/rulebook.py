"""The active surge rule sets: shared through the store, validated, versioned, hot-swapped.

The global set prices every community that has no set of its own; a community's
own set overrides it there. Every activation is kept in its scope's history
with who activated it (the API key's label), when, and the set's name and
content hash; rolling back activates an earlier version's rules again as a new
version (versions only grow, so every process sees the change).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

from dispatch.clock import Clock
from dispatch.errors import NotFound
from dispatch.events import new_event
from dispatch.pricing import Pricer
from dispatch.store.base import Store
from dispatch.surge import (
    InvalidRules,
    RuleSet,
    parse_rules,
    rules_hash,
    rules_to_dict,
    unwrap_rules,
)

__all__ = ["RuleBook"]

log = logging.getLogger(__name__)

GLOBAL = "*"  # the global scope's name in events and checks


class RuleBook:
    """Keeps the pricer's rules in step with the store's (another process may change them)."""

    def __init__(
        self,
        store: Store,
        pricer: Pricer,
        clock: Clock,
        *,
        recheck_s: float = 0.0,
        timer: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.pricer = pricer
        self.clock = clock
        self.recheck_s = recheck_s
        self.timer = timer
        self._checked_at: dict[str, float] = {}

    def active(self, community_id: str | None = None) -> RuleSet:
        """The rule set that prices ``community_id`` (its own, else the global one), or the
        global set (its first use stores the shipped rules).

        Per request this reads the versions only, and with ``recheck_s`` not even
        that more often than every ``recheck_s`` seconds per scope (a rule set another
        process activates reaches this one within that time); a rule set itself is
        read again only when its version changed.
        """
        rules = self._global()
        if community_id is None:
            return rules
        return self.own(community_id) or rules

    def _fresh(self, scope: str) -> bool:
        checked = self._checked_at.get(scope)
        return checked is not None and self.timer() - checked < self.recheck_s

    def _global(self) -> RuleSet:
        if self._fresh(GLOBAL):
            return self.pricer.rules
        version = self.store.rules_version()
        self._checked_at[GLOBAL] = self.timer()
        if version and version == self.pricer.rules.version:
            return self.pricer.rules
        stored = self.store.get_rules()
        if stored is None:
            return self._store(self.pricer.rules, None, "shipped defaults", None)  # no event
        try:
            self.pricer.set_rules(parse_rules(stored, version=int(stored["version"])))
        except InvalidRules as exc:
            log.error(
                "stored surge rules v%s are invalid, keeping the active ones: %s", version, exc
            )
        return self.pricer.rules

    def own(self, community_id: str) -> RuleSet | None:
        """The community's own rule set (None: the global set prices it)."""
        current = self.pricer.own_rules(community_id)
        if self._fresh(community_id):
            return current
        version = self.store.rules_version(community_id)
        self._checked_at[community_id] = self.timer()
        if current is not None and current.version == version:
            return current
        stored = self.store.get_rules(community_id) if version else None
        if stored is None:
            if current is not None:  # cleared by another process (else keep the cache)
                self.pricer.set_own_rules(community_id, None)
            return None
        try:
            own = parse_rules(stored, version=int(stored["version"]))
        except InvalidRules as exc:
            log.error(
                "stored rules of %s are invalid, keeping the active ones: %s", community_id, exc
            )
            return current
        self.pricer.set_own_rules(community_id, own)
        return own

    def activate(
        self,
        rules: RuleSet | Mapping[str, Any],
        community_id: str | None = None,
        *,
        by: str | None = None,
        restores: int | None = None,
    ) -> RuleSet:
        """Validate, version and activate a rule set at once (no restart): the global set,
        or ``community_id``'s own. ``by`` names who did it; ``restores`` the version rolled
        back to."""
        active = self._store(rules, community_id, by, restores)
        event: dict[str, Any] = {"version": active.version, "name": active.name, "by": by}
        if restores is not None:
            event["restores"] = restores
        self._emit(community_id or GLOBAL, "rules.activated", str(active.version), event)
        return active

    def _store(
        self,
        rules: RuleSet | Mapping[str, Any],
        community_id: str | None,
        by: str | None,
        restores: int | None,
    ) -> RuleSet:
        data = rules_to_dict(rules) if isinstance(rules, RuleSet) else dict(unwrap_rules(rules))
        data.pop("version", None)
        candidate = parse_rules(data)  # raises InvalidRules with every problem listed
        now = self.clock.now()
        meta: dict[str, Any] = {
            "by": by,
            "at": now,
            "name": candidate.name,
            "hash": rules_hash(candidate),
        }
        if restores is not None:
            meta["restores"] = restores
        version = self.store.put_rules(data, community_id, meta)
        active = parse_rules(data, version=version)
        scope = community_id or GLOBAL
        if community_id is None:
            self.pricer.set_rules(active)
        else:
            self.pricer.set_own_rules(community_id, active)
        self._checked_at[scope] = self.timer()
        return active

    def history(self, community_id: str | None = None) -> list[dict[str, Any]]:
        """Every activation of the scope, newest first, without the rules themselves;
        ``active`` marks the one in force."""
        current = self.store.rules_version(community_id)
        out = []
        for entry in self.store.rules_history(community_id):
            item = {k: v for k, v in entry.items() if k != "data"}
            item["active"] = entry["version"] == current
            out.append(item)
        return out

    def version(self, version: int, community_id: str | None = None) -> dict[str, Any]:
        """One activation of the scope with its rules (``NotFound`` if it has no such one)."""
        for entry in self.store.rules_history(community_id):
            if entry["version"] == version:
                return entry
        where = f"community {community_id}" if community_id else "the global rules"
        raise NotFound(f"{where} have no version {version}")

    def rollback(
        self, version: int, community_id: str | None = None, *, by: str | None = None
    ) -> RuleSet:
        """Activate an earlier version's rules again, as a new version."""
        entry = self.version(version, community_id)
        return self.activate(entry["data"], community_id, by=by, restores=version)

    def clear(self, community_id: str, *, by: str | None = None) -> bool:
        """Drop the community's own set: the global one prices it again."""
        cleared = self.store.clear_rules(community_id)
        self.pricer.set_own_rules(community_id, None)
        self._checked_at[community_id] = self.timer()
        if cleared:
            self._emit(community_id, "rules.cleared", community_id, {"by": by})
        return cleared

    def _emit(self, community_id: str, type: str, entity_id: str, data: Mapping[str, Any]) -> None:
        event = new_event(self.clock.now(), community_id, type, entity_id, dict(data))
        self.store.append_events([event])
