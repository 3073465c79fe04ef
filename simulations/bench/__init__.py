"""Benchmark harnesses behind ``dispatch bench``.

``run_bench`` solves Solomon and Li & Lim instance files and certifies every
plan (``simulations.bench.solver_bench``), optionally beside PyVRP and VROOM
(``simulations.bench.peers``); ``run_batch`` solves one generated dispatch batch
by regret insertion and by the optimizer (``simulations.bench.batch``).
"""

from simulations.bench.batch import DemoBatch, PlanSummary, make_batch, run_batch
from simulations.bench.peers import PEERS, PeerMissing
from simulations.bench.solver_bench import (
    BenchRow,
    markdown,
    run_bench,
    summary_lines,
    table_rows,
    write_json,
)

__all__ = [
    "PEERS",
    "BenchRow",
    "DemoBatch",
    "PeerMissing",
    "PlanSummary",
    "make_batch",
    "markdown",
    "run_batch",
    "run_bench",
    "summary_lines",
    "table_rows",
    "write_json",
]
