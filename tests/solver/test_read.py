"""Instance readers, writers and the benchmark conversions (generated files only)."""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from solver.checker import check_routes
from solver.errors import InvalidProblem
from solver.instances import (
    check_float,
    euclidean_distance,
    routes_to_ids,
    to_routing_problem,
)
from solver.read import Instance, find_bks, read_bks, read_instance, write_lilim, write_solomon
from tests.solver.factories import random_instance


def _same(a: Instance, b: Instance) -> None:
    assert a.kind == b.kind
    assert a.num_vehicles == b.num_vehicles and a.capacity == b.capacity
    for name in ("x", "y", "demand", "ready", "due", "service"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
    assert sorted(map(tuple, a.pairs.tolist())) == sorted(map(tuple, b.pairs.tolist()))


def test_solomon_round_trip(tmp_path: Path, rng: np.random.Generator) -> None:
    """write_solomon then read_instance gives back the same VRPTW instance."""
    inst = random_instance(rng, customers=12, pdptw=False, name="R999")
    path = tmp_path / "r999.txt"
    write_solomon(path, inst)
    back = read_instance(path)
    assert back.name == "R999"
    _same(inst, back)


def test_lilim_round_trip(tmp_path: Path, rng: np.random.Generator) -> None:
    """write_lilim then read_instance gives back the same PDPTW instance and partners."""
    inst = random_instance(rng, customers=10, pdptw=True)
    path = tmp_path / "lx101.txt"
    write_lilim(path, inst)
    back = read_instance(path)
    assert back.name == "lx101"
    _same(inst, back)
    p, d = (int(x) for x in inst.pairs[0])
    assert back.delivery_of[p] == d and back.pickup_of[d] == p


def test_windows_line_endings_are_accepted(tmp_path: Path, rng: np.random.Generator) -> None:
    """Files with CRLF line endings (as distributed) read the same."""
    inst = random_instance(rng, customers=5, pdptw=False)
    path = tmp_path / "a.txt"
    write_solomon(path, inst)
    path.write_bytes(path.read_bytes().replace(b"\n", b"\r\n"))
    _same(inst, read_instance(path))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "C1\n\nVEHICLE\nNUMBER CAPACITY\n 2 10\nCUSTOMER\n0 0 0 0 0 100 0\n1 5 x 1 0 50 0\n",
            ":8: not a number",
        ),
        (
            "C1\n\nVEHICLE\nNUMBER CAPACITY\n 2 10\nCUSTOMER\n0 0 0 0 0 100 0\n1 5 5 1\n",
            ":8: expected 7 numbers",
        ),
        ("C1\nno fleet here\n", "no VEHICLE block"),
        (
            "2\t10\t1\n0\t0\t0\t0\t0\t100\t0\t0\t0\n1\t1\t1\t1\t0\t50\t0\t0\t2\n"
            "2\t2\t2\t-1\t0\t50\t0\t0\t0\n",
            ":3: task 1 names delivery 2 inconsistently",
        ),
        (
            "2\t10\t1\n0\t0\t0\t0\t0\t100\t0\t0\t0\n1\t1\t1\t1\t0\t50\t0\t0\t2\n"
            "2\t2\t2\t-1\t0\t50\t0\t1\t0\n3\t2\t2\t0\t0\t50\t0\t0\t0\n",
            ":5: task 3 is neither",
        ),
        ("", "empty file"),
    ],
)
def test_malformed_files_raise_with_file_and_line(tmp_path: Path, text: str, message: str) -> None:
    """Malformed input raises InvalidProblem (a ValueError) naming the file and line."""
    path = tmp_path / "bad.txt"
    path.write_text(text)
    with pytest.raises(InvalidProblem, match=message) as info:
        read_instance(path)
    assert isinstance(info.value, ValueError)
    assert "bad.txt" in str(info.value)


def test_missing_file_raises(tmp_path: Path) -> None:
    """A path that does not exist raises InvalidProblem, not OSError."""
    with pytest.raises(InvalidProblem, match="cannot read"):
        read_instance(tmp_path / "nope.txt")


def test_read_bks_keeps_both_formats(tmp_path: Path) -> None:
    """read_bks reads Solomon (hierarchical + distance-only) and Li & Lim columns."""
    folder = tmp_path / "set"
    (folder / "instances").mkdir(parents=True)
    (folder / "bks.csv").write_text(
        "instance,bks_hier_vehicles,bks_hier_distance,bks_distance_only_vehicles,"
        "bks_distance_only_distance,capacity\nR101,19,1645.79,20,1637.7,200\n"
    )
    bks = read_bks(folder / "bks.csv")["R101"]
    assert (bks.vehicles, bks.distance, bks.distance_only) == (19, 1645.79, 1637.7)
    assert bks.reference == 1637.7 and bks.columns["capacity"] == "200"
    found = find_bks(folder / "instances" / "R101.txt")
    assert found is not None and found.vehicles == 19
    (tmp_path / "bks.csv").write_text("instance,bks_vehicles,bks_distance\nlc101,10,828.94\n")
    lilim = read_bks(tmp_path / "bks.csv")["lc101"]
    assert lilim.reference == 828.94 and lilim.distance_only is None


def test_to_routing_problem_scales_and_rounds_safely(rng: np.random.Generator) -> None:
    """Travel times round up, costs to nearest, windows inward; the depot closes routes."""
    inst = random_instance(rng, customers=6, pdptw=True)
    p = to_routing_problem(inst, scale=100)
    e = math.hypot(inst.x[1] - inst.x[2], inst.y[1] - inst.y[2])
    assert p.travel_time[0, 1, 2] == math.ceil(e * 100 - 1e-6)
    assert p.travel_cost is not None and p.travel_cost[1, 2] == round(e * 100)
    assert p.num_stops == 6 and p.num_vehicles == inst.num_vehicles
    assert p.vehicle_end is not None and set(p.vehicle_end.tolist()) == {0}
    assert p.vehicle_end_time is not None and p.vehicle_end_time[0] == 100_000
    assert p.drop_penalty is not None and np.all(p.drop_penalty == -1)
    np.testing.assert_array_equal(p.pairs, inst.pairs - 1)


def test_float_check_and_distance_agree_with_the_integer_checker(
    rng: np.random.Generator,
) -> None:
    """One customer per vehicle: ids, double distance and scaled integer cost agree."""
    inst = replace(random_instance(rng, customers=8, pdptw=False), num_vehicles=8)
    p = to_routing_problem(inst)
    routes = [[s] for s in range(p.num_stops)]
    ids = routes_to_ids(inst, [*routes[:3], [], *routes[3:]])
    assert ids == [[n] for n in range(1, 9)]
    assert check_float(inst, ids) == []
    assert any("not visited" in m for m in check_float(inst, ids[1:]))
    expected = sum(
        2 * math.hypot(inst.x[n] - inst.x[0], inst.y[n] - inst.y[0]) for r in ids for n in r
    )
    assert euclidean_distance(inst, ids) == pytest.approx(expected, rel=1e-12)
    report = check_routes(p, routes)
    assert report.feasible, report.violations
    assert report.travel_cost == pytest.approx(expected * 1000, abs=16)
    with pytest.raises(ValueError, match="do not belong"):
        routes_to_ids(inst, [[8]])


def test_float_check_finds_violations(rng: np.random.Generator) -> None:
    """check_float flags late service, overload, duplicates and a split pair."""
    inst = random_instance(rng, customers=4, pdptw=True)
    p, d = (int(x) for x in inst.pairs[0])
    other = [n for n in range(1, 5) if n not in (p, d)]
    assert any("split" in m for m in check_float(inst, [[p], [d], other]))
    assert any("delivery before pickup" in m for m in check_float(inst, [[d, p], other]))
    assert any("twice" in m for m in check_float(inst, [[p, d, p], other]))
    tight = replace(inst, capacity=0)
    assert any("load" in m for m in check_float(tight, [[p, d], other]))
    late = replace(inst, due=np.full(5, 1.0))
    assert any("due" in m for m in check_float(late, [[p, d], other]))
