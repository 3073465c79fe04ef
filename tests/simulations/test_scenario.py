"""Scenario files: the shipped default, documentation of every field, clear errors."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from simulations.scenario import (
    SCENARIO_DIR,
    Scenario,
    ScenarioError,
    available_scenarios,
    load_scenario,
    parse_scenario,
)
from tests.simulations.conftest import TINY


def _errors(data: dict[str, Any]) -> list[str]:
    with pytest.raises(ScenarioError) as info:
        parse_scenario(data, source="test")
    return info.value.errors


def _with(path: str, value: Any) -> dict[str, Any]:
    data = copy.deepcopy(TINY)
    node: Any = data
    parts = path.split(".")
    for part in parts[:-1]:
        node = node[int(part)] if part.isdigit() else node.setdefault(part, {})
    last = parts[-1]
    if isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value
    return data


def test_default_scenario_loads_with_its_promised_shape() -> None:
    """The default: one 3 km community, about 40 couriers, 10 technicians, 8 hours."""
    s = load_scenario("default")
    assert "default" in available_scenarios()
    assert s.community.radius_m == 3000.0
    assert 35 <= sum(c.count for c in s.couriers) <= 45
    assert sum(t.count for t in s.technicians) == 10
    assert s.hours == 8.0
    assert {p.name for p in s.orders.peaks} >= {"breakfast", "lunch", "dinner"}


def _field_names(model: type[BaseModel], seen: set[str]) -> None:
    for name, info in model.model_fields.items():
        seen.add(name)
        for arg in (*getattr(info.annotation, "__args__", ()), info.annotation):
            inner = getattr(arg, "__args__", (arg,))
            for t in (arg, *inner):
                if isinstance(t, type) and issubclass(t, BaseModel) and t is not model:
                    _field_names(t, seen)


def test_every_field_is_documented_in_the_default_file() -> None:
    """Each scenario field name appears in default.toml next to a comment."""
    text = (SCENARIO_DIR / "default.toml").read_text()
    names: set[str] = set()
    _field_names(Scenario, names)
    for name in sorted(names):
        lines = [ln for ln in text.splitlines() if re.search(rf"\b{name}\b", ln)]
        assert any("#" in ln for ln in lines), f"{name} is not documented in default.toml"


def test_unknown_keys_are_named_with_their_path() -> None:
    """A typo in a nested table is an error naming the full field path."""
    errors = _errors(_with("orders.base_per_hr", 3.0))
    assert "orders.base_per_hr: unknown field" in errors


def test_wrong_types_and_negative_rates_are_named() -> None:
    """A string hours and a negative rate are both reported, each with its field."""
    data = _with("orders.base_per_hour", -1.0)
    data["hours"] = "eight"
    errors = _errors(data)
    assert any(e.startswith("hours:") for e in errors)
    assert any(e.startswith("orders.base_per_hour:") and "greater" in e for e in errors)


def test_list_items_and_cross_field_rules_are_checked() -> None:
    """A shift ending before it starts names its list index; missing skills are reported."""
    errors = _errors(_with("couriers.0.end_h", -0.5))
    assert any(e.startswith("couriers[0].end_h") for e in errors)
    data = copy.deepcopy(TINY)
    data["technicians"] = [{"count": 1, "skills": ["repair"]}]
    errors = _errors(data)
    assert any("plumbing" in e and e.startswith("technicians") for e in errors) or any(
        "plumbing" in e for e in errors
    )


def test_bad_files_and_names_give_clear_errors(tmp_path: Path) -> None:
    """Invalid TOML names the file; an unknown scenario name lists the shipped ones."""
    bad = tmp_path / "bad.toml"
    bad.write_text("hours = [unclosed\n")
    with pytest.raises(ScenarioError, match="not valid TOML"):
        load_scenario(bad)
    with pytest.raises(ScenarioError, match=r"shipped scenarios: .*default"):
        load_scenario("no-such-scenario")
    with pytest.raises(ScenarioError, match="file not found"):
        load_scenario(tmp_path / "missing.toml")


def test_hours_override_is_validated(tiny: Scenario) -> None:
    """with_hours returns a new validated scenario and rejects impossible horizons."""
    assert tiny.with_hours(2.0).hours == 2.0
    assert tiny.hours == 0.75
    with pytest.raises(ScenarioError, match="hours"):
        tiny.with_hours(-1.0)
