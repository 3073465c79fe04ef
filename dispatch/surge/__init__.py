"""Surge pricing: rule sets, the per-cell surge field, and quotes that explain themselves.

Pure and deterministic: callers pass demand and supply per H3 cell, the time
and the previous state; nothing here reads a clock or a store.
"""

from dispatch.surge._validate import InvalidRules
from dispatch.surge.field import (
    CellState,
    CellSurge,
    Neighbours,
    ServiceSurge,
    SurgeSnapshot,
    SurgeState,
    backtest,
    preview,
    update_surge,
)
from dispatch.surge.identity import rule_changes, rules_hash, rules_identity, unwrap_rules
from dispatch.surge.pricing import PriceBreakdown, base_price, cents, price_quote
from dispatch.surge.rules import (
    MAX_CAP,
    WEEKDAYS,
    Curve,
    EffectiveRule,
    Pricing,
    RuleSet,
    ServiceRule,
    TimeOverride,
    default_rules,
    load_rules,
    parse_rules,
    rules_to_dict,
    with_version,
)

__all__ = [
    "MAX_CAP",
    "WEEKDAYS",
    "CellState",
    "CellSurge",
    "Curve",
    "EffectiveRule",
    "InvalidRules",
    "Neighbours",
    "PriceBreakdown",
    "Pricing",
    "RuleSet",
    "ServiceRule",
    "ServiceSurge",
    "SurgeSnapshot",
    "SurgeState",
    "TimeOverride",
    "backtest",
    "base_price",
    "cents",
    "default_rules",
    "load_rules",
    "parse_rules",
    "preview",
    "price_quote",
    "rule_changes",
    "rules_hash",
    "rules_identity",
    "rules_to_dict",
    "unwrap_rules",
    "update_surge",
    "with_version",
]
