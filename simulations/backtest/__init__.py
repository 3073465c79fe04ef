"""Surge backtests: rule sets compared on the same simulated (or recorded) days.

``run_backtest`` runs every ``Variant`` (a rule set) on every seed of a scenario,
or on a recorded day's requests, in parallel processes, and compares each KPI
with the first variant by paired differences and 95 % t intervals
(``simulations.backtest.stats``); ``write_outputs`` writes ``backtest.json`` and
one self-contained ``report.html`` (matplotlib, imported only then).
"""

from simulations.backtest.outputs import write_outputs
from simulations.backtest.runner import (
    BACKTEST_KPIS,
    BacktestOptions,
    BacktestResult,
    Cell,
    run_backtest,
    run_cell,
)
from simulations.backtest.stats import PairedDiff, Summary, compare, paired_diff, summarize
from simulations.backtest.variants import Variant, load_variants, variant_of

__all__ = [
    "BACKTEST_KPIS",
    "BacktestOptions",
    "BacktestResult",
    "Cell",
    "PairedDiff",
    "Summary",
    "Variant",
    "compare",
    "load_variants",
    "paired_diff",
    "run_backtest",
    "run_cell",
    "summarize",
    "variant_of",
    "write_outputs",
]
