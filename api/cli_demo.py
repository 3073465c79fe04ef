"""Rendering of `dispatch demo` (the logic lives in simulations.solver_demo)."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table


def run_demo(*, orders: int, couriers: int, seed: int, time_limit: float) -> None:
    from simulations.solver_demo import run

    console = Console()
    with console.status(
        f"solving {orders} orders for {couriers} couriers ({time_limit:g} s budget)"
    ):
        batch, rows = run(orders, couriers, seed, time_limit)
    table = Table(
        title=f"Dispatch batch: {batch.orders} orders ({batch.on_board} on board), "
        f"{batch.couriers} couriers, 3 km community"
    )
    for col in (
        "policy",
        "assigned",
        "dropped",
        "on time %",
        "mean door min",
        "km",
        "couriers used",
        "solve s",
        "checked",
        "backend",
    ):
        table.add_column(col, justify="left" if col in ("policy", "backend") else "right")
    for r in rows:
        table.add_row(
            r.policy,
            str(r.assigned),
            str(r.dropped),
            f"{r.on_time_pct:.1f}",
            f"{r.mean_door_min:.1f}",
            f"{r.km:.1f}",
            str(r.couriers_used),
            f"{r.solve_s:.2f}",
            "feasible" if r.feasible else "VIOLATIONS",
            r.backend,
        )
    console.print(table)
