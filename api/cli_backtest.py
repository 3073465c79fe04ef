"""`dispatch backtest`: rule sets compared on the same days, a progress bar and a table out.

The work happens in ``simulations.backtest``; this module only parses options and
renders with rich.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from dispatch.policies import POLICIES

if TYPE_CHECKING:
    PolicyName = str
else:  # the --policy choices are the names in the one registry
    PolicyName = Literal[tuple(POLICIES)]


def summary_table(data: dict[str, Any]) -> Table:
    """Means per variant and paired differences from the first, one row per KPI."""
    from simulations.sim.labels import label_of

    names = [v["name"] for v in data["variants"]]
    table = Table(title=f"Backtest on {len(data['seeds'])} seeds: {' vs '.join(names)}")
    table.add_column("KPI")
    for n in names:
        table.add_column(n, justify="right")
    for n in names[1:]:
        table.add_column(f"{n} − {names[0]} (95 % CI)", justify="right")
    for key, row in data["kpis"].items():
        lab = label_of(key)
        cells = [lab.fmt(row["variants"][n]["mean"]) for n in names]
        for n in names[1:]:
            d = row["variants"][n]["diff"]
            text = lab.fmt(d["mean"], signed=True)
            if d["ci95"] is not None:
                lo, hi = d["ci95"]
                text += f" [{lab.fmt(lo, signed=True)}, {lab.fmt(hi, signed=True)}]"
            cells.append(f"[bold]{text}[/bold]" if d["significant"] else text)
        table.add_row(lab.title, *cells)
    return table


def backtest(
    rules: Annotated[
        list[Path],
        typer.Option(
            help="A rule set file (.toml, .json, or what GET /v1/surge/rules returns); "
            "repeat per variant, the first is the baseline."
        ),
    ],
    out: Annotated[Path, typer.Option(help="Output directory (backtest.json, report.html).")],
    policy: Annotated[PolicyName, typer.Option(help="Dispatch policy of every run.")] = "optimizer",
    scenario: Annotated[
        str, typer.Option(help="Shipped scenario name or path to a scenario TOML file.")
    ] = "default",
    seeds: Annotated[int, typer.Option(min=1, max=1000, help="Days (seeds) per rule set.")] = 8,
    first_seed: Annotated[int, typer.Option(min=0, help="The first seed.")] = 0,
    hours: Annotated[
        float | None,
        typer.Option(
            min=0.05, max=48, help="Simulated hours of demand (a recorded day sets its own)."
        ),
    ] = None,
    jobs: Annotated[int, typer.Option(min=1, max=64, help="Runs in parallel (processes).")] = 1,
    reproducible: Annotated[
        bool,
        typer.Option(help="End each tick's search by work, not by the clock (slower)."),
    ] = False,
    events: Annotated[
        Path | None,
        typer.Option(
            help="Replay the requests of a recorded day (GET /v1/events JSON or a "
            "simulation's events.jsonl) instead of synthetic demand."
        ),
    ] = None,
    community: Annotated[
        str | None, typer.Option(help="With --events: the community to replay.")
    ] = None,
) -> None:
    """Backtest surge rule sets on the same days and compare them with paired intervals."""
    from dispatch.errors import InvalidInput
    from simulations.backtest import BacktestOptions, load_variants, run_backtest, write_outputs
    from simulations.sim.scenario import ScenarioError

    console = Console()
    try:
        options = BacktestOptions(
            variants=load_variants(rules),
            scenario=scenario,
            seeds=seeds,
            first_seed=first_seed,
            hours=hours,
            policy=policy,
            jobs=jobs,
            reproducible=reproducible,
            events=events,
            community_id=community,
        )
        with Progress(
            TextColumn("[bold]backtest"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("runs"),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        ) as bar:
            task = bar.add_task("backtest", total=len(rules) * seeds)
            result = run_backtest(options, lambda done, total: bar.update(task, completed=done))
    except (ScenarioError, InvalidInput) as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    files = write_outputs(result, out)
    console.print(summary_table(result.to_json()))
    console.print(f"{len(rules) * seeds} runs in {result.wall_s:.0f} s with {jobs} process(es)")
    for key, path in files.items():
        console.print(f"{key}: {path}")
