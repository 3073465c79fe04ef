"""The `dispatch` command line: demo, simulate, serve, bench."""

from __future__ import annotations

from typing import Annotated

import typer

from api.cli_bench import bench_app
from api.cli_serve import serve
from api.cli_simulate import simulate

app = typer.Typer(
    help="Community delivery and technician dispatch optimizer.",
    no_args_is_help=True,
    add_completion=False,
)
app.add_typer(bench_app, name="bench")
app.command()(serve)
app.command()(simulate)


@app.command()
def demo(
    orders: Annotated[int, typer.Option(min=1, max=2000, help="Orders in the batch.")] = 60,
    couriers: Annotated[int, typer.Option(min=1, max=2000, help="Couriers on duty.")] = 20,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 7,
    time_limit: Annotated[float, typer.Option(min=0.1, help="Solver budget in seconds.")] = 2.0,
) -> None:
    """Solve one generated dispatch batch in a 3 km community and summarise it."""
    from api.cli_demo import run_demo

    run_demo(orders=orders, couriers=couriers, seed=seed, time_limit=time_limit)


if __name__ == "__main__":  # pragma: no cover
    app()
