"""Quotes: base prices, multipliers from the surge field, rounding, explanations."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import pytest

from dispatch.errors import InvalidInput
from dispatch.model import Price, ServiceType
from dispatch.surge import (
    RuleSet,
    base_price,
    cents,
    parse_rules,
    preview,
    price_quote,
    update_surge,
)

T0 = 1_767_225_600.0  # 2026-01-01T00:00:00Z = 08:00 at UTC+8
TAKEOUT, PLUMBING = ServiceType.TAKEOUT, ServiceType.PLUMBING


def ring(cell: int, k: int) -> Sequence[int]:
    return sorted({(cell + d) % 10 for d in range(-k, k + 1)})


def rules(version: int = 4, **top: Any) -> RuleSet:
    """Deliveries 5 + 1.5/km (at least 6); plumbing 50 + 90/h, at least one hour."""
    pricing: dict[str, Any] = {s.value: {"base_fee": 5.0, "per_km": 1.5} for s in ServiceType}
    pricing["takeout"]["min_total"] = 6.0
    pricing["plumbing"] = {"base_fee": 50.0, "per_hour": 90.0, "min_hours": 1.0}
    data: dict[str, Any] = {
        "name": "pricing-test",
        "utc_offset_min": 480,
        "default": {"curve": [[0, 1.0], [1, 1.0], [3, 2.0]], "floor": 1.0, "cap": 2.0},
        "pricing": pricing,
        "overrides": [{"name": "lunch", "start_hour": 11, "end_hour": 13, "cap": 1.5}],
    }
    data.update(top)
    return parse_rules(data, version=version)


def test_cents_round_half_up() -> None:
    """Money rounds half-up to cents, unlike binary round()."""
    assert cents(2.675) == 2.68 and cents(0.125) == 0.13 and cents(1.004) == 1.0
    assert round(2.675, 2) == 2.67  # why cents() exists


def test_delivery_base_price_by_distance_with_minimum() -> None:
    """5 + 1.5 × 2.4 km = 8.60; a 100 m trip pays the 6.00 minimum."""
    r = rules()
    base, info = base_price(r, TAKEOUT, 2400.0)
    assert base == 8.6 and info["distance_km"] == 2.4 and not info["min_total_applied"]
    short, info = base_price(r, TAKEOUT, 100.0)
    assert short == 6.0 and info["min_total_applied"]


def test_technician_base_price_by_duration_with_minimum_hours() -> None:
    """Plumbing: 50 + 90/h, billed for at least an hour."""
    r = rules()
    assert base_price(r, PLUMBING, 0.0, 2.5 * 3600)[0] == 275.0
    assert base_price(r, PLUMBING, 0.0, 20 * 60)[0] == 140.0
    assert base_price(r, PLUMBING, 0.0, None)[0] == 140.0


@pytest.mark.parametrize(("distance", "duration"), [(math.nan, None), (-1.0, None), (1.0, -5.0)])
def test_bad_distance_or_duration_is_invalid_input(distance: float, duration: float | None) -> None:
    """Distances and durations must be finite and non-negative."""
    snap = preview(rules(), {}, {}, T0, ring)
    with pytest.raises(InvalidInput):
        price_quote(rules(), snap, TAKEOUT, 1, distance, T0, duration)


def test_quote_multiplies_base_by_the_cell_multiplier() -> None:
    """Total = base × multiplier (two decimals), rounded to cents; the version is named."""
    r = rules()
    snap = preview(r, {3: 4.0}, {3: 1.5}, T0, ring)  # ring sums: ratio 4 / 1.5
    q = price_quote(r, snap, TAKEOUT, 3, 2400.0, T0)
    m = snap.multiplier(3, TAKEOUT)
    assert 1.0 < m < 2.0
    assert q.multiplier == round(m, 2) and q.total == cents(8.6 * q.multiplier)
    assert q.rule_version == 4 and q.explanation["rule_version"] == 4
    assert q.to_price() == Price(q.base, q.multiplier, q.total, 4, "CNY")


def test_explanation_contains_the_reasons() -> None:
    """The explanation names cell, demand, supply, ratios, curve segment, limits and flags."""
    r = rules()
    _, state = update_surge(r, None, {}, {3: 1.0}, T0, ring)
    snap, _ = update_surge(r, state, {3: 9.0}, {3: 1.0}, T0 + 120, ring)
    e = price_quote(r, snap, TAKEOUT, 3, 1000.0, T0 + 120).explanation
    for key in (
        "cell",
        "demand",
        "supply",
        "ratio",
        "smoothed_ratio",
        "curve_segment",
        "curve_value",
        "target",
        "override",
        "floor",
        "cap",
        "clamped",
        "rate_limited",
        "emergency_exempt",
        "rule_version",
        "base",
    ):
        assert key in e, key
    assert e["cell"] == "3" and e["in_field"] and e["demand"] == 9.0 and e["supply"] == 1.0
    assert e["ratio"] == 9.0 and 0 < e["smoothed_ratio"] < 9.0
    assert e["rate_limited"] is True  # two minutes at 0.2/min cannot reach 2.0
    assert e["curve_segment"] in ([[1.0, 1.0], [3.0, 2.0]], [[3.0, 2.0], [3.0, 2.0]])
    assert (e["floor"], e["cap"], e["override"]) == (1.0, 2.0, None)


def test_cell_outside_the_field_gets_the_neutral_multiplier() -> None:
    """A cell the snapshot does not hold is priced at the floor and says so."""
    r = rules()
    snap = preview(r, {3: 9.0}, {}, T0, ring)
    q = price_quote(r, snap, TAKEOUT, 7, 2400.0, T0)
    assert q.multiplier == 1.0 and q.total == 8.6
    assert not q.explanation["in_field"] and q.explanation["demand"] == 0.0


def test_override_name_and_cap_show_in_lunch_hours_only() -> None:
    """12:00 local: the lunch cap 1.5 applies and is named; 15:00: the plain cap 2.0."""
    r = rules()
    noon, afternoon = T0 + 4 * 3600, T0 + 7 * 3600
    at_noon = price_quote(r, preview(r, {3: 50.0}, {}, noon, ring), TAKEOUT, 3, 0.0, noon)
    later = price_quote(r, preview(r, {3: 50.0}, {}, afternoon, ring), TAKEOUT, 3, 0.0, afternoon)
    assert (at_noon.multiplier, at_noon.explanation["override"]) == (1.5, "lunch")
    assert at_noon.explanation["clamped"] == "cap"
    assert (later.multiplier, later.explanation["override"]) == (2.0, None)


def test_emergencies_are_not_surged_unless_the_rule_says_so() -> None:
    """An emergency plumbing job pays base × 1.0 in a surging cell; emergency_surge opts in."""
    r = rules()
    snap = preview(r, {3: 50.0}, {}, T0, ring)
    normal = price_quote(r, snap, PLUMBING, 3, 0.0, T0, 3600.0)
    urgent = price_quote(r, snap, PLUMBING, 3, 0.0, T0, 3600.0, emergency=True)
    assert normal.multiplier == 2.0 and urgent.multiplier == 1.0 and urgent.total == 140.0
    assert urgent.explanation["emergency_exempt"] and not normal.explanation["emergency_exempt"]
    opted = rules(services={"plumbing": {"emergency_surge": True}})
    snap2 = preview(opted, {3: 50.0}, {}, T0, ring)
    surged = price_quote(opted, snap2, PLUMBING, 3, 0.0, T0, 3600.0, emergency=True)
    assert surged.multiplier == 2.0 and not surged.explanation["emergency_exempt"]


def test_a_snapshot_older_than_the_rules_never_breaks_the_new_cap() -> None:
    """Rules activated after the snapshot: the quote keeps within the new cap."""
    old = rules(version=4)
    snap = preview(old, {3: 50.0}, {}, T0, ring)
    new = rules(version=5, services={"takeout": {"cap": 1.3}})
    q = price_quote(new, snap, TAKEOUT, 3, 2400.0, T0)
    assert q.multiplier == 1.3 and q.rule_version == 5
    assert q.explanation["snapshot_rule_version"] == 4
