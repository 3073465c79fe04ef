"""`dispatch bench solver` on tiny generated Solomon and Li & Lim files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from api.cli import app
from solver.instances import check_float, euclidean_distance
from solver.read import Instance, read_instance, write_lilim, write_solomon


def _solomon(rng: np.random.Generator, n: int = 12) -> Instance:
    x = rng.uniform(0, 50, n + 1)
    y = rng.uniform(0, 50, n + 1)
    ready = np.concatenate([[0.0], rng.uniform(0, 100, n).round()])
    return Instance(
        name="T101",
        kind="vrptw",
        x=x.round(),
        y=y.round(),
        demand=np.concatenate([[0], rng.integers(1, 10, n)]),
        ready=ready,
        due=np.concatenate([[1000.0], ready[1:] + 200]),
        service=np.concatenate([[0.0], np.full(n, 5.0)]),
        num_vehicles=4,
        capacity=50,
        pairs=np.zeros((0, 2), dtype=np.int64),
    )


def _lilim(rng: np.random.Generator, pairs: int = 5) -> Instance:
    n = 2 * pairs
    demand = np.zeros(n + 1, dtype=np.int64)
    pair_list = []
    for k in range(pairs):
        p, d = 2 * k + 1, 2 * k + 2
        q = int(rng.integers(1, 10))
        demand[p], demand[d] = q, -q
        pair_list.append((p, d))
    return Instance(
        name="tl101",
        kind="pdptw",
        x=rng.uniform(0, 50, n + 1).round(),
        y=rng.uniform(0, 50, n + 1).round(),
        demand=demand,
        ready=np.zeros(n + 1),
        due=np.full(n + 1, 1000.0),
        service=np.concatenate([[0.0], np.full(n, 3.0)]),
        num_vehicles=3,
        capacity=30,
        pairs=np.array(pair_list, dtype=np.int64),
    )


def _write_set(tmp_path: Path) -> tuple[Path, dict[str, Instance]]:
    rng = np.random.default_rng(11)
    folder = tmp_path / "set" / "instances"
    folder.mkdir(parents=True)
    sol, pdp = _solomon(rng), _lilim(rng)
    write_solomon(folder / "T101.txt", sol)
    write_lilim(folder / "tl101.txt", pdp)
    (tmp_path / "set" / "bks.csv").write_text(
        "instance,bks_vehicles,bks_distance\nT101,3,100.0\ntl101,2,100.0\n"
    )
    return folder, {"T101": sol, "tl101": pdp}


def test_bench_cli_writes_the_documented_json(tmp_path: Path) -> None:
    """Routes use file ids, plans are feasible in double precision, gaps sit beside results."""
    folder, instances = _write_set(tmp_path)
    out = tmp_path / "res.json"
    md = tmp_path / "RESULTS.md"
    result = CliRunner().invoke(
        app,
        [
            "bench",
            "solver",
            str(folder / "T101.txt"),
            str(folder / "tl101.txt"),
            "--time-limit",
            "0.3",
            "--json",
            str(out),
            "--baseline",
            "--results-md",
            str(md),
        ],
    )
    assert result.exit_code == 0, result.output
    data = json.loads(out.read_text())
    rows = {r["instance"]: r for r in data["results"]}
    assert set(rows) == {"T101", "tl101"}
    for name, inst in instances.items():
        row = rows[name]
        assert set(row) == {"instance", "routes", "vehicles", "distance", "feasible", "solve_s"}
        assert row["feasible"] is True
        served = sorted(i for route in row["routes"] for i in route)
        assert served == list(range(1, inst.num_nodes))
        assert row["vehicles"] == len(row["routes"])
        assert check_float(read_instance(folder / f"{name}.txt"), row["routes"]) == []
        assert row["distance"] == pytest.approx(euclidean_distance(inst, row["routes"]))
        detail = data["details"][name]
        assert detail["gap_pct"] == pytest.approx((row["distance"] / 100.0 - 1) * 100)
        assert detail["baseline_distance"] is None or detail["baseline_distance"] > 0
    assert set(data["summary"]) == {"vrptw", "pdptw"}
    text = md.read_text()
    assert "| T101 |" in text and "Command: `dispatch bench solver" in text
    assert "plain OR-Tools" in text and "ortools" in text


def test_bench_cli_peers_print_our_distance_over_theirs(tmp_path: Path) -> None:
    """--peers runs PyVRP and VROOM and reports a ratio column for each."""
    folder, _ = _write_set(tmp_path)
    out = tmp_path / "res.json"
    args = ["bench", "solver", str(folder / "T101.txt"), "--time-limit", "0.2", "--peers"]
    result = CliRunner().invoke(app, [*args, "--json", str(out)])
    assert result.exit_code == 0, result.output
    peers = json.loads(out.read_text())["details"]["T101"]["peers"]
    assert set(peers) == {"pyvrp", "vroom"}
    assert all(d is None or d > 0 for d in peers.values())
    stats = json.loads(out.read_text())["summary"]["vrptw"]
    assert "ours_over_pyvrp" in stats and "ours_over_vroom" in stats


def test_bench_cli_rejects_missing_files(tmp_path: Path) -> None:
    """A path that does not exist is a clear usage error, not a traceback."""
    result = CliRunner().invoke(app, ["bench", "solver", str(tmp_path / "nope.txt")])
    assert result.exit_code != 0
    assert "no such file" in result.output
