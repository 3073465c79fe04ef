"""The API's rule envelope (``{"version": .., "rules": {..}}``) unwrapped for every reader."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

#: Keys of the API's rule envelope (GET /v1/surge/rules and its versions).
ENVELOPE_KEYS = frozenset({"version", "rules", "community_id", "scope", "activated_at", "by"})


def unwrap_rules(data: Mapping[str, Any]) -> Mapping[str, Any]:
    """The rule table of an API envelope, or ``data`` itself when it is a bare table.

    Unambiguous: ``rules`` is no field of a rule table.
    """
    inner = data.get("rules")
    if isinstance(inner, Mapping) and set(data) <= ENVELOPE_KEYS:
        if "version" in data and "version" not in inner:
            return {**inner, "version": data["version"]}
        return inner
    return data
