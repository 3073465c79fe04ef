"""The surge field: k-ring sums, ratio, EWMA, rate limit, floors and caps, state."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dispatch.errors import InvalidInput
from dispatch.model import ServiceType
from dispatch.surge import (
    RuleSet,
    SurgeSnapshot,
    SurgeState,
    backtest,
    parse_rules,
    preview,
    update_surge,
)

T0 = 1_767_225_600.0  # 2026-01-01T00:00:00Z
TAKEOUT = ServiceType.TAKEOUT
N = 12  # cells on the test ring


def ring(cell: int, k: int) -> Sequence[int]:
    """Neighbours on a cycle of N cells: every cell has a k-ring of the same size."""
    return sorted({(cell + d) % N for d in range(-k, k + 1)})


def line(cell: int, k: int) -> Sequence[int]:
    """Neighbours on an endless line of cells."""
    return list(range(cell - k, cell + k + 1))


def rules(**top: Any) -> RuleSet:
    """Curve 1 → 3 over ratios 1..3, floor 1, cap 3, 0.6 per minute, half-life 60 s."""
    data: dict[str, Any] = {
        "name": "field-test",
        "max_change_per_min": 0.6,
        "ewma_half_life_s": 60.0,
        "k_ring": 1,
        "default": {"curve": [[0, 1.0], [1, 1.0], [3, 3.0]], "floor": 1.0, "cap": 3.0},
        "pricing": {s.value: {"base_fee": 5.0} for s in ServiceType},
    }
    data.update(top)
    return parse_rules(data, version=1)


def all_multipliers(snap: Any, service: ServiceType = TAKEOUT) -> list[float]:
    return [c.multiplier[service] for c in snap.cells.values()]


def test_uniform_field_stays_uniform_over_updates() -> None:
    """Equal demand and supply everywhere give one multiplier everywhere, update after update."""
    r, state = rules(), None
    for i, (d, s) in enumerate([(2.0, 1.0), (5.0, 1.0), (1.0, 2.0), (4.0, 1.5)]):
        demand = dict.fromkeys(range(N), d)
        supply = dict.fromkeys(range(N), s)
        snap, state = update_surge(r, state, demand, supply, T0 + 30 * i, ring)
        assert len(snap.cells) == N
        for service in ServiceType:
            assert len({round(m, 12) for m in all_multipliers(snap, service)}) == 1
        assert len({c.smoothed_ratio for c in snap.cells.values()}) == 1


def test_k_ring_sums_demand_over_the_disk() -> None:
    """Demand in one cell counts in every cell within k steps and nowhere beyond."""
    snap = preview(rules(k_ring=2), {10: 3.0}, {}, T0, line)
    assert sorted(snap.cells) == [8, 9, 10, 11, 12]
    assert all(c.demand == 3.0 and c.supply == 0.0 for c in snap.cells.values())
    assert snap.cells[8].ratio == pytest.approx(6.0)  # 3 / min_supply 0.5


def test_zero_demand_gives_the_floor() -> None:
    """Cells with supply but no demand, and cells not in the map, sit at the floor."""
    data = {"curve": [[0, 1.0], [3, 3.0]], "floor": 1.2, "cap": 3.0}
    snap = preview(rules(default=data), {}, {1: 4.0, 5: 1.0}, T0, ring)
    assert snap.cells and all(m == 1.2 for m in all_multipliers(snap))
    assert all(c.ratio == 0.0 for c in snap.cells.values())
    assert snap.multiplier(999, TAKEOUT) == 1.2


def test_high_demand_is_capped() -> None:
    """A ratio far beyond the curve gives exactly the cap, flagged as clamped."""
    snap = preview(rules(), {3: 500.0}, {3: 1.0}, T0, ring)
    c = snap.cells[3]
    assert c.ratio == 10.0  # max_ratio
    assert c.multiplier[TAKEOUT] == 3.0
    assert c.detail[TAKEOUT].clamped is None  # the curve itself tops out at the cap
    capped = preview(rules(services={"takeout": {"cap": 2.0}}), {3: 500.0}, {3: 1.0}, T0, ring)
    assert capped.cells[3].multiplier[TAKEOUT] == 2.0
    assert capped.cells[3].detail[TAKEOUT].clamped == "cap"


def test_rate_of_change_is_limited_over_several_updates() -> None:
    """After a demand spike the multiplier moves at most 0.6 per minute, up and then down."""
    r = rules()
    snap, state = update_surge(r, None, {}, {0: 1.0}, T0, ring)
    assert snap.multiplier(0, TAKEOUT) == 1.0
    prev, t, seen = 1.0, T0, []
    for dt in (5.0, 20.0, 20.0, 60.0, 60.0, 120.0, 300.0):
        t += dt
        snap, state = update_surge(r, state, {0: 50.0}, {0: 1.0}, t, ring)
        m = snap.multiplier(0, TAKEOUT)
        assert m - prev <= 0.6 * dt / 60.0 + 1e-9
        assert m >= prev
        if snap.cells[0].detail[TAKEOUT].rate_limited:  # held back: it moved the full step
            seen.append(m - prev == pytest.approx(0.6 * dt / 60.0))
        prev = m
    assert prev == 3.0 and seen and all(seen)
    limited = 0
    for _ in range(20):  # demand gone: the smoothed ratio decays, the multiplier follows
        t += 30.0
        snap, state = update_surge(r, state, {}, {0: 1.0}, t, ring)
        m = snap.multiplier(0, TAKEOUT)
        assert 0.0 <= prev - m <= 0.6 * 30.0 / 60.0 + 1e-9
        limited += snap.cells[0].detail[TAKEOUT].rate_limited
        prev = m
    assert prev == 1.0 and limited > 0


def test_ewma_moves_toward_the_new_ratio_monotonically() -> None:
    """The smoothed ratio approaches the raw one without overshoot; half the gap per half-life."""
    r = rules()
    snap, state = update_surge(r, None, {0: 1.0}, {0: 1.0}, T0, ring)
    assert snap.cells[0].smoothed_ratio == pytest.approx(1.0)
    prev, t = 1.0, T0
    for step in range(8):
        t += 15.0
        snap, state = update_surge(r, state, {0: 5.0}, {0: 1.0}, t, ring)
        s = snap.cells[0].smoothed_ratio
        assert prev < s < 5.0
        if step == 3:  # 60 s = one half-life after the jump
            assert s == pytest.approx(3.0)
        prev = s


def test_same_instant_and_backwards_time_change_nothing() -> None:
    """dt <= 0 keeps smoothed ratios and multipliers; the state keeps its latest time."""
    r = rules()
    snap, state = update_surge(r, None, {0: 4.0}, {0: 1.0}, T0, ring)
    again, state2 = update_surge(r, state, {0: 0.0}, {0: 9.0}, T0 - 50, ring)
    assert again.cells[0].smoothed_ratio == snap.cells[0].smoothed_ratio
    assert again.multiplier(0, TAKEOUT) == snap.multiplier(0, TAKEOUT)
    assert state2.ts == T0


def test_neutral_cells_are_forgotten_and_answer_with_the_neutral_value() -> None:
    """Once demand is gone and the multiplier is back at the floor, the state drops the cell."""
    r = rules()
    _, state = update_surge(r, None, {0: 9.0}, {}, T0, ring)
    assert set(state.cells) == {11, 0, 1}
    t = T0
    for _ in range(40):
        t += 60.0
        snap, state = update_surge(r, state, {}, {}, t, ring)
    assert state.cells == {} and snap.cells == {}
    assert snap.multiplier(0, TAKEOUT) == 1.0


def test_time_of_day_override_applies_only_in_its_local_hours() -> None:
    """A lunch override (UTC+8) lifts the cap during 11-13 local only."""
    lunch = {"name": "lunch", "start_hour": 11, "end_hour": 13, "cap": 5.0, "scale": 2.0}
    r = rules(utc_offset_min=480, overrides=[lunch])
    noon, evening = T0 + 4 * 3600.0, T0 + 10 * 3600.0  # 12:00 and 18:00 local
    at_noon = preview(r, {0: 20.0}, {0: 1.0}, noon, ring)
    at_six = preview(r, {0: 20.0}, {0: 1.0}, evening, ring)
    assert at_noon.cells[0].multiplier[TAKEOUT] == 5.0
    assert at_noon.cells[0].detail[TAKEOUT].override == "lunch"
    assert at_six.cells[0].multiplier[TAKEOUT] == 3.0
    assert at_six.cells[0].detail[TAKEOUT].override is None
    assert at_noon.multiplier(7, TAKEOUT) == 2.0  # neutral cell: curve 1.0 × scale 2


def test_state_round_trips_through_json() -> None:
    """to_dict is JSON-able and from_dict restores an equal state."""
    _, state = update_surge(rules(), None, {2**40 + 3: 4.0}, {2**40 + 3: 1.0}, T0, line)
    back = SurgeState.from_dict(json.loads(json.dumps(state.to_dict())))
    assert back == state and back.ts == T0 and back.rule_version == 1


def test_snapshot_to_dict_is_json_with_hex_cells() -> None:
    """The snapshot's dict form names cells in hex and multipliers by service."""
    snap = preview(rules(), {0x8A: 2.0}, {0x8A: 1.0}, T0, line, "c9")
    data = json.loads(json.dumps(snap.to_dict()))
    assert data["community_id"] == "c9" and data["rule_version"] == 1
    assert {c["cell"] for c in data["cells"]} == {"89", "8a", "8b"}
    assert data["neutral"]["takeout"] == 1.0 and data["cells"][0]["multiplier"]["takeout"] > 1


def test_malformed_state_is_invalid_input() -> None:
    """A corrupted state record raises InvalidInput rather than a random error."""
    with pytest.raises(InvalidInput, match="malformed surge state"):
        SurgeState.from_dict({"ts": T0, "cells": {"zz": {"smoothed_ratio": 1.0}}})
    with pytest.raises(InvalidInput):
        SurgeState.from_dict({"ts": "nan"})


@pytest.mark.parametrize("bad", [math.nan, -1.0, math.inf])
def test_bad_demand_values_are_refused(bad: float) -> None:
    """Demand and supply must be finite and non-negative."""
    with pytest.raises(InvalidInput, match="demand of cell"):
        update_surge(rules(), None, {1: bad}, {}, T0, ring)


def test_backtest_replays_frames_like_chained_updates() -> None:
    """backtest gives the snapshots of update_surge applied frame after frame."""
    r = rules()
    frames = [(T0 + 20 * i, {0: float(i)}, {0: 1.0}) for i in range(5)]
    snaps = backtest(r, frames, ring, "c1")
    state = None
    for (t, d, s), got in zip(frames, snaps, strict=True):
        want, state = update_surge(r, state, d, s, t, ring, "c1")
        assert got == want and got.community_id == "c1"


cells_values = st.dictionaries(
    st.integers(0, N - 1), st.floats(0, 40, allow_nan=False, allow_infinity=False), max_size=N
)
RULES = rules(
    services={"grocery": {"curve": [[0, 1.1], [0.5, 1.4], [4, 2.2]], "floor": 1.2, "cap": 2.0}}
)


@settings(max_examples=60, deadline=None)
@given(
    first=st.tuples(cells_values, cells_values),
    second=st.tuples(cells_values, cells_values),
    dt=st.floats(0, 900),
)
def test_multipliers_always_lie_between_floor_and_cap(
    first: tuple[dict[int, float], dict[int, float]],
    second: tuple[dict[int, float], dict[int, float]],
    dt: float,
) -> None:
    """Whatever the fields and the time between updates, floor <= multiplier <= cap."""
    _, state = update_surge(RULES, None, *first, T0, ring)
    snap, _ = update_surge(RULES, state, *second, T0 + dt, ring)
    for service in ServiceType:
        rule = RULES.rule(service)
        for c in [*range(N), 10**6]:
            assert rule.floor - 1e-12 <= snap.multiplier(c, service) <= rule.cap + 1e-12


@settings(max_examples=60, deadline=None)
@given(
    demand=cells_values,
    supply=cells_values,
    cell=st.integers(0, N - 1),
    extra=st.floats(0.01, 30),
    dt=st.floats(1, 300),
)
def test_multiplier_is_monotone_in_demand(
    demand: dict[int, float], supply: dict[int, float], cell: int, extra: float, dt: float
) -> None:
    """More demand in a cell never lowers any target (same history) or any preview multiplier."""
    more = {**demand, cell: demand.get(cell, 0.0) + extra}
    _, state = update_surge(RULES, None, demand, supply, T0, ring)
    lo, _ = update_surge(RULES, state, demand, supply, T0 + dt, ring)
    hi, _ = update_surge(RULES, state, more, supply, T0 + dt, ring)
    plo, phi = preview(RULES, demand, supply, T0, ring), preview(RULES, more, supply, T0, ring)

    def target(snap: SurgeSnapshot, cell: int, service: ServiceType) -> float:
        d = snap.detail(cell, service)
        assert d is not None
        return d.target

    for service in ServiceType:
        for c in range(N):
            assert target(hi, c, service) >= target(lo, c, service) - 1e-12
            assert phi.multiplier(c, service) >= plo.multiplier(c, service) - 1e-12
