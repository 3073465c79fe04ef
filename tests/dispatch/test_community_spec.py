"""One community specification: its defaults and limits, enforced wherever it is built."""

from __future__ import annotations

import dataclasses

import pytest

from dispatch import COMMUNITY_LIMITS, CommunitySpec, InvalidInput
from dispatch.community import community_default
from tests.dispatch.conftest import CENTER


def test_defaults_are_the_documented_ones() -> None:
    """A spec without options dispatches every 10 s with a 2 s budget, 3 km, 30 min."""
    spec = CommunitySpec("c1", "Riverside", CENTER)
    assert (spec.dispatch_interval_s, spec.solver_budget_s) == (10.0, 2.0)
    assert (spec.radius_m, spec.delivery_sla_min, spec.max_orders_per_trip) == (3000.0, 30.0, 3)
    assert community_default("solver_budget_s") == 2.0
    with pytest.raises(KeyError):
        community_default("nope")


@pytest.mark.parametrize("name", sorted(COMMUNITY_LIMITS))
def test_each_limit_is_enforced_naming_the_field(name: str) -> None:
    """A value just past either end of a field's range is refused, naming that field."""
    limits = COMMUNITY_LIMITS[name]
    spec = CommunitySpec("c1", "Riverside", CENTER)
    for bad in (limits.low - 1 if not limits.low_open else limits.low, limits.high + 1):
        with pytest.raises(InvalidInput, match=name):
            dataclasses.replace(spec, **{name: bad})
    dataclasses.replace(spec, **{name: limits.high})  # the top is allowed


@pytest.mark.parametrize(
    ("field", "value"),
    [("radius_m", float("nan")), ("h3_resolution", 9.5), ("max_orders_per_trip", True)],
)
def test_non_numbers_and_fractions_are_refused(field: str, value: object) -> None:
    """NaN, fractional whole-number fields and booleans are not numbers a spec takes."""
    with pytest.raises(InvalidInput, match=field):
        CommunitySpec("c1", "Riverside", CENTER, **{field: value})  # type: ignore[arg-type]


@pytest.mark.parametrize("cid", ["", "x" * 65])
def test_ids_are_bounded(cid: str) -> None:
    """Community ids are 1-64 characters."""
    with pytest.raises(InvalidInput, match="id"):
        CommunitySpec(cid, "Riverside", CENTER)


def test_pydantic_bounds_mirror_the_limits() -> None:
    """The edge's schema bounds come from the same table (open low ends become gt)."""
    assert COMMUNITY_LIMITS["solver_budget_s"].pydantic() == {"gt": 0, "le": 60}
    assert COMMUNITY_LIMITS["radius_m"].pydantic() == {"ge": 100, "le": 30_000}
