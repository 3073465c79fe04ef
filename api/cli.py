"""The `dispatch` command line: demo, simulate, backtest, serve, worker, bench."""

from __future__ import annotations

import typer

from api.cli_backtest import backtest
from api.cli_bench import bench_app
from api.cli_serve import serve
from api.cli_simulate import demo, simulate
from api.cli_worker import worker

app = typer.Typer(
    help="Community delivery and technician dispatch optimizer.",
    no_args_is_help=True,
    add_completion=False,
)
app.add_typer(bench_app, name="bench")
app.command()(serve)
app.command()(worker)
app.command()(simulate)
app.command()(demo)
app.command()(backtest)


if __name__ == "__main__":  # pragma: no cover
    app()
