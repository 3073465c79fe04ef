"""Surge rule sets: curves, validation with field paths, files, round trips, overrides."""

from __future__ import annotations

import copy
import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from dispatch.errors import InvalidInput
from dispatch.model import ServiceType
from dispatch.surge import (
    Curve,
    InvalidRules,
    TimeOverride,
    default_rules,
    load_rules,
    parse_rules,
    rules_to_dict,
    with_version,
)

T0 = 1_767_225_600.0  # 2026-01-01T00:00:00Z, a Thursday
HOUR = 3600.0


def base() -> dict[str, Any]:
    """A small valid rule set as data."""
    return {
        "name": "test",
        "utc_offset_min": 0,
        "default": {"curve": [[0, 1.0], [1, 1.0], [2, 2.0], [3, 3.0]], "floor": 1.0, "cap": 3.0},
        "services": {"takeout": {"cap": 2.5}},
        "overrides": [],
        "pricing": {s.value: {"base_fee": 5.0, "per_km": 1.0} for s in ServiceType},
    }


def test_curve_interpolates_between_points_and_clamps_at_the_ends() -> None:
    """Linear between points, flat before the first and after the last point."""
    c = Curve(((1.0, 1.0), (2.0, 1.5), (3.0, 2.5)))
    assert c.at(0.0) == 1.0 and c.at(1.0) == 1.0
    assert c.at(1.5) == pytest.approx(1.25) and c.at(2.5) == pytest.approx(2.0)
    assert c.at(3.0) == 2.5 and c.at(50.0) == 2.5


def test_curve_locate_names_the_segment_used() -> None:
    """locate() returns the points around the ratio (one point twice when clamped)."""
    c = Curve(((0.0, 1.0), (2.0, 2.0), (4.0, 3.0)))
    assert c.locate(3.0) == (2.5, (2.0, 2.0), (4.0, 3.0))
    assert c.locate(9.0) == (3.0, (4.0, 3.0), (4.0, 3.0))
    assert Curve(((1.0, 1.4),)).at(7.0) == 1.4


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    """A patch that sets a dotted path ("services.takeout.cap") in rule data."""

    def patch(d: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node = d
        for key in parents:
            node = node[int(key)] if isinstance(node, list) else node.setdefault(key, {})
        if isinstance(node, list):
            node[int(last)] = value
        else:
            node[last] = value

    return patch


def _override(**fields: Any) -> Callable[[dict[str, Any]], None]:
    def patch(d: dict[str, Any]) -> None:
        d["overrides"].append({"name": "o", "start_hour": 11, "end_hour": 13, **fields})

    return patch


def _drop_pricing(d: dict[str, Any]) -> None:
    del d["pricing"]["repair"]


@pytest.mark.parametrize(
    ("patch", "loc", "fragment"),
    [
        (
            _set("services.takeout.curve", [[0, 1], [2, 1.5], [1.5, 1.6]]),
            "services.takeout.curve[2]",
            "x must increase",
        ),
        (
            _set("default.curve", [[0, 1.5], [1, 1.2]]),
            "default.curve[1]",
            "multiplier must not decrease",
        ),
        (_set("services.grocery.curve", [[0, math.nan]]), "services.grocery.curve[0]", "finite"),
        (_set("default.curve", [[math.inf, 1.0]]), "default.curve[0]", "finite"),
        (_set("default.curve", []), "default.curve", "1 to 64"),
        (_set("services.takeout.cap", math.nan), "services.takeout.cap", "finite"),
        (_set("services.takeout.floor", 2.8), "services.takeout.cap", "at least the floor"),
        (_set("default.floor", 0.8), "default.floor", "allow_discounts"),
        (_set("services.teleport", {"cap": 2.0}), "services.teleport", "unknown service type"),
        (_set("pricing.teleport", {"base_fee": 1.0}), "pricing.teleport", "unknown service"),
        (_drop_pricing, "pricing", "missing prices for repair"),
        (_set("pricing.takeout.per_km", -1.0), "pricing.takeout.per_km", "at least 0"),
        (_override(start_hour=25), "overrides[0].start_hour", "less than 24"),
        (_override(end_hour=-1), "overrides[0].end_hour", "at least 0"),
        (_override(end_hour=11), "overrides[0].end_hour", "differ from start_hour"),
        (_override(weekdays=["mon", "funday"]), "overrides[0].weekdays", "unknown funday"),
        (_override(services=["teleport"]), "overrides[0].services", "unknown teleport"),
        (_override(cap=0.9), "overrides[0].cap", "below the floor"),
        (_override(scale=0), "overrides[0].scale", "greater than 0"),
        (_set("k_ring", 1.5), "k_ring", "integer"),
        (_set("ewma_half_life_s", 0), "ewma_half_life_s", "greater than 0"),
        (_set("max_change_per_min", math.inf), "max_change_per_min", "finite"),
        (_set("utc_offset_min", 900), "utc_offset_min", "[-720, 840]"),
        (_set("allow_discounts", "yes"), "allow_discounts", "true or false"),
        (_set("min_supply", True), "min_supply", "number"),
        (_set("colour", "red"), "colour", "unknown field"),
        (_set("default.flor", 1.0), "default.flor", "unknown field"),
    ],
)
def test_invalid_rules_name_the_field_path(
    patch: Callable[[dict[str, Any]], None], loc: str, fragment: str
) -> None:
    """Each problem is an InvalidInput whose message starts with the field path."""
    data = base()
    patch(data)
    with pytest.raises(InvalidRules) as info:
        parse_rules(data)
    assert isinstance(info.value, InvalidInput) and isinstance(info.value, ValueError)
    assert any(m.startswith(f"{loc}: ") and fragment in m for m in info.value.messages), (
        info.value.messages
    )
    assert f"{loc}: " in str(info.value)


def test_every_problem_is_reported_at_once_with_structured_locations() -> None:
    """Three independent mistakes give three errors, each with a loc list and a msg."""
    data = base()
    data["default"]["cap"] = math.nan
    data["services"]["medicine"] = {"curve": [[1, 1.0], [0, 1.2]]}
    data["overrides"].append({"name": "x", "start_hour": 30, "end_hour": 2})
    with pytest.raises(InvalidRules) as info:
        parse_rules(data)
    locs = [e["loc"] for e in info.value.errors]
    assert ["default", "cap"] in locs
    assert ["services", "medicine", "curve", 1] in locs
    assert ["overrides", 0, "start_hour"] in locs
    assert all(isinstance(e["msg"], str) and e["msg"] for e in info.value.errors)


def test_duplicate_override_names_are_refused() -> None:
    """Quotes name the override used, so names must be unique."""
    data = base()
    data["overrides"] = [{"name": "peak", "start_hour": 11, "end_hour": 13}] * 2
    with pytest.raises(InvalidRules, match=r"overrides\[1\]\.name"):
        parse_rules(data)


def test_discounts_allow_floors_below_one_but_above_zero() -> None:
    """With allow_discounts a floor of 0.8 is fine, a floor of 0 never is."""
    data = base()
    data["allow_discounts"] = True
    data["default"]["floor"] = 0.8
    assert parse_rules(data).default.floor == 0.8
    data["default"]["floor"] = 0.0
    with pytest.raises(InvalidRules, match=r"default\.floor: must be greater than 0"):
        parse_rules(data)


def test_rules_that_are_not_a_table_are_refused() -> None:
    """A list at the top level is an InvalidRules, not a crash."""
    with pytest.raises(InvalidRules, match="must be a table"):
        parse_rules([1, 2])  # type: ignore[arg-type]


def test_services_inherit_missing_fields_from_the_default_rule() -> None:
    """A service table that sets only its cap keeps the default curve and floor."""
    rules = parse_rules(base())
    takeout = rules.rule(ServiceType.TAKEOUT)
    assert takeout.cap == 2.5 and takeout.curve == rules.default.curve
    assert rules.rule(ServiceType.PLUMBING) is rules.default


def test_rules_round_trip_through_dict_and_json() -> None:
    """rules_to_dict → JSON → parse_rules gives back an equal rule set."""
    rules = with_version(default_rules(), 7, T0)
    data = json.loads(json.dumps(rules_to_dict(rules)))
    assert parse_rules(data) == rules
    assert parse_rules(data, version=9).version == 9


def test_load_rules_reads_toml_and_json(tmp_path: Path) -> None:
    """Both file formats load into the same rule set."""
    toml = tmp_path / "r.toml"
    toml.write_text(
        'name = "file"\n'
        "utc_offset_min = 60\n"
        "[default]\ncurve = [[0, 1.0], [2, 2.0]]\ncap = 2.0\n"
        "[[overrides]]\n"
        'name = "night"\nstart_hour = 22\nend_hour = 6\nweekdays = ["fri", "sat"]\ncap = 1.5\n'
        + "".join(f"[pricing.{s.value}]\nbase_fee = 4\n" for s in ServiceType)
    )
    from_toml = load_rules(toml)
    assert from_toml.name == "file" and from_toml.default.cap == 2.0
    assert from_toml.overrides[0].weekdays == frozenset({4, 5})
    js = tmp_path / "r.json"
    js.write_text(json.dumps(rules_to_dict(from_toml)))
    assert load_rules(js) == from_toml


def test_load_rules_reports_unreadable_files(tmp_path: Path) -> None:
    """Wrong suffix, bad syntax and a missing file are InvalidInput with the file named."""
    bad = tmp_path / "r.toml"
    bad.write_text("name = \n")
    with pytest.raises(InvalidInput, match=r"r\.toml is not valid TOML"):
        load_rules(bad)
    with pytest.raises(InvalidInput, match=r"\.toml or \.json"):
        load_rules(tmp_path / "r.yaml")
    with pytest.raises(InvalidInput, match="cannot read"):
        load_rules(tmp_path / "missing.json")


def test_default_rules_are_valid_and_sensible() -> None:
    """The shipped file parses, prices every service and never surges emergencies."""
    rules = default_rules()
    assert rules.version == 0 and set(rules.pricing) == set(ServiceType)
    for s in ServiceType:
        rule = rules.rule(s)
        assert 1.0 <= rule.floor <= rule.cap <= 3.0
        assert not rule.emergency_surge
    assert rules.rule(ServiceType.MEDICINE).cap < rules.rule(ServiceType.TAKEOUT).cap
    assert {o.name for o in rules.overrides} >= {"lunch-peak", "dinner-peak", "late-night"}
    two_am = T0 + 18 * HOUR  # 02:00 on Friday at UTC+8
    for s in ServiceType:
        eff = rules.effective(s, two_am)
        assert eff.cap <= min(rules.rule(s).cap, 1.5), s  # night never raises a cap


def test_local_time_uses_the_utc_offset() -> None:
    """Epoch 2026-01-01T00:00Z at UTC+8 is 08:00 on a Thursday (weekday 3)."""
    data = base()
    data["utc_offset_min"] = 480
    assert parse_rules(data).local_time(T0) == (8.0, 3)
    data["utc_offset_min"] = -60
    assert parse_rules(data).local_time(T0) == (23.0, 2)


def test_override_applies_only_in_its_hours_services_and_days() -> None:
    """Hours are [start, end); services and weekdays filter; None means all."""
    o = TimeOverride("lunch", 11.0, 13.5, frozenset({0, 1}), frozenset({ServiceType.TAKEOUT}))
    t = ServiceType.TAKEOUT
    assert o.applies(11.0, 0, t) and o.applies(13.4, 1, t)
    assert not o.applies(10.99, 0, t) and not o.applies(13.5, 0, t)
    assert not o.applies(12.0, 2, t) and not o.applies(12.0, 0, ServiceType.GROCERY)


def test_override_past_midnight_belongs_to_the_day_it_starts() -> None:
    """A Friday 22-6 window covers Saturday 02:00 but not Friday 02:00."""
    o = TimeOverride("night", 22.0, 6.0, frozenset({4}))
    assert o.applies(23.0, 4, ServiceType.TAKEOUT) and o.applies(2.0, 5, ServiceType.TAKEOUT)
    assert not o.applies(2.0, 4, ServiceType.TAKEOUT)
    assert not o.applies(12.0, 4, ServiceType.TAKEOUT)


def test_effective_rule_takes_the_first_matching_override_in_local_time() -> None:
    """At 12:00 UTC+8 the lunch override's cap and scale apply; at 15:00 nothing does."""
    data = base()
    data["utc_offset_min"] = 480
    data["overrides"] = [
        {"name": "lunch", "start_hour": 11, "end_hour": 13, "cap": 2.8, "scale": 1.2},
        {"name": "day", "start_hour": 8, "end_hour": 20, "cap": 1.1, "curve": [[0, 1.05]]},
    ]
    rules = parse_rules(copy.deepcopy(data))
    noon = T0 + 4 * HOUR  # 12:00 local
    eff = rules.effective(ServiceType.TAKEOUT, noon)
    assert (eff.override, eff.cap, eff.scale, eff.floor) == ("lunch", 2.8, 1.2, 1.0)
    day = rules.effective(ServiceType.TAKEOUT, noon + 3 * HOUR)
    assert day.override == "day" and day.curve.points == ((0.0, 1.05),) and day.cap == 1.1
    assert eff.curve == rules.rule(ServiceType.TAKEOUT).curve
    late = rules.effective(ServiceType.TAKEOUT, noon + 9 * HOUR)  # 21:00 local
    assert (late.override, late.cap, late.scale) == (None, 2.5, 1.0)


def test_with_version_stamps_version_and_time() -> None:
    """with_version sets version and updated_at and refuses negative versions."""
    rules = with_version(parse_rules(base()), 3, T0)
    assert (rules.version, rules.updated_at) == (3, T0)
    with pytest.raises(InvalidInput):
        with_version(rules, -1, T0)
