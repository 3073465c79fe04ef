"""Great-circle distances, travel profiles and integer matrices."""

from __future__ import annotations

import dataclasses
import logging
import math

import numpy as np
import pytest

from geo import (
    DEFAULT_CIRCUITY,
    EARTH_RADIUS_M,
    PROFILES,
    HaversineMatrixProvider,
    InvalidInput,
    MatrixProvider,
    TravelProfile,
    distance_matrix_m,
    eta_s,
    great_circle_matrix_m,
    haversine_m,
    profile,
    time_matrix_s,
)


def _points(n: int, seed: int = 2) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return 31.23 + rng.uniform(-0.02, 0.02, n), 121.47 + rng.uniform(-0.02, 0.02, n)


def test_haversine_known_distances() -> None:
    """A degree of latitude is R·π/180; a quarter meridian is R·π/2; the same point is 0."""
    assert float(haversine_m(0.0, 0.0, 1.0, 0.0)) == pytest.approx(
        math.radians(1.0) * EARTH_RADIUS_M, rel=1e-12
    )
    assert float(haversine_m(0.0, 10.0, 90.0, -70.0)) == pytest.approx(
        math.pi / 2 * EARTH_RADIUS_M, rel=1e-12
    )
    assert float(haversine_m(31.2, 121.4, 31.2, 121.4)) == 0.0
    assert float(haversine_m(0.0, 179.9995, 0.0, -179.9995)) == pytest.approx(111.2, abs=0.1)


def test_haversine_broadcasts_and_is_symmetric() -> None:
    """Inputs broadcast like numpy (a scalar against arrays too); swapping ends changes nothing."""
    lats, lngs = _points(4)
    d = haversine_m(lats[:, None], lngs[:, None], lats[None, :], lngs[None, :])
    assert d.shape == (4, 4) and np.array_equal(d, d.T) and np.all(np.diag(d) == 0)
    row = haversine_m(31.23, 121.47, lats, lngs)
    assert row.shape == (4,)
    mixed = haversine_m(31.23, lngs, lats, 121.47)
    assert mixed.shape == (4,) and np.all(mixed >= 0)


@pytest.mark.parametrize(
    "args",
    [
        (91.0, 0.0, 0.0, 0.0),
        (0.0, 0.0, math.nan, 0.0),
        (0.0, 0.0, 0.0, 181.0),
        ([0.0, 1.0], [0.0, 1.0, 2.0], 0.0, 0.0),
        ([0.0, 1.0], [0.0, 1.0], [0.0, 1.0, 2.0], [0.0, 1.0, 2.0]),
    ],
)
def test_haversine_refuses_bad_input(args: tuple[object, ...]) -> None:
    """Out-of-range, non-finite and non-broadcasting input raises InvalidInput."""
    with pytest.raises(InvalidInput):
        haversine_m(*args)


def test_great_circle_matrix_matches_haversine() -> None:
    """The fast chord-form matrix equals broadcast haversine to a micrometre, exactly symmetric."""
    lats, lngs = _points(300, seed=9)
    lats[0], lngs[0] = 59.9, 10.7  # one far point: long and short distances together
    gc = great_circle_matrix_m(lats, lngs)
    ref = haversine_m(lats[:, None], lngs[:, None], lats[None, :], lngs[None, :])
    assert float(np.max(np.abs(gc - ref))) < 1e-6
    assert np.array_equal(gc, gc.T) and np.all(np.diag(gc) == 0)


def test_profiles_are_read_only_and_plausible() -> None:
    """The four built-in profiles exist with plausible speeds and cannot be changed."""
    assert set(PROFILES) == {"walk", "bicycle", "scooter", "car"}
    speeds = [PROFILES[n].speed_mps for n in ("walk", "bicycle", "scooter", "car")]
    assert speeds == sorted(speeds) and 1.0 < speeds[0] < 1.6 and 6.0 < speeds[3] < 12.0
    assert all(1.2 <= p.circuity <= 1.4 and p.name == n for n, p in PROFILES.items())
    with pytest.raises(TypeError):
        PROFILES["jet"] = TravelProfile("jet", 50.0)  # type: ignore[index]
    with pytest.raises(dataclasses.FrozenInstanceError):
        PROFILES["walk"].speed_mps = 9.0  # type: ignore[misc]
    assert profile("car") is PROFILES["car"]


@pytest.mark.parametrize("name", ["rocket", "", "Walk", 3, None])
def test_unknown_profile_raises(name: object) -> None:
    """Unknown profile names raise InvalidInput (a ValueError) listing the known ones."""
    with pytest.raises(InvalidInput, match="unknown travel profile") as info:
        profile(name)  # type: ignore[arg-type]
    assert isinstance(info.value, ValueError) and "bicycle" in str(info.value)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"name": "x", "speed_mps": 0.0},
        {"name": "x", "speed_mps": math.inf},
        {"name": "x", "speed_mps": math.nan},
        {"name": "x", "speed_mps": 100.0},
        {"name": "x", "speed_mps": "5"},
        {"name": "x", "speed_mps": 5.0, "circuity": 0.5},
        {"name": "x", "speed_mps": 5.0, "circuity": math.nan},
        {"name": "", "speed_mps": 5.0},
    ],
)
def test_bad_profiles_raise(kwargs: dict[str, object]) -> None:
    """Implausible speeds, circuities below 1 and empty names raise InvalidInput."""
    with pytest.raises(InvalidInput):
        TravelProfile(**kwargs)  # type: ignore[arg-type]


def test_distance_matrix_is_great_circle_times_circuity() -> None:
    """Whole metres of great circle × circuity (1.3 by default), int64, symmetric, 0 diagonal."""
    lats, lngs = _points(30)
    dist = distance_matrix_m(lats, lngs)
    ref = haversine_m(lats[:, None], lngs[:, None], lats[None, :], lngs[None, :])
    assert dist.dtype == np.int64 and dist.shape == (30, 30)
    assert np.array_equal(dist, dist.T) and np.all(np.diag(dist) == 0)
    assert np.max(np.abs(dist - ref * DEFAULT_CIRCUITY)) <= 0.5 + 1e-6
    straight = distance_matrix_m(lats, lngs, circuity=1.0)
    assert np.max(np.abs(straight - ref)) <= 0.5 + 1e-6
    with pytest.raises(InvalidInput, match="circuity"):
        distance_matrix_m(lats, lngs, circuity=0.9)


def test_distance_matrix_of_few_points() -> None:
    """No points give a 0×0 matrix and one point a 1×1 zero matrix."""
    assert distance_matrix_m([], []).shape == (0, 0)
    one = distance_matrix_m([31.0], [121.0])
    assert one.shape == (1, 1) and int(one[0, 0]) == 0


def test_time_matrix_rounds_up_to_whole_seconds() -> None:
    """Seconds are ceil(distance / speed); exact multiples do not round past themselves."""
    walk = profile("walk")
    t = time_matrix_s(np.array([[0, 13, 14], [1, 26, 1300]]), walk)
    assert t.dtype == np.int64
    assert t.tolist() == [[0, 10, 11], [1, 20, 1000]]
    assert time_matrix_s([42.0], "bicycle").tolist() == [10]


@pytest.mark.parametrize("bad", [[-1.0], [math.nan], [math.inf], ["far"]])
def test_time_matrix_refuses_bad_distances(bad: list[object]) -> None:
    """Negative, non-finite or non-numeric distances raise InvalidInput."""
    with pytest.raises(InvalidInput, match="distances"):
        time_matrix_s(bad, "walk")


def test_large_values_warn_and_impossible_ones_raise(caplog: pytest.LogCaptureFixture) -> None:
    """Times beyond 2**31 s are logged as an overflow risk; beyond int64 they are refused."""
    with caplog.at_level(logging.WARNING, logger="geo.travel"):
        t = time_matrix_s([1e11], "walk")
    assert int(t[0]) == math.ceil(1e11 / 1.3)
    assert any("overflow" in r.getMessage() for r in caplog.records)
    with pytest.raises(InvalidInput, match="int64"):
        time_matrix_s([1e19], "walk")


def test_provider_shapes_dtypes_symmetry_and_speed_order() -> None:
    """Distances (L, L) and times (K, L, L) in int64: zero diagonal, symmetric, faster is less."""
    lats, lngs = _points(25)
    provider = HaversineMatrixProvider()
    assert isinstance(provider, MatrixProvider)
    dist, times = provider.matrices(lats, lngs, ["walk", "bicycle", "car"])
    assert dist.shape == (25, 25) and times.shape == (3, 25, 25)
    assert dist.dtype == np.int64 and times.dtype == np.int64
    assert np.all(np.diag(dist) == 0) and np.array_equal(dist, dist.T)
    assert all(np.all(np.diag(t) == 0) and np.array_equal(t, t.T) for t in times)
    off = ~np.eye(25, dtype=bool)
    assert np.all(times[0][off] > times[1][off]) and np.all(times[1][off] > times[2][off])
    assert np.array_equal(dist, distance_matrix_m(lats, lngs))


def test_provider_times_follow_the_profile_order_and_match_eta() -> None:
    """Each time matrix belongs to the profile at its index and agrees with eta_s."""
    lats, lngs = _points(12)
    provider = HaversineMatrixProvider()
    _, ab = provider.matrices(lats, lngs, ["walk", "car"])
    _, ba = provider.matrices(lats, lngs, ["car", "walk"])
    assert np.array_equal(ab[0], ba[1]) and np.array_equal(ab[1], ba[0])
    for k, name in enumerate(["walk", "car"]):
        for i, j in [(0, 1), (3, 7), (11, 2)]:
            assert ab[k, i, j] == eta_s(lats[i], lngs[i], lats[j], lngs[j], name)


def test_provider_edge_cases() -> None:
    """No profiles gives (0, L, L) times; a bare string or an unknown name is refused."""
    lats, lngs = _points(5)
    provider = HaversineMatrixProvider()
    dist, times = provider.matrices(lats, lngs, [])
    assert dist.shape == (5, 5) and times.shape == (0, 5, 5) and times.dtype == np.int64
    with pytest.raises(InvalidInput, match="single string"):
        provider.matrices(lats, lngs, "walk")
    with pytest.raises(InvalidInput, match="unknown travel profile"):
        provider.matrices(lats, lngs, ["walk", "teleport"])
    with pytest.raises(InvalidInput, match="point 2"):
        provider.matrices([31.0, 31.0, 99.0], [121.0, 121.0, 121.0], ["walk"])


def test_provider_with_custom_profiles_and_circuity() -> None:
    """A provider can carry its own profiles (e.g. slow rain-day bicycles) and road circuity."""
    slow = TravelProfile("bicycle", 2.1, 1.3)
    provider = HaversineMatrixProvider({"bicycle": slow}, circuity=1.0)
    lats, lngs = _points(6)
    dist, times = provider.matrices(lats, lngs, ["bicycle"])
    _, normal = HaversineMatrixProvider().matrices(lats, lngs, ["bicycle"])
    off = ~np.eye(6, dtype=bool)
    assert np.all(np.abs(times[0][off] - 2 * normal[0][off]) <= 1)
    assert np.array_equal(dist, distance_matrix_m(lats, lngs, circuity=1.0))
    with pytest.raises(InvalidInput):
        provider.matrices(lats, lngs, ["car"])
    with pytest.raises(InvalidInput):
        HaversineMatrixProvider({"bicycle": "fast"})  # type: ignore[dict-item]


def test_provider_handles_two_thousand_points() -> None:
    """A 2000-point batch gives full-size integer matrices with sane values."""
    lats, lngs = _points(2000, seed=11)
    dist, times = HaversineMatrixProvider().matrices(lats, lngs, ["scooter"])
    assert dist.shape == (2000, 2000) and times.shape == (1, 2000, 2000)
    assert 0 < int(dist.max()) < 10_000 and int(times.min()) == 0


def test_eta_uses_speed_and_circuity() -> None:
    """An ETA is great circle × circuity / speed, rounded up; names and profiles both work."""
    bike = profile("bicycle")
    lat2 = 31.23 + math.degrees(1000.0 / EARTH_RADIUS_M)
    t = eta_s(31.23, 121.47, lat2, 121.47, bike)
    assert t == math.ceil(1000.0 * bike.circuity / bike.speed_mps)
    assert eta_s(31.23, 121.47, lat2, 121.47, "bicycle") == t
    assert (
        eta_s(31.23, 121.47, lat2, 121.47, "walk") > t > eta_s(31.23, 121.47, lat2, 121.47, "car")
    )
    assert eta_s(31.23, 121.47, 31.23, 121.47, "walk") == 0
    assert isinstance(t, int)
    with pytest.raises(InvalidInput):
        eta_s(31.23, 121.47, 95.0, 121.47, "walk")
    with pytest.raises(InvalidInput):
        eta_s(31.23, 121.47, lat2, 121.47, "hoverboard")
