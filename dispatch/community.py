"""The one specification of a community: its defaults and limits, checked in one place.

The API's request schema, scenario files and the engine all build a
``CommunitySpec``; its limits table feeds the pydantic schemas at the edge
(so OpenAPI shows them) and ``CommunitySpec`` checks them again itself, so a
community made in code obeys the same rules as one posted over HTTP.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, fields
from typing import Any

from dispatch.errors import InvalidInput
from dispatch.model import LatLng

__all__ = [
    "COMMUNITY_LIMITS",
    "SKILL_PATTERN",
    "CommunitySpec",
    "Range",
    "check_skills",
    "community_default",
]


@dataclass(frozen=True)
class Range:
    """A closed range, or one open at its low end (``low_open``)."""

    low: float
    high: float
    low_open: bool = False

    def contains(self, value: float) -> bool:
        if not math.isfinite(value):
            return False
        above = value > self.low if self.low_open else value >= self.low
        return above and value <= self.high

    def describe(self) -> str:
        return f"{'(' if self.low_open else '['}{self.low:g}, {self.high:g}]"

    def pydantic(self) -> dict[str, float]:
        """The bounds as pydantic ``Field`` keyword arguments."""
        return {"gt" if self.low_open else "ge": self.low, "le": self.high}


#: Limits of every numeric field of a community.
COMMUNITY_LIMITS: dict[str, Range] = {
    "radius_m": Range(100, 30_000),  # up to a city-wide service zone, 60 km across
    "h3_resolution": Range(6, 11),
    "delivery_sla_min": Range(0, 24 * 60, low_open=True),
    "emergency_sla_min": Range(0, 24 * 60, low_open=True),
    "dispatch_interval_s": Range(1, 3600),
    "solver_budget_s": Range(0, 60, low_open=True),
    "max_orders_per_trip": Range(1, 20),
}

_INTEGER_FIELDS = ("h3_resolution", "max_orders_per_trip")

#: A skill name: lower-case words joined by underscores, as jobs and technicians spell it.
SKILL_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
MAX_SKILLS = 100


def check_skills(skills: frozenset[str]) -> None:
    """Raise ``InvalidInput`` naming the first malformed skill of a catalogue."""
    if not 1 <= len(skills) <= MAX_SKILLS:
        raise InvalidInput(f"a skills catalogue holds 1-{MAX_SKILLS} skills, got {len(skills)}")
    for skill in sorted(skills):
        if not isinstance(skill, str) or not SKILL_PATTERN.match(skill):
            raise InvalidInput(
                f"skill {skill!r} must be lower-case letters, digits and underscores "
                "(1-40 characters, starting with a letter)"
            )


@dataclass(frozen=True)
class CommunitySpec:
    """What defines a community; raises ``InvalidInput`` naming the field it refuses.

    radius_m: the geofence around ``center`` (metres).
    h3_resolution: the grid workers and surge live on.
    delivery_sla_min / emergency_sla_min: the delivery promise and the emergency
        answer time, minutes.
    dispatch_interval_s: seconds between two ticks (the batching window).
    solver_budget_s: wall time one tick may spend building, solving and committing.
    max_orders_per_trip / single_merchant_trips: the bundling rule.
    skills: the skills catalogue jobs and technicians may name (None: keep the
        community's, or the product's home services for a new one).
    """

    id: str
    name: str
    center: LatLng
    radius_m: float = 3000.0
    h3_resolution: int = 9
    delivery_sla_min: float = 30.0
    emergency_sla_min: float = 30.0
    dispatch_interval_s: float = 10.0
    solver_budget_s: float = 2.0
    max_orders_per_trip: int = 3
    single_merchant_trips: bool = False
    skills: frozenset[str] | None = None

    def __post_init__(self) -> None:
        if self.skills is not None:
            check_skills(self.skills)
        if not isinstance(self.id, str) or not 1 <= len(self.id) <= 64:
            raise InvalidInput("community id must be 1-64 characters")
        if not isinstance(self.name, str) or len(self.name) > 200:
            raise InvalidInput("community name must be a string of at most 200 characters")
        for name, limits in COMMUNITY_LIMITS.items():
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise InvalidInput(f"{name} must be a number")
            if name in _INTEGER_FIELDS and int(value) != value:
                raise InvalidInput(f"{name} must be a whole number")
            if not limits.contains(float(value)):
                raise InvalidInput(f"{name} must lie in {limits.describe()}, got {value!r}")


def community_default(name: str) -> Any:
    """The default of a ``CommunitySpec`` field (for schemas at the edge)."""
    for f in fields(CommunitySpec):
        if f.name == name:
            return f.default
    raise KeyError(name)
