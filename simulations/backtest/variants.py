"""The rule sets a backtest compares, each named for the report."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dispatch.errors import InvalidInput
from dispatch.surge import RuleSet, load_rules, parse_rules, rules_identity, rules_to_dict


@dataclass(frozen=True)
class Variant:
    """One rule set under test: a unique name, its data and its identity (name, hash, version)."""

    name: str
    rules: Mapping[str, Any]
    source: str = ""
    identity: Mapping[str, Any] = field(default_factory=dict)

    def rule_set(self) -> RuleSet:
        return parse_rules(self.rules)


def variant_of(rules: RuleSet, name: str | None = None, source: str = "") -> Variant:
    return Variant(name or rules.name, rules_to_dict(rules), source, rules_identity(rules))


def load_variants(paths: Sequence[str | Path]) -> tuple[Variant, ...]:
    """Read rule files (TOML, JSON, or the JSON GET /v1/surge/rules returns).

    Each variant is named by its rule set's name; a name used twice gets its
    file's name added, then a number.
    """
    if not paths:
        raise InvalidInput("name at least one rule set (--rules FILE)")
    out: list[Variant] = []
    used: set[str] = set()
    for path in paths:
        rules = load_rules(path)
        name = rules.name
        if name in used:
            name = f"{rules.name} ({Path(path).stem})"
        n = 2
        while name in used:
            name, n = f"{rules.name} ({Path(path).stem} {n})", n + 1
        used.add(name)
        out.append(variant_of(rules, name, str(path)))
    return tuple(out)
