"""Rendering of `dispatch bench batch` (the logic lives in simulations.bench.batch)."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table


def run_demo(*, orders: int, couriers: int, seed: int, time_limit: float) -> None:
    from simulations.bench.batch import run_batch

    console = Console()
    with console.status(f"solving {orders} orders for {couriers} couriers ({time_limit:g} s)"):
        batch, rows = run_batch(orders, couriers, seed, time_limit)
    table = Table(
        title=f"Dispatch batch: {batch.orders} orders ({batch.on_board} on board), "
        f"{batch.couriers} couriers, 3 km community"
    )
    table.add_column("policy", no_wrap=True, min_width=9)
    for col in ("served", "dropped", "on time %", "door min", "km", "couriers", "solve s"):
        table.add_column(col, justify="right")
    table.add_column("check", no_wrap=True)
    table.add_column("backend", no_wrap=True)
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
            "ok" if r.feasible else "FAILED",
            r.backend,
        )
    console.print(table)
    console.print(
        "served: orders delivered in the plan; door min: mean minutes from order to door; "
        "check: the plan passed the independent feasibility checker."
    )
