"""The active surge rule set: shared through the store, validated, versioned, hot-swapped."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

from dispatch.pricing import Pricer
from dispatch.store.base import Store
from dispatch.surge import InvalidRules, RuleSet, parse_rules, rules_to_dict

__all__ = ["RuleBook"]

log = logging.getLogger(__name__)


class RuleBook:
    """Keeps the pricer's rules in step with the store's (another process may change them)."""

    def __init__(
        self,
        store: Store,
        pricer: Pricer,
        *,
        recheck_s: float = 0.0,
        timer: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.pricer = pricer
        self.recheck_s = recheck_s
        self.timer = timer
        self._checked_at: float | None = None

    def active(self) -> RuleSet:
        """The store's active rule set (its first use stores the shipped rules).

        Per request this reads the version only, and with ``recheck_s`` not even
        that more often than every ``recheck_s`` seconds (a rule set another
        process activates reaches this one within that time); the rule set itself
        is read again when another process activated a new one.
        """
        now = self.timer()
        if self._checked_at is not None and now - self._checked_at < self.recheck_s:
            return self.pricer.rules
        version = self.store.rules_version()
        self._checked_at = now
        if version and version == self.pricer.rules.version:
            return self.pricer.rules
        stored = self.store.get_rules()
        if stored is None:
            data = rules_to_dict(self.pricer.rules)
            data.pop("version", None)
            self.store.put_rules(data)
            stored = self.store.get_rules()
            assert stored is not None
        version = int(stored.get("version", 0))
        if version != self.pricer.rules.version:
            try:
                self.pricer.set_rules(parse_rules(stored, version=version))
            except InvalidRules as exc:
                log.error(
                    "stored surge rules v%s are invalid, keeping the active ones: %s", version, exc
                )
        return self.pricer.rules

    def activate(self, rules: RuleSet | Mapping[str, Any]) -> RuleSet:
        """Validate, version and activate a rule set at once (no restart)."""
        data = rules_to_dict(rules) if isinstance(rules, RuleSet) else dict(rules)
        data.pop("version", None)
        parse_rules(data)  # raises InvalidRules with every problem listed
        version = self.store.put_rules(data)
        active = parse_rules(data, version=version)
        self.pricer.set_rules(active)
        self._checked_at = self.timer()
        return active
