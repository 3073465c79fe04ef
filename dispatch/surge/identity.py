"""What names a rule set across files, runs and reports: its name, content hash and version.

Two files with the same rules hash alike whatever their version, time stamp,
key order or number formatting, so a report can say which rule set it ran even
when both were called "default". ``unwrap_rules`` lets every reader take the
JSON that ``GET /v1/surge/rules`` returns (``{"version": .., "rules": {..}}``)
as well as a bare rule table.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from dispatch.surge._envelope import unwrap_rules
from dispatch.surge.rules import RuleSet, rules_to_dict

__all__ = ["rule_changes", "rules_hash", "rules_identity", "unwrap_rules"]

#: Fields that say when or as what a set was activated, not what it does.
_BOOKKEEPING = frozenset({"version", "updated_at"})


def rules_hash(rules: RuleSet) -> str:
    """A short SHA-256 of the rules' content (version and activation time left out)."""
    data = {k: v for k, v in rules_to_dict(rules).items() if k not in _BOOKKEEPING}
    text = json.dumps(data, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def rules_identity(rules: RuleSet) -> dict[str, Any]:
    """``{"name", "hash", "version"}`` of a rule set, for KPIs and reports."""
    return {"name": rules.name, "hash": rules_hash(rules), "version": rules.version}


def rule_changes(before: RuleSet, after: RuleSet) -> list[str]:
    """The paths whose values differ between two rule sets (``services.takeout.cap``;
    lists such as curves and overrides compare whole), bookkeeping left out."""
    out: list[str] = []

    def walk(a: Any, b: Any, path: str) -> None:
        if isinstance(a, dict) and isinstance(b, dict):
            for key in sorted(set(a) | set(b)):
                if not path and key in _BOOKKEEPING:
                    continue
                walk(a.get(key), b.get(key), f"{path}.{key}" if path else str(key))
        elif a != b:
            out.append(path)

    walk(rules_to_dict(before), rules_to_dict(after), "")
    return out
