"""Response bodies of the surge rules' history: who activated which version, and when."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pydantic import Field

from api.schemas._common import Out, to_time


class RuleVersionOut(Out):
    """One activation of a rule set."""

    version: int = Field(description="The version this activation gave the rule set.")
    name: str | None = Field(default=None, description="The rule set's own name.")
    hash: str | None = Field(default=None, description="Short SHA-256 of the rules' content.")
    by: str | None = Field(default=None, description="The API key's label that activated it.")
    at: datetime | None = Field(default=None, description="When it was activated.")
    restores: int | None = Field(
        default=None, description="The earlier version this rollback activated again."
    )
    active: bool = Field(default=False, description="In force now.")

    @classmethod
    def of(cls, entry: Mapping[str, Any]) -> RuleVersionOut:
        at = entry.get("at")
        return cls(
            version=int(entry["version"]),
            name=entry.get("name"),
            hash=entry.get("hash"),
            by=entry.get("by"),
            at=to_time(float(at)) if isinstance(at, int | float) else None,
            restores=entry.get("restores"),
            active=bool(entry.get("active", False)),
        )


class RuleVersionsOut(Out):
    """Every activation of the global set or of one community's own set, newest first."""

    community_id: str | None = Field(
        default=None, description="Whose history (null: the global set's)."
    )
    versions: list[RuleVersionOut] = Field(description="Every activation, newest first.")


class RuleVersionDetailOut(RuleVersionOut):
    """One activation with its rules."""

    community_id: str | None = Field(
        default=None, description="The community whose own set this is (null: the global set)."
    )
    rules: dict[str, Any] = Field(description="The rule set as it was activated.")
