"""`dispatch bench solver` on tiny generated Solomon and Li & Lim files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from typer.testing import CliRunner

from api.cli import app
from solver.instances import check_float
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


def test_bench_cli_writes_the_documented_json(tmp_path: Path) -> None:
    """Routes use file ids, every plan is feasible in double precision, BKS gaps are computed."""
    rng = np.random.default_rng(11)
    folder = tmp_path / "set" / "instances"
    folder.mkdir(parents=True)
    sol, pdp = _solomon(rng), _lilim(rng)
    write_solomon(folder / "T101.txt", sol)
    write_lilim(folder / "tl101.txt", pdp)
    (tmp_path / "set" / "bks.csv").write_text(
        "instance,bks_vehicles,bks_distance\nT101,3,100.0\ntl101,2,100.0\n"
    )
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
    for name, inst in (("T101", sol), ("tl101", pdp)):
        row = rows[name]
        assert row["feasible"] is True
        served = sorted(i for route in row["routes"] for i in route)
        assert served == list(range(1, inst.num_nodes))
        assert row["vehicles"] == len(row["routes"])
        assert check_float(read_instance(folder / f"{name}.txt"), row["routes"]) == []
        assert row["gap_pct"] is not None
        assert row["gap_pct"] == (row["distance"] / 100.0 - 1) * 100
        assert row["baseline_distance"] is None or row["baseline_distance"] > 0
    assert "T101" in md.read_text() and "Solver" in md.read_text()


def test_bench_cli_rejects_missing_files(tmp_path: Path) -> None:
    """A path that does not exist is a clear usage error, not a traceback."""
    result = CliRunner().invoke(app, ["bench", "solver", str(tmp_path / "nope.txt")])
    assert result.exit_code != 0
    assert "no such file" in result.output
