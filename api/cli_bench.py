"""`dispatch bench ...`: benchmarks behind the command line, with progress and tables."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

bench_app = typer.Typer(
    help="Benchmarks: solver quality on public instances.", no_args_is_help=True
)


def _fmt(x: float | None, spec: str = ".2f") -> str:
    return "—" if x is None else format(x, spec)


@bench_app.command("solver")
def bench_solver(
    files: Annotated[list[Path], typer.Argument(help="Solomon or Li & Lim instance files.")],
    time_limit: Annotated[
        float, typer.Option("--time-limit", min=0.05, help="Seconds each.")
    ] = 2.0,
    json_out: Annotated[Path | None, typer.Option("--json", help="Write results as JSON.")] = None,
    baseline: Annotated[bool, typer.Option(help="Also run plain OR-Tools and compare.")] = False,
    peers: Annotated[bool, typer.Option(help="Also run PyVRP and VROOM (bench extra).")] = False,
    results_md: Annotated[
        Path | None, typer.Option("--results-md", help="Append the tables to this Markdown file.")
    ] = None,
) -> None:
    """Solve each instance within the limit and report distance, gap to BKS and feasibility."""
    from simulations.solver_bench import machine_facts, run_bench, summary, write_json

    missing = [f for f in files if not f.is_file()]
    if missing:
        raise typer.BadParameter(f"no such file: {missing[0]}")
    console = Console()
    table = Table(title=f"Solver benchmark, {time_limit:g} s per instance")
    for col in ("instance", "vehicles", "distance", "BKS", "gap %", "feasible", "seconds"):
        table.add_column(col, justify="right" if col != "instance" else "left")
    if baseline:
        table.add_column("plain OR-Tools", justify="right")
    if peers:
        table.add_column("ours / PyVRP", justify="right")
        table.add_column("ours / VROOM", justify="right")

    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as progress:
        task = progress.add_task("solving", total=len(files))

        def on_row(row: object) -> None:
            progress.advance(task)

        rows = run_bench(files, time_limit, baseline=baseline, peers=peers, on_row=on_row)

    md_rows: list[str] = []
    for r in rows:
        cells = [
            r.instance,
            str(r.vehicles),
            _fmt(r.distance),
            _fmt(r.bks),
            _fmt(r.gap_pct),
            "yes" if r.feasible else "NO",
            _fmt(r.solve_s),
        ]
        if baseline:
            cells.append(_fmt(r.baseline_distance) if r.baseline_distance else "no solution")
        if peers:
            for name in ("pyvrp", "vroom"):
                peer = r.peers.get(name)
                cells.append(_fmt(r.distance / peer, ".3f") if peer and r.distance else "—")
        table.add_row(*cells)
        md_rows.append("| " + " | ".join(cells) + " |")
    console.print(table)
    stats = summary(rows)
    for kind, s in stats.items():
        console.print(
            f"[bold]{kind}[/bold]: "
            + ", ".join(
                f"{k}={_fmt(v, '.3f') if isinstance(v, float) else v}" for k, v in s.items()
            )
        )
    if json_out is not None:
        write_json(json_out, rows)
        console.print(f"wrote {json_out}")
    if results_md is not None:
        header = ["instance", "vehicles", "distance", "BKS", "gap %", "feasible", "seconds"]
        if baseline:
            header.append("plain OR-Tools")
        if peers:
            header += ["ours / PyVRP", "ours / VROOM"]
        facts = machine_facts()
        lines = [
            "",
            f"### Solver, {time_limit:g} s per instance ({datetime.now(UTC):%Y-%m-%d %H:%M} UTC)",
            "",
            "Machine: " + ", ".join(f"{k} {v}" for k, v in facts.items()),
            "",
            "| " + " | ".join(header) + " |",
            "|" + "---|" * len(header),
            *md_rows,
            "",
            "Summary:",
            "",
        ]
        for kind, s in stats.items():
            lines.append(
                f"- **{kind}**: "
                + ", ".join(
                    f"{k} {_fmt(v, '.3f') if isinstance(v, float) else v}" for k, v in s.items()
                )
            )
        with results_md.open("a") as fh:
            fh.write("\n".join(lines) + "\n")
        console.print(f"appended to {results_md}")
