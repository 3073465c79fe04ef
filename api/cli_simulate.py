"""`dispatch simulate` and `dispatch demo`: options in, a progress bar and a KPI table out.

The work happens in ``simulations.sim.runner``; this module only parses options and
renders with rich.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from dispatch.policies import POLICIES

if TYPE_CHECKING:
    PolicyName = str
else:  # the --policy choices are the names in the one registry
    PolicyName = Literal[tuple(POLICIES)]

#: The baseline `dispatch demo` compares with: the classic myopic dispatcher.
BASELINE = "nearest-idle"
POLICY_HELP = (
    "Dispatch policy: optimizer (regret insertion, then a large-neighbourhood search), "
    "regret-insertion (its start alone), nearest-idle (nearest idle worker, one order a trip)."
)


class Switch(StrEnum):
    on = "on"
    off = "off"


KPI_LABELS: dict[str, tuple[str, str]] = {
    "orders_total": ("orders", "{:d}"),
    "orders_delivered": ("delivered", "{:d}"),
    "on_time_rate": ("on time", "{:.1%}"),
    "click_to_door_p50_min": ("click-to-door p50 (min)", "{:.1f}"),
    "click_to_door_p90_min": ("click-to-door p90 (min)", "{:.1f}"),
    "click_to_door_p95_min": ("click-to-door p95 (min)", "{:.1f}"),
    "ready_to_pickup_p50_min": ("ready-to-pickup p50 (min)", "{:.1f}"),
    "courier_utilization": ("courier utilisation", "{:.1%}"),
    "orders_per_courier_hour": ("orders per courier hour", "{:.2f}"),
    "km_per_order": ("km per order", "{:.2f}"),
    "jobs_total": ("jobs", "{:d}"),
    "jobs_on_time_rate": ("jobs on time", "{:.1%}"),
    "emergency_response_p90_min": ("emergency response p90 (min)", "{:.1f}"),
    "mean_surge_multiplier": ("mean surge multiplier", "{:.3f}"),
    "max_surge_multiplier": ("max surge multiplier", "{:.2f}"),
    "quotes_declined": ("quotes declined", "{:d}"),
    "revenue": ("revenue: order value + fees (CNY)", "{:,.0f}"),
    "delivery_fees": ("delivery fees (CNY)", "{:,.0f}"),
    "courier_earnings_per_hour": ("courier earnings per hour (CNY)", "{:.1f}"),
    "unassigned_at_end": ("unassigned at end", "{:d}"),
    "solver_fallbacks": ("solver fallbacks", "{:d}"),
    "tick_p95_ms": ("tick p95 (ms)", "{:.0f}"),
}


def _fmt(value: Any, pattern: str) -> str:
    if value is None:
        return "–"
    try:
        return pattern.format(value)
    except (ValueError, TypeError):
        return str(value)


def kpi_table(title: str, kpis: Mapping[str, Any], mdrp: Mapping[str, Any] | None) -> Table:
    table = Table(title=title)
    table.add_column("KPI")
    table.add_column("value", justify="right")
    for key, (label, pattern) in KPI_LABELS.items():
        table.add_row(label, _fmt(kpis.get(key), pattern))
    for key, value in (mdrp or {}).items():
        table.add_row(f"MDRP {key.replace('_', ' ')}", _fmt(value, "{:g}"))
    return table


def comparison_table(title: str, runs: Mapping[str, Mapping[str, Any]]) -> Table:
    """KPIs of several runs of the same day side by side, one column per policy."""
    table = Table(title=title)
    table.add_column("KPI")
    for name in runs:
        table.add_column(name, justify="right")
    for key, (label, pattern) in KPI_LABELS.items():
        table.add_row(label, *(_fmt(k.get(key), pattern) for k in runs.values()))
    return table


@contextmanager
def _progress(console: Console, label: str) -> Iterator[Any]:
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.fields[clock]}"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as bar:
        task = bar.add_task(label, total=1.0, clock="")

        def update(t_s: float, end_s: float) -> None:
            bar.update(
                task,
                completed=t_s / end_s if end_s > 0 else 1.0,
                clock=f"{t_s / 3600:.2f} / {end_s / 3600:.2f} h",
            )

        yield update


def _run(console: Console, options: Any, label: str) -> Any:
    from dispatch.errors import InvalidInput
    from simulations.mdrp.instance import MdrpFormatError
    from simulations.sim.runner import run
    from simulations.sim.scenario import ScenarioError

    try:
        with _progress(console, label) as update:
            return run(options, update)
    except (ScenarioError, MdrpFormatError, InvalidInput) as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None


def simulate(
    scenario: Annotated[
        str, typer.Option(help="Shipped scenario name or path to a scenario TOML file.")
    ] = "default",
    seed: Annotated[int, typer.Option(help="Random seed of the simulated day.")] = 0,
    policy: Annotated[PolicyName, typer.Option(help=POLICY_HELP)] = "optimizer",
    surge: Annotated[Switch, typer.Option(help="Surge pricing on or off.")] = Switch.on,
    rules: Annotated[
        Path | None, typer.Option(help="Surge rule set file (.toml or .json).")
    ] = None,
    hours: Annotated[
        float | None, typer.Option(min=0.05, max=48, help="Simulated hours of demand.")
    ] = None,
    out: Annotated[Path | None, typer.Option(help="Output directory.")] = None,
    mdrp: Annotated[
        Path | None, typer.Option(help="Replay a Grubhub MDRP instance folder instead.")
    ] = None,
    mdrp_solution: Annotated[
        Path | None, typer.Option(help="Write the MDRP solution files into this directory.")
    ] = None,
    budget: Annotated[
        float | None, typer.Option(min=0.01, max=60, help="Solver budget per tick, seconds.")
    ] = None,
    reproducible: Annotated[
        bool,
        typer.Option(
            help="End each tick's search by work, not by the clock: the same KPIs on every "
            "run and machine (several times slower; --budget is then ignored)."
        ),
    ] = False,
) -> None:
    """Simulate a day of a community (or replay an MDRP instance) and report KPIs."""
    from simulations.sim.runner import SimulationOptions

    if mdrp_solution is not None and mdrp is None:
        raise typer.BadParameter("--mdrp-solution needs --mdrp")
    name = mdrp.name if mdrp is not None else Path(scenario).stem
    out_dir = out or Path("runs") / f"{name}-{policy}-seed{seed}"
    options = SimulationOptions(
        scenario=scenario,
        seed=seed,
        policy=policy,
        surge=surge == Switch.on,
        rules=rules,
        hours=hours,
        out_dir=out_dir,
        mdrp=mdrp,
        mdrp_solution=mdrp_solution,
        solver_budget_s=budget,
        reproducible=reproducible,
    )
    console = Console()
    output = _run(console, options, f"simulating {name} ({policy})")
    title = f"{output.result.world.name}: {output.result.policy}, seed {seed}"
    console.print(kpi_table(title, output.kpis, output.mdrp))
    r = output.result.rules
    if r and output.mdrp is None:
        console.print(f"surge rules: {r['name']} (hash {r['hash']}, version {r['version']})")
    for key, path in output.files.items():
        console.print(f"{key}: {path}")


def demo(
    hours: Annotated[float, typer.Option(min=0.1, max=8, help="Simulated hours.")] = 1.5,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    policy: Annotated[PolicyName, typer.Option(help=POLICY_HELP)] = "optimizer",
    compare: Annotated[
        bool,
        typer.Option(help=f"Also run the {BASELINE} baseline on the same day, side by side."),
    ] = True,
    out: Annotated[Path, typer.Option(help="Output directory.")] = Path("runs/demo"),
) -> None:
    """Simulate the default community's lunch peak and show what dispatch did."""
    from simulations.sim.runner import SimulationOptions

    console = Console()
    names = list(dict.fromkeys([policy, BASELINE] if compare else [policy]))
    runs: dict[str, Any] = {}
    for i, name in enumerate(names):
        options = SimulationOptions(
            scenario="default",
            seed=seed,
            policy=name,
            hours=hours,
            out_dir=out if i == 0 else out / name,  # the baseline's files beside the main run's
            report=len(names) == 1,  # compared runs share one report, written below
        )
        runs[name] = _run(console, options, f"{name}: {hours:g} h of the default community")
    title = f"Demo: default community, {hours:g} h, seed {seed}"
    if len(runs) == 1:
        console.print(kpi_table(title, runs[policy].kpis, None))
        report = runs[policy].files["report"]
    else:
        from simulations.sim.report import write_comparison  # matplotlib: only now

        console.print(comparison_table(title, {n: r.kpis for n, r in runs.items()}))
        both = {n: (r.result, r.kpis) for n, r in runs.items()}
        report = write_comparison(both, out / "report.html")
    console.print(f"report: {report.resolve()}")
