"""`dispatch bench ...`: benchmarks behind the command line, with progress and tables."""

from __future__ import annotations

import shlex
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, cast

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

bench_app = typer.Typer(
    help="Benchmarks: solver quality on public instances, dispatch against hindsight.",
    no_args_is_help=True,
)


def _compact_paths(files: list[Path]) -> str:
    """Paths for the record, a whole folder of ``*.txt`` written as one glob."""
    parts: list[str] = []
    done: set[Path] = set()
    for f in files:
        if f.parent in done:
            continue
        folder = sorted(f.parent.glob("*.txt"))
        if folder and set(folder) <= set(files):
            parts.append(shlex.quote(str(f.parent)) + "/*.txt")
            done.add(f.parent)
        else:
            parts.append(shlex.quote(str(f)))
    return " ".join(parts)


@bench_app.command("solver")
def bench_solver(
    files: Annotated[list[Path], typer.Argument(help="Solomon or Li & Lim instance files.")],
    time_limit: Annotated[
        float, typer.Option("--time-limit", min=0.05, help="Seconds per instance.")
    ] = 2.0,
    json_out: Annotated[Path | None, typer.Option("--json", help="Write results as JSON.")] = None,
    baseline: Annotated[
        bool, typer.Option("--baseline", help="Also run plain OR-Tools and compare.")
    ] = False,
    peers: Annotated[
        bool, typer.Option("--peers", help="Also run PyVRP and VROOM alone with the same limit.")
    ] = False,
    results_md: Annotated[
        Path | None, typer.Option("--results-md", help="Append the table to this Markdown file.")
    ] = None,
) -> None:
    """Solve each instance within the limit; report distance, gap to BKS and feasibility."""
    from simulations.bench.solver_bench import (
        BenchRow,
        markdown,
        run_bench,
        summary_lines,
        table_rows,
        write_json,
    )

    missing = [f for f in files if not f.is_file()]
    if missing:
        raise typer.BadParameter(f"no such file: {missing[0]}")
    console = Console()
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as progress:
        task = progress.add_task("solving", total=len(files))

        def on_row(row: BenchRow) -> None:
            progress.update(task, advance=1, description=f"solved {row.instance}")

        rows = run_bench(
            files,
            time_limit,
            baseline=baseline,
            peers=peers,
            on_row=on_row,
            on_note=lambda note: console.print(f"[yellow]{note}[/yellow]"),
        )
    header, cells = table_rows(rows, baseline=baseline, peers=peers)
    table = Table(title=f"Solver benchmark, {time_limit:g} s per instance")
    for col in header:
        table.add_column(col, justify="left" if col == "instance" else "right")
    for line in cells:
        table.add_row(*line)
    console.print(table)
    for text_line in summary_lines(rows):
        console.print(text_line)
    if json_out is not None:
        write_json(json_out, rows)
        console.print(f"wrote {json_out}")
    if results_md is not None:
        flags = [f"--time-limit {time_limit:g}"]
        flags += [f"--json {shlex.quote(str(json_out))}"] if json_out is not None else []
        flags += ["--baseline"] if baseline else []
        flags += ["--peers"] if peers else []
        flags += [f"--results-md {shlex.quote(str(results_md))}"]
        paths = _compact_paths(files)
        command = f"dispatch bench solver {paths} {' '.join(flags)}"
        text = markdown(
            rows,
            time_limit,
            baseline=baseline,
            peers=peers,
            command=command,
            stamp=f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        )
        with results_md.open("a") as fh:
            fh.write(text)
        console.print(f"appended to {results_md}")


@bench_app.command("batch")
def bench_batch(
    orders: Annotated[int, typer.Option(min=1, max=2000, help="Orders in the batch.")] = 60,
    couriers: Annotated[int, typer.Option(min=1, max=2000, help="Couriers on duty.")] = 20,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 7,
    time_limit: Annotated[float, typer.Option(min=0.1, help="Solver budget in seconds.")] = 2.0,
) -> None:
    """Solve one generated dispatch batch in a 3 km community: regret insertion and optimizer."""
    from api.cli_demo import run_demo

    run_demo(orders=orders, couriers=couriers, seed=seed, time_limit=time_limit)


@bench_app.command("hindsight")
def bench_hindsight(
    seeds: Annotated[
        list[int] | None, typer.Option("--seed", help="Scenario seed (repeat for several).")
    ] = None,
    hours: Annotated[float, typer.Option(min=0.05, max=24, help="Simulated hours.")] = 8.0,
    budget: Annotated[
        float, typer.Option(min=0.5, help="Search seconds for each run's bound.")
    ] = 100.0,
    surge: Annotated[bool, typer.Option("--surge/--no-surge", help="Surge pricing.")] = True,
    reproducible: Annotated[
        bool,
        typer.Option(
            "--reproducible/--wall-clock",
            help="End the runs' tick searches by work: online figures independent of load.",
        ),
    ] = False,
    run_start: Annotated[
        bool,
        typer.Option(
            "--run-start/--no-run-start",
            help="Also search each bound from the run's own routes (never below the run).",
        ),
    ] = True,
    share: Annotated[
        bool,
        typer.Option(
            "--share/--no-share",
            help="Where both runs met the same day (surge off), measure each against the "
            "better of the two bounds.",
        ),
    ] = True,
    kitchen_start: Annotated[
        bool,
        typer.Option(
            "--kitchen-start/--no-kitchen-start",
            help="Also run the optimizer told every kitchen's real ready time at the order "
            "(one more day per seed) and offer its bound to both runs.",
        ),
    ] = False,
    target: Annotated[
        str,
        typer.Option(
            "--target",
            help="What each delivery of a bound aims at: 'promise' (keep as many as it "
            "can: the best on-time share) or 'fastest' (its fastest time, a fee once its "
            "promise is broken: the best click-to-door).",
        ),
    ] = "promise",
    out: Annotated[
        Path | None, typer.Option("--out", help="Write each run's summary as JSON here.")
    ] = None,
    results_md: Annotated[
        Path | None, typer.Option("--results-md", help="Append the section to this file.")
    ] = None,
) -> None:
    """Optimizer and nearest-idle against each day's hindsight bound (perfect knowledge):
    on-time share, click-to-door, the gap closed, and late work decomposed."""
    from simulations.bench.hindsight_bench import run_hindsight, runs_per_seed, section
    from simulations.hindsight.build import TARGETS, Target

    if target not in TARGETS:
        raise typer.BadParameter(f"must be one of {', '.join(TARGETS)}", param_hint="--target")
    aim = cast(Target, target)
    chosen = seeds or [0, 1, 2, 3]
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    ) as bar:
        steps = len(chosen) * runs_per_seed(kitchen_start) * 2
        task = bar.add_task("runs and bounds", total=steps)
        done = run_hindsight(
            chosen,
            hours=hours,
            budget_s=budget,
            surge=surge,
            reproducible=reproducible,
            from_run=run_start,
            share=share,
            kitchen_start=kitchen_start,
            target=aim,
            out=out,
            advance=lambda: bar.advance(task),
        )
    argv = [f"--seed {s}" for s in chosen]
    argv += [f"--hours {hours:g}", f"--budget {budget:g}", "--surge" if surge else "--no-surge"]
    argv += ["--reproducible"] if reproducible else []
    argv += [] if run_start else ["--no-run-start"]
    argv += [] if share else ["--no-share"]
    argv += ["--kitchen-start"] if kitchen_start else []
    argv += [] if aim == "promise" else ["--target fastest"]
    text = "\n".join(section(done, "dispatch bench hindsight " + " ".join(argv)))
    typer.echo(text)
    if results_md is not None:
        with results_md.open("a", encoding="utf-8") as fh:
            fh.write("\n" + text + "\n")
