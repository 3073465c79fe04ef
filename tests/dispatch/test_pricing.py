"""Surge rules and field: validation, curves, smoothing, rate limits, explanations."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dispatch import Engine, ManualClock
from dispatch.model import ServiceType
from dispatch.pricing import (
    Curve,
    InvalidRules,
    compute_field,
    default_rules_dict,
    load_rules,
    parse_rules,
    rules_to_dict,
)
from dispatch.requests import OrderRequest
from tests.dispatch.conftest import AddWorker, offset

RULES = parse_rules(default_rules_dict(), version=1)


def ring(cells: int) -> object:
    """Neighbours on a cycle of cells 0..n-1 (every cell has the same k-ring size)."""

    def neighbours(cell: int, k: int) -> Sequence[int]:
        return sorted({(cell + d) % cells for d in range(-k, k + 1)})

    return neighbours


def test_curve_interpolates_and_clamps() -> None:
    """Linear between points, flat beyond the ends."""
    c = Curve(((1.0, 1.0), (2.0, 1.5), (3.0, 2.5)))
    assert c.at(0.2) == 1.0 and c.at(1.5) == pytest.approx(1.25)
    assert c.at(2.5) == pytest.approx(2.0) and c.at(9.0) == 2.5


@pytest.mark.parametrize(
    ("patch", "fragment"),
    [
        ({"services": {"takeout": {"curve": [[0, 1.0], [0, 1.2]]}}}, "ratios must increase"),
        ({"services": {"takeout": {"curve": [[0, 1.5], [1, 1.2]]}}}, "must not decrease"),
        ({"services": {"takeout": {"curve": [[0, float("nan")], [1, 1.2]]}}}, "finite"),
        ({"services": {"takeout": {"floor": 2.0, "cap": 1.5}}}, "at least the floor"),
        ({"services": {"takeout": {"floor": 0.8}}}, "allow_discounts"),
        ({"services": {"teleport": {}}}, "unknown service"),
        ({"overrides": [{"start_hour": 25, "end_hour": 3}]}, "hours"),
        ({"colour": "red"}, "unknown field"),
    ],
)
def test_invalid_rules_name_the_field(patch: dict[str, object], fragment: str) -> None:
    """Each problem is reported with its path; nothing is activated."""
    data = default_rules_dict()
    for key, value in patch.items():
        if key == "services":
            for name, rule in value.items():  # type: ignore[attr-defined]
                data["services"].setdefault(name, {}).update(rule)
        else:
            data[key] = value
    with pytest.raises(InvalidRules, match=fragment) as info:
        parse_rules(data)
    assert info.value.errors


def test_rules_files_round_trip(tmp_path: Path) -> None:
    """JSON and TOML rule files load to the same rule set as the data they hold."""
    data = rules_to_dict(RULES)
    (tmp_path / "r.json").write_text(json.dumps(data))
    assert load_rules(tmp_path / "r.json").services == RULES.services
    (tmp_path / "r.toml").write_text(
        'name = "t"\nk_ring = 1\n[services.takeout]\ncurve = [[0, 1.0], [2, 2.0]]\ncap = 2.0\n'
        + "".join(
            f"[services.{s.value}]\ncurve = [[0, 1.0], [1, 1.0]]\n"
            for s in ServiceType
            if s != ServiceType.TAKEOUT
        )
    )
    toml_rules = load_rules(tmp_path / "r.toml")
    assert toml_rules.services[ServiceType.TAKEOUT].cap == 2.0
    with pytest.raises(InvalidRules):
        load_rules_text(tmp_path, "r2.json", '{"services": {}}')


def load_rules_text(folder: Path, name: str, text: str) -> object:
    (folder / name).write_text(text)
    return load_rules(folder / name)


def test_uniform_field_stays_uniform() -> None:
    """Equal demand and supply everywhere gives one multiplier everywhere."""
    demand = {c: 3.0 for c in range(12)}
    supply = {c: 1.0 for c in range(12)}
    state = None
    for t in (0.0, 60.0, 600.0):
        field, state = compute_field(RULES, demand, supply, state, t, ring(12))  # type: ignore[arg-type]
        values = {f.multiplier[ServiceType.TAKEOUT] for f in field.values()}
        assert len(values) == 1


def test_rate_limit_floor_and_cap() -> None:
    """A demand spike moves the multiplier at most the allowed change a minute, up to the cap."""
    rate = RULES.max_change_per_min
    cap = RULES.services[ServiceType.TAKEOUT].cap
    state = None
    prev = RULES.services[ServiceType.TAKEOUT].floor
    for minute in range(0, 40):
        field, state = compute_field(
            RULES,
            {0: 50.0},
            {0: 1.0},
            state,
            minute * 60.0,
            ring(1),  # type: ignore[arg-type]
        )
        m = field[0].multiplier[ServiceType.TAKEOUT]
        assert m - prev <= rate + 1e-9
        assert m <= cap
        prev = m
    top = min(cap, RULES.services[ServiceType.TAKEOUT].curve.points[-1][1])
    assert prev == pytest.approx(top)
    field, _ = compute_field(RULES, {}, {0: 5.0}, {}, 0.0, ring(1))  # type: ignore[arg-type]
    assert field == {}


def test_ewma_moves_monotonically_towards_the_new_ratio() -> None:
    """After demand jumps, the smoothed ratio rises step by step without overshooting."""
    _, state = compute_field(RULES, {0: 1.0}, {0: 1.0}, None, 0.0, ring(1))  # type: ignore[arg-type]
    last = 1.0
    for t in range(60, 1200, 60):
        field, state = compute_field(RULES, {0: 4.0}, {0: 1.0}, state, float(t), ring(1))  # type: ignore[arg-type]
        smooth = field[0].smoothed_ratio
        assert last <= smooth <= 4.0
        last = smooth
    assert last > 3.5


@settings(max_examples=60, deadline=None)
@given(
    d=st.floats(0, 100),
    s=st.floats(0, 20),
    extra=st.floats(0.1, 50),
)
def test_multiplier_within_bounds_and_monotone_in_demand(d: float, s: float, extra: float) -> None:
    """Multipliers stay in [floor, cap] and never fall when demand rises (before rate limits)."""
    fast = parse_rules({**default_rules_dict(), "max_change_per_min": 1000.0}, version=1)
    state = {"ts": 0.0, "ratio": {}, "mult": {}}
    a, _ = compute_field(fast, {0: d}, {0: s}, state, 60.0, ring(1))  # type: ignore[arg-type]
    b, _ = compute_field(fast, {0: d + extra}, {0: s}, state, 60.0, ring(1))  # type: ignore[arg-type]
    rule = fast.services[ServiceType.GROCERY]
    ma = a[0].multiplier[ServiceType.GROCERY] if 0 in a else rule.floor
    mb = b[0].multiplier[ServiceType.GROCERY]
    assert rule.floor <= ma <= mb <= rule.cap


def test_quote_explains_itself_and_rules_hot_swap(
    engine: Engine, add_worker: AddWorker, clock: ManualClock
) -> None:
    """A quote names cell, demand, supply, ratio and rule; new rules apply at once, versioned."""
    add_worker("w1")
    req = OrderRequest("c1", offset(0, 0), offset(500, 0))
    for _ in range(6):
        engine.create_order(req)
    clock.advance(600)
    q = engine.quote(req)
    assert q.explanation["demand"] >= 6 and q.explanation["rule"] == "takeout"
    assert q.multiplier > 1.0 and q.rule_version == engine.rules().version
    flat = default_rules_dict()
    for rule in flat["services"].values():
        rule["cap"] = 1.0
    active = engine.set_rules(flat)
    assert active.version > q.rule_version
    clock.advance(10)
    q2 = engine.quote(req)
    assert q2.multiplier == 1.0 and q2.rule_version == active.version
    with pytest.raises(InvalidRules):
        engine.set_rules({"services": {"takeout": {"curve": [[1, 2], [0, 1]]}}})
    assert engine.rules().version == active.version
    snap = engine.surge_map("c1")
    assert snap.rule_version == active.version and snap.cells
