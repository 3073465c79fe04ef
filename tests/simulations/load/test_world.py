"""The load test's world: places stay inside the community, moves arrive, bounds refuse."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from simulations.load.world import (
    CENTER,
    MAX_RUN_TIME_S,
    MAX_USERS,
    RADIUS_M,
    LoadKnobs,
    check_bounds,
    community_body,
    distance_m,
    headers,
    loopback,
    point,
    step_towards,
    ws_url,
)

SEEDS = st.integers(min_value=0, max_value=2**32 - 1)


@given(SEEDS)
def test_points_lie_inside_the_given_share_of_the_radius(seed: int) -> None:
    """A point drawn with spread s lies within s times the radius of the centre."""
    rng = random.Random(seed)
    for spread in (0.6, 0.9):
        p = point(rng, spread)
        assert distance_m(CENTER, p) <= RADIUS_M * spread + 1.0


@given(SEEDS, st.floats(min_value=1.0, max_value=2000.0))
def test_steps_stay_inside_and_arrive_exactly(seed: int, metres: float) -> None:
    """Each step covers at most its length, stays inside, and the last lands on the target."""
    rng = random.Random(seed)
    here, there = point(rng), point(rng)
    for _ in range(10_000):
        before = here
        here, arrived = step_towards(here, there, metres)
        assert distance_m(before, here) <= metres + 1.0
        assert distance_m(CENTER, here) <= RADIUS_M
        if arrived:
            assert here == there
            return
    pytest.fail("never arrived")


def test_bounds_refuse_remote_hosts_and_crowds() -> None:
    """Loopback hosts only; at most MAX_USERS users."""
    assert [loopback(u) for u in ("http://127.0.0.1:8000", "http://localhost:1")] == [True, True]
    assert not loopback("http://10.0.0.8:8000") and not loopback("https://example.com")
    assert check_bounds("http://127.0.0.1:8000", MAX_USERS) is None
    assert "loopback" in str(check_bounds("http://10.0.0.8:8000", 1))
    assert "at most" in str(check_bounds("http://127.0.0.1:8000", MAX_USERS + 1))
    assert MAX_USERS <= 200 and MAX_RUN_TIME_S <= 600


def test_urls_headers_and_the_community_body() -> None:
    """WebSocket URLs follow the host's scheme; no key means no header."""
    assert ws_url("http://127.0.0.1:8000/", "/v1/x") == "ws://127.0.0.1:8000/v1/x"
    assert ws_url("https://localhost", "/v1/x") == "wss://localhost/v1/x"
    assert headers(None) == {} and headers("k") == {"Authorization": "Bearer k"}
    body = community_body("Load", 3.0, 1.0)
    assert body["center"] == {"lat": CENTER[0], "lng": CENTER[1]} and body["radius_m"] == RADIUS_M


def test_knobs_come_from_the_environment_and_are_checked() -> None:
    """Defaults without variables; a value out of range names its variable."""
    assert LoadKnobs.from_env({}) == LoadKnobs()
    knobs = LoadKnobs.from_env({"DISPATCH_LOAD_KEY": "k", "DISPATCH_LOAD_MAX_FAIL_RATIO": "0.05"})
    assert knobs.key == "k" and knobs.max_fail_ratio == 0.05
    with pytest.raises(ValueError, match="DISPATCH_LOAD_MAX_FAIL_RATIO"):
        LoadKnobs.from_env({"DISPATCH_LOAD_MAX_FAIL_RATIO": "2"})
    with pytest.raises(ValueError, match="DISPATCH_LOAD_COURIER_SPEED_MPS"):
        LoadKnobs.from_env({"DISPATCH_LOAD_COURIER_SPEED_MPS": "nan"})
