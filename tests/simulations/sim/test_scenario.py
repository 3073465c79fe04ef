"""Scenario files: the shipped default, documentation of every field, clear errors."""

from __future__ import annotations

import copy
import dataclasses
import re
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from dispatch.community import COMMUNITY_LIMITS, CommunitySpec, community_default
from dispatch.model import LatLng
from dispatch.settings import EngineSettings
from simulations.sim.demand import build_world
from simulations.sim.scenario import (
    SCENARIO_DIR,
    CommunityConfig,
    Scenario,
    ScenarioError,
    available_scenarios,
    load_scenario,
    parse_scenario,
)
from solver.routing import RoutingParams
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
                elif isinstance(t, type) and dataclasses.is_dataclass(t):
                    seen.update(f.name for f in dataclasses.fields(t))  # [engine], [solver]


def test_every_field_is_documented_in_the_default_file() -> None:
    """Each scenario field name, engine and solver settings included, appears in
    default.toml next to a comment."""
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


def test_default_scenario_keeps_its_effective_settings() -> None:
    """The shipped day runs with the settings it always had: engine defaults with a 600 s
    promise buffer, greedy descent in-process without VROOM, a 60 s / 0.2 s community."""
    world = build_world(load_scenario("default"), 0)
    assert world.settings == EngineSettings(
        churn_penalty=120, pickup_service_s=120, dropoff_service_s=60, promise_buffer_s=600
    )
    assert world.routing == RoutingParams(
        use_vroom=False, metaheuristic="greedy_descent", isolate=False
    )
    assert world.community == CommunitySpec(
        id="riverside",
        name="Riverside Gardens",
        center=LatLng(31.2304, 121.4737),
        radius_m=3000.0,
        h3_resolution=9,
        delivery_sla_min=30.0,
        emergency_sla_min=30.0,
        dispatch_interval_s=60.0,
        solver_budget_s=0.2,
        max_orders_per_trip=3,
        single_merchant_trips=False,
    )
    assert world.tick_when_idle is False


def test_engine_and_solver_tables_are_the_real_settings() -> None:
    """[engine] and [solver] take any field of EngineSettings / RoutingParams, default to
    theirs, are checked by them, and survive a round trip through model_dump."""
    data = _with("engine", {"at_risk_margin_s": 90, "max_batch": 100})
    data["solver"] = {"workers": 1, "vroom_share": 0.5}
    s = parse_scenario(data)
    assert s.engine == EngineSettings(at_risk_margin_s=90.0, max_batch=100)
    assert s.solver == RoutingParams(workers=1, vroom_share=0.5)  # production defaults
    assert parse_scenario(s.model_dump()) == s
    assert s.with_hours(1.0).engine == s.engine
    assert parse_scenario({k: v for k, v in TINY.items() if k != "solver"}).solver == (
        RoutingParams()
    )


def test_settings_errors_name_their_field_path() -> None:
    """Unknown keys, wrong types and values the settings refuse each name their table."""
    errors = _errors(_with("engine", {"churn_penality": 5, "max_batch": 1.5}))
    assert "engine.churn_penality: unknown field" in errors
    assert any(e.startswith("engine.max_batch:") for e in errors)
    errors = _errors(_with("engine", {"churn_penalty": -1}))
    assert errors == ["engine: churn_penalty must be non-negative"]
    errors = _errors(_with("solver", {"metaheuristic": "greedy"}))
    assert any(e.startswith("solver.metaheuristic:") for e in errors)


def test_the_old_dispatch_table_says_where_its_keys_went() -> None:
    """A [dispatch] table from before the split names the new table of each key."""
    data = copy.deepcopy(TINY)
    data["dispatch"] = {"metaheuristic": "greedy_descent", "churn_penalty": 5, "x": 1}
    errors = _errors(data)
    assert "dispatch.metaheuristic: moved to [solver]" in errors
    assert "dispatch.churn_penalty: moved to [engine]" in errors
    assert "dispatch.x: unknown field" in errors


def test_community_table_is_the_community_spec() -> None:
    """[community] covers every CommunitySpec field, with its defaults and its limits."""
    spec_fields = {f.name for f in dataclasses.fields(CommunitySpec)} - {"center"}
    assert spec_fields | {"lat", "lng"} == set(CommunityConfig.model_fields)
    c = CommunityConfig()
    for name in spec_fields - {"id", "name"}:
        assert getattr(c, name) == community_default(name), name
    for name, limits in COMMUNITY_LIMITS.items():
        errors = _errors(_with(f"community.{name}", limits.high + 1))
        assert any(e.startswith(f"community.{name}:") for e in errors), name
    assert c.spec() == CommunitySpec("default", "Community", LatLng(c.lat, c.lng))
