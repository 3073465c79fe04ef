"""MDRP replay: reading instances, writing solutions, the independent checker."""

from __future__ import annotations

from pathlib import Path

import pytest

from dispatch.settings import EngineSettings
from simulations.mdrp.check import check
from simulations.mdrp.check import main as check_main
from simulations.mdrp.instance import MdrpFormatError, read_instance, travel_minutes
from simulations.mdrp.solution import ASSIGNMENTS, COURIERS, ORDERS
from simulations.sim.replay import MDRP_LATE_PICKUP_COST_PER_S, mdrp_world
from simulations.sim.runner import SimulationOptions, run
from tests.simulations.conftest import write_mdrp_instance


@pytest.fixture
def instance_dir(tmp_path: Path) -> Path:
    return write_mdrp_instance(tmp_path / "tiny_mdrp")


def test_reader_reads_the_public_format(instance_dir: Path) -> None:
    """Every file and parameter is read; travel is ceil(euclid / metres per minute)."""
    inst = read_instance(instance_dir)
    assert len(inst.orders) == 12 and len(inst.couriers) == 3 and len(inst.restaurants) == 3
    assert inst.meters_per_minute == 320 and inst.target_min == 40
    assert inst.orders[0].ready == 612 and inst.couriers[2].off == 720
    assert travel_minutes(320, 0, 320) == 1 and travel_minutes(321, 0, 320) == 2
    assert inst.minutes(inst.restaurants["r1"], inst.location("o1")) == 4  # 985 m


@pytest.mark.parametrize(
    ("file", "text", "message"),
    [
        ("orders.txt", "order\tx\ty\n", "header"),
        (
            "orders.txt",
            "order\tx\ty\tplacement_time\trestaurant\tready_time\no1\t1\t2\tx\tr1\t3\n",
            "placement_time 'x' is not a number",
        ),
        (
            "orders.txt",
            "order\tx\ty\tplacement_time\trestaurant\tready_time\no1\t1\t2\t5\tr9\t6\n",
            "unknown restaurant",
        ),
        ("couriers.txt", "courier\tx\ty\ton_time\toff_time\nc1\t0\t0\t50\t40\n", "off_time"),
    ],
)
def test_reader_errors_name_file_and_problem(
    instance_dir: Path, file: str, text: str, message: str
) -> None:
    """A malformed file is an MdrpFormatError naming the file and what is wrong."""
    (instance_dir / file).write_text(text)
    with pytest.raises(MdrpFormatError, match=message) as info:
        read_instance(instance_dir)
    assert file in str(info.value)


def test_replays_price_every_second_and_keep_their_late_pickup_price(instance_dir: Path) -> None:
    """A replay prices time to the door, pays no promise fee, and keeps its pickup price.

    The default scenario's buffer price fell once its promise fee kept promises; an MDRP
    day has neither buffer nor fee, so its late-pickup price stays where it was measured.
    """
    settings = mdrp_world(read_instance(instance_dir)).settings
    assert settings.promise_buffer_s is None
    assert settings.promise_cost_per_s == MDRP_LATE_PICKUP_COST_PER_S
    assert EngineSettings().promise_cost_per_s < MDRP_LATE_PICKUP_COST_PER_S


def test_missing_folder_is_a_clear_error(tmp_path: Path) -> None:
    """A path that is not an instance folder says so."""
    with pytest.raises(MdrpFormatError, match="not a directory"):
        read_instance(tmp_path / "nowhere")


@pytest.mark.parametrize("policy", ["nearest-idle", "optimizer"])
def test_replay_writes_a_feasible_solution_with_equal_metrics(
    instance_dir: Path, tmp_path: Path, policy: str
) -> None:
    """The replay's files pass every check and the checker's metrics equal ours."""
    out = run(
        SimulationOptions(
            policy=policy,
            mdrp=instance_dir,
            mdrp_solution=tmp_path / "solution",
            solver_budget_s=0.5,
        )
    )
    assert out.mdrp is not None
    report = check(read_instance(instance_dir), tmp_path / "solution")
    assert report.feasible, report.violations
    assert report.metrics == out.mdrp
    assert out.mdrp["orders_delivered"] >= 10
    lines = (tmp_path / "solution" / ORDERS).read_text().splitlines()
    assert lines[0] == "order placement_time ready_time pickup_time dropoff_time courier"
    assert len(lines) - 1 == out.mdrp["orders_delivered"]
    restaurant = {o.id: o.restaurant for o in read_instance(instance_dir).orders}
    for line in (tmp_path / "solution" / ASSIGNMENTS).read_text().splitlines()[1:]:
        assert len({restaurant[o] for o in line.split()[3:]}) == 1  # one merchant per trip
    assert check_main([str(instance_dir), str(tmp_path / "solution")]) == 0


def _solved(instance_dir: Path, tmp_path: Path) -> Path:
    sol = tmp_path / "solution"
    run(SimulationOptions(policy="nearest-idle", mdrp=instance_dir, mdrp_solution=sol))
    return sol


def _edit(path: Path, line: int, column: int, value: str) -> None:
    rows = [r.split() for r in path.read_text().splitlines()]
    rows[line][column] = value
    path.write_text("\n".join(" ".join(r) for r in rows) + "\n")


def test_checker_catches_broken_solutions(instance_dir: Path, tmp_path: Path) -> None:
    """Early pickups, early assignments, teleports and duplicates are each reported."""
    sol = _solved(instance_dir, tmp_path)
    inst = read_instance(instance_dir)
    assert check(inst, sol).feasible
    original = {n: (sol / n).read_text() for n in (ASSIGNMENTS, ORDERS, COURIERS)}

    first = (sol / ASSIGNMENTS).read_text().splitlines()[1].split()
    ready = min(o.ready for o in inst.orders if o.id in first[3:])
    _edit(sol / ASSIGNMENTS, 1, 1, str(ready - 1))
    assert any("before" in v and "ready" in v for v in check(inst, sol).violations)
    (sol / ASSIGNMENTS).write_text(original[ASSIGNMENTS])

    _edit(sol / ASSIGNMENTS, 1, 0, "0")
    assert any("assigned at 0 before" in v for v in check(inst, sol).violations)
    (sol / ASSIGNMENTS).write_text(original[ASSIGNMENTS])

    _edit(
        sol / COURIERS, 2, 2, "r3" if original[COURIERS].split("\n")[2].split()[2] != "r3" else "r2"
    )
    assert not check(inst, sol).feasible
    (sol / COURIERS).write_text(original[COURIERS])

    dup = original[ASSIGNMENTS].splitlines()
    (sol / ASSIGNMENTS).write_text("\n".join([*dup, dup[1]]) + "\n")
    assert any("also in" in v for v in check(inst, sol).violations)
    (sol / ASSIGNMENTS).write_text(original[ASSIGNMENTS])

    rows = original[ORDERS].splitlines()
    first_order = rows[1].split()
    first_order[4] = str(int(first_order[4]) + 500)  # delivered long after the courier left
    (sol / ORDERS).write_text("\n".join([rows[0], " ".join(first_order), *rows[2:]]) + "\n")
    assert any("door" in v for v in check(inst, sol).violations)
    assert check_main([str(instance_dir), str(sol)]) == 1


def _spread(folder: Path, factor: int) -> Path:
    """The tiny instance with every coordinate ``factor`` times further out."""
    for name, columns in (("restaurants.txt", (1, 2)), ("orders.txt", (1, 2))):
        lines = (folder / name).read_text().splitlines()
        rows = [line.split("\t") for line in lines[1:]]
        for row in rows:
            for c in columns:
                row[c] = str(int(row[c]) * factor)
        (folder / name).write_text("\n".join([lines[0], *("\t".join(r) for r in rows)]) + "\n")
    lines = (folder / "couriers.txt").read_text().splitlines()
    rows = [line.split("\t") for line in lines[1:]]
    for row in rows:
        row[1], row[2] = str(int(row[1]) * factor), str(int(row[2]) * factor)
        row[4] = "1400"  # long enough shifts to cross the city
    (folder / "couriers.txt").write_text(
        "\n".join([lines[0], *("\t".join(r) for r in rows)]) + "\n"
    )
    return folder


def test_a_city_wide_day_replays_feasibly(instance_dir: Path, tmp_path: Path) -> None:
    """Points up to ~25 km from their centre (a 50 km city) replay, FEASIBLE by the checker."""
    city = _spread(instance_dir, 16)
    out = run(
        SimulationOptions(
            policy="optimizer", mdrp=city, mdrp_solution=tmp_path / "sol", solver_budget_s=0.3
        )
    )
    assert out.mdrp is not None
    report = check(read_instance(city), tmp_path / "sol")
    assert report.feasible, report.violations
    assert out.mdrp["orders_delivered"] >= 10


def test_points_beyond_a_service_zone_are_refused(instance_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(MdrpFormatError, match="service zone"):
        run(SimulationOptions(policy="nearest-idle", mdrp=_spread(instance_dir, 40)))
