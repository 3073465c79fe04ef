"""One self-contained HTML page per run (or per compared runs): KPIs and figures as PNG.

The KPI table names each KPI with its unit and rounds it
(``simulations.sim.labels``). Figures: on-time share over a rolling window
(``ON_TIME_WINDOW_S``, so a 5-minute bin with one late delivery does not drop
the line to 0 %) with each bin's deliveries, and open orders; the
click-to-door histogram; supply, demand and surge multiplier over time; a map
of the community's H3 cells coloured by demand and by mean surge multiplier,
with merchants and a few workers' paths. ``write_comparison`` puts several
runs of one day (the demo's two policies) on one page. No network, no
external files.
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import numpy as np
from matplotlib.collections import PolyCollection
from matplotlib.figure import Figure

import geo
from dispatch.model import WorkerKind
from simulations.sim.labels import KPI_LABELS, label_of
from simulations.sim.records import Sample, SimulationResult

MAX_PATHS = 6
#: The on-time line's rolling window: deliveries of the last half hour.
ON_TIME_WINDOW_S = 1800.0


def _png(fig: Figure) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _hours(result: SimulationResult, t_s: np.ndarray) -> np.ndarray:
    return (result.world.start_hour + t_s / 3600.0) % 48.0


def rolling_on_time(
    samples: list[Sample], interval_s: float, window_s: float = ON_TIME_WINDOW_S
) -> np.ndarray:
    """On-time share of the deliveries in the window ending at each sample (NaN: none)."""
    k = max(1, round(window_s / max(interval_s, 1.0)))
    done = np.array([x.delivered for x in samples], dtype=float)
    ok = np.array([x.delivered_on_time for x in samples], dtype=float)
    kernel = np.ones(k)
    n = np.convolve(done, kernel)[: len(done)]
    good = np.convolve(ok, kernel)[: len(ok)]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, good / np.where(n > 0, n, 1.0), np.nan)


def fig_service(result: SimulationResult) -> Figure:
    """On-time share over a rolling window, each bin's deliveries, and open orders."""
    fig = Figure(figsize=(9, 3.6), layout="constrained")
    ax = fig.add_subplot()
    s = result.samples
    t = _hours(result, np.array([x.t_s for x in s], dtype=float))
    rate = rolling_on_time(s, result.world.sample_interval_s)
    minutes = ON_TIME_WINDOW_S / 60.0
    ax.plot(t, 100 * rate, color="tab:green", lw=2, label=f"on time, last {minutes:g} min (%)")
    ax.set_ylim(0, 105)
    ax.set_xlabel("local hour")
    ax.set_ylabel("on-time deliveries (%)")
    ax2 = ax.twinx()
    width = result.world.sample_interval_s / 3600.0 * 0.8
    bars = ax2.bar(
        t,
        [x.delivered for x in s],
        width=width,
        color="tab:gray",
        alpha=0.3,
        label="deliveries per bin",
    )
    ax2.plot(t, [x.open_orders for x in s], color="tab:blue", label="open orders")
    ax2.plot(t, [x.unassigned for x in s], color="tab:red", ls="--", label="without worker")
    ax2.set_ylabel("orders")
    ax2.set_ylim(bottom=0)
    handles: list[Any] = [*ax.get_lines(), *ax2.get_lines(), bars]
    labels = [str(h.get_label()) for h in handles]
    ax.legend(handles, labels, loc="upper left", fontsize=8)
    ax.set_title("Service level and open orders")
    return fig


def fig_click_to_door(result: SimulationResult) -> Figure:
    fig = Figure(figsize=(9, 3.2), layout="constrained")
    ax = fig.add_subplot()
    minutes = [
        (o.delivered_s - o.created_s) / 60.0 for o in result.orders if o.delivered_s is not None
    ]
    if minutes:
        ax.hist(minutes, bins=min(40, max(5, len(minutes) // 5)), color="tab:blue", alpha=0.8)
    promise = result.world.community.delivery_sla_min
    ax.axvline(promise, color="tab:red", ls="--", label=f"promise ({promise:g} min)")
    ax.set_xlabel("click-to-door (minutes)")
    ax.set_ylabel("orders")
    ax.legend(fontsize=8)
    ax.set_title(f"Click-to-door of {len(minutes)} delivered orders")
    return fig


def fig_supply_demand(result: SimulationResult) -> Figure:
    fig = Figure(figsize=(9, 3.4), layout="constrained")
    ax = fig.add_subplot()
    s = result.samples
    t = _hours(result, np.array([x.t_s for x in s], dtype=float))
    per_hour = 3600.0 / max(result.world.sample_interval_s, 1.0)
    ax.plot(t, [x.couriers_on for x in s], color="tab:green", label="couriers on shift")
    ax.plot(t, [x.couriers_idle for x in s], color="tab:olive", ls=":", label="couriers idle")
    ax.plot(t, [x.created * per_hour for x in s], color="tab:blue", label="orders per hour")
    ax.set_xlabel("local hour")
    ax.set_ylabel("couriers / orders per hour")
    ax.set_ylim(bottom=0)
    ax2 = ax.twinx()
    q = np.array([np.nan if x.quote_multiplier is None else x.quote_multiplier for x in s])
    ax2.plot(t, q, color="tab:red", marker=".", label="mean quoted multiplier")
    cell_max = [x.cell_multiplier_max for x in s]
    ax2.plot(t, cell_max, color="tab:purple", ls="--", label="max cell")
    ax2.set_ylabel("surge multiplier")
    top = max([1.5, *cell_max, *(q[np.isfinite(q)].tolist())])
    ax2.set_ylim(0.95, top + 0.1)
    lines = ax.get_lines() + ax2.get_lines()
    ax.legend(lines, [str(ln.get_label()) for ln in lines], loc="upper left", fontsize=8)
    ax.set_title("Supply, demand and surge")
    return fig


def fig_map(result: SimulationResult) -> Figure:
    """The community's cells coloured by demand (left) and mean surge (right)."""
    c = result.world.community
    fence = geo.Geofence.circle(c.center.lat, c.center.lng, c.radius_m)
    proj = geo.LocalProjection(c.center.lat, c.center.lng)
    cells = sorted(set(fence.cells(c.h3_resolution)) | set(result.cell_demand))
    polys = []
    for cell in cells:
        b = geo.cell_boundary(cell)
        x, y = proj.to_xy([p[0] for p in b], [p[1] for p in b])
        polys.append(np.column_stack([x, y]) / 1000.0)
    demand = np.array([result.cell_demand.get(cell, 0) for cell in cells], dtype=float)
    surge = np.array(
        [
            result.cell_multiplier[cell][0] / result.cell_multiplier[cell][1]
            if result.cell_multiplier.get(cell, (0.0, 0))[1]
            else 1.0
            for cell in cells
        ],
        dtype=float,
    )
    fig = Figure(figsize=(11, 5), layout="constrained")
    r_km = c.radius_m / 1000.0
    theta = np.linspace(0, 2 * np.pi, 200)
    for k, (values, title, cmap) in enumerate(
        [(demand, "order requests by merchant cell", "Blues"), (surge, "mean surge", "Reds")]
    ):
        ax = fig.add_subplot(1, 2, k + 1)
        coll = PolyCollection(polys, array=values, cmap=cmap, edgecolors="0.85", linewidths=0.3)
        if k == 1:
            coll.set_clim(1.0, max(1.01, float(values.max())))
        ax.add_collection(coll)
        fig.colorbar(coll, ax=ax, shrink=0.8)
        ax.plot(r_km * np.cos(theta), r_km * np.sin(theta), color="0.3", lw=1)
        mx, my = proj.to_xy(
            [m.location.lat for m in result.world.merchants],
            [m.location.lng for m in result.world.merchants],
        )
        ax.scatter(mx / 1000, my / 1000, s=8, color="black", marker="^", label="merchants")
        if k == 0:
            _paths(ax, result, proj)
        ax.set_aspect("equal")
        ax.set_xlim(-r_km * 1.05, r_km * 1.05)
        ax.set_ylim(-r_km * 1.05, r_km * 1.05)
        ax.set_xlabel("km east")
        ax.set_ylabel("km north")
        ax.set_title(title)
        ax.legend(loc="lower left", fontsize=7)
    return fig


def _paths(ax: Any, result: SimulationResult, proj: geo.LocalProjection) -> None:
    couriers = [a for a in result.agents if a.plan.kind == WorkerKind.COURIER and len(a.path) > 1]
    for i, a in enumerate(sorted(couriers, key=lambda a: -a.metres)[:MAX_PATHS]):
        x, y = proj.to_xy([p[1] for p in a.path], [p[2] for p in a.path])
        ax.plot(x / 1000, y / 1000, lw=0.6, alpha=0.7, label="busiest couriers" if i == 0 else None)


def _shown(key: str, value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return "–" if value is None else str(value)
    if key in KPI_LABELS:
        return label_of(key).fmt(value)
    return f"{value:,}" if isinstance(value, int) else f"{value:,.2f}"


def _ordered(kpis: Mapping[str, Any]) -> list[str]:
    """The labelled KPIs first, in their order, then the rest as they come."""
    keys = [k for k in KPI_LABELS if k in kpis]
    return keys + [k for k in kpis if k not in KPI_LABELS and k not in ("run", "mdrp")]


def kpi_table(runs: Mapping[str, Mapping[str, Any]]) -> str:
    """KPIs with labels and units, rounded; one value column per run."""
    head = "".join(f"<th>{html.escape(name)}</th>" for name in runs)
    first = next(iter(runs.values()))
    rows = []
    for key in _ordered(first):
        cells = "".join(f"<td>{html.escape(_shown(key, k.get(key)))}</td>" for k in runs.values())
        label = html.escape(label_of(key).title)
        rows.append(f"<tr><th>{label}</th>{cells}<td><code>{html.escape(key)}</code></td></tr>")
    return f"<table><tr><th>KPI (unit)</th>{head}<th>key</th></tr>{''.join(rows)}</table>"


def _kpi_rows(kpis: Mapping[str, Any]) -> str:
    rows = []
    for key, value in kpis.items():
        shown = "–" if value is None else f"{value:g}" if isinstance(value, float) else value
        rows.append(f"<tr><td>{html.escape(key)}</td><td>{html.escape(str(shown))}</td></tr>")
    return "\n".join(rows)


def _rules_line(result: SimulationResult) -> str:
    r = result.rules
    if not r:
        return f"surge rules version {result.rule_version}"
    return (
        f"surge rules {html.escape(str(r.get('name')))} (content hash "
        f"<code>{html.escape(str(r.get('hash')))}</code>, version {r.get('version')})"
    )


def render_html(
    result: SimulationResult, kpis: Mapping[str, Any], extra: Mapping[str, Any] | None = None
) -> str:
    """The report page as a string."""
    w = result.world
    figures = [
        ("Service level", fig_service(result)),
        ("Click-to-door", fig_click_to_door(result)),
        ("Supply, demand and surge", fig_supply_demand(result)),
        ("Community map", fig_map(result)),
    ]
    imgs = "\n".join(
        f'<h2>{html.escape(title)}</h2><img alt="{html.escape(title)}" '
        f'src="data:image/png;base64,{_png(fig)}">'
        for title, fig in figures
    )
    more = ""
    if extra:
        more = f"<h2>MDRP metrics</h2><table>{_kpi_rows(extra)}</table>"
    title = f"Simulation {w.name}: {result.policy}, surge {'on' if result.surge else 'off'}"
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>{CSS}</style></head><body>
<h1>{html.escape(title)}</h1>
<p>{_facts(result)}.</p>
<h2>KPIs</h2>{kpi_table({result.policy: kpis})}
{more}
{imgs}
</body></html>
"""


CSS = """
body { font-family: sans-serif; margin: 2em; max-width: 1100px; }
table { border-collapse: collapse; } td, th { border: 1px solid #ccc; padding: 2px 8px; }
td { text-align: right; } th { text-align: left; } img { max-width: 100%; }
"""


def _facts(result: SimulationResult) -> str:
    w = result.world
    return (
        f"Community {html.escape(w.community.name)} ({w.community.radius_m / 1000:g} km), "
        f"seed {result.seed}, {result.end_s / 3600:.2f} simulated hours, {len(w.workers)} "
        f"workers, surge {'on' if result.surge else 'off'}, {_rules_line(result)}"
    )


def fig_service_compared(results: Mapping[str, SimulationResult]) -> Figure:
    """Each run's rolling on-time share and open orders on one time axis."""
    fig = Figure(figsize=(9, 3.6), layout="constrained")
    ax = fig.add_subplot()
    ax2 = ax.twinx()
    colours = ("tab:green", "tab:orange", "tab:purple", "tab:brown")
    for i, (name, result) in enumerate(results.items()):
        s = result.samples
        t = _hours(result, np.array([x.t_s for x in s], dtype=float))
        rate = rolling_on_time(s, result.world.sample_interval_s)
        c = colours[i % len(colours)]
        ax.plot(t, 100 * rate, color=c, lw=2, label=f"{name}: on time (%)")
        ax2.plot(t, [x.open_orders for x in s], color=c, ls=":", label=f"{name}: open orders")
    ax.set_ylim(0, 105)
    ax.set_xlabel("local hour")
    ax.set_ylabel(f"on time, last {ON_TIME_WINDOW_S / 60:g} min (%)")
    ax2.set_ylabel("open orders")
    ax2.set_ylim(bottom=0)
    lines = ax.get_lines() + ax2.get_lines()
    ax.legend(lines, [str(ln.get_label()) for ln in lines], loc="lower left", fontsize=8)
    ax.set_title("Service level of each policy on the same day")
    return fig


def img_tag(title: str, fig: Figure) -> str:
    """A figure as a self-contained <img> (PNG inline), for reports that stand alone."""
    return f'<img alt="{html.escape(title)}" src="data:image/png;base64,{_png(fig)}">'


def render_comparison(runs: Mapping[str, tuple[SimulationResult, Mapping[str, Any]]]) -> str:
    """One page for several runs of the same day: KPIs side by side, then each run's figures."""
    names = list(runs)
    first = runs[names[0]][0]
    title = f"Simulation {first.world.name}: {' vs '.join(names)}"
    parts = [
        f"<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title><style>{CSS}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
        f"<p>{_facts(first)}. Every run saw the same customers (the same seed's draws).</p>",
        "<h2>KPIs</h2>",
        kpi_table({n: k for n, (_r, k) in runs.items()}),
        "<h2>Service level</h2>",
        img_tag("service level", fig_service_compared({n: r for n, (r, _k) in runs.items()})),
    ]
    for name, (result, _kpis) in runs.items():
        parts.append(f"<h2>{html.escape(name)}</h2>")
        parts.append(img_tag("click-to-door", fig_click_to_door(result)))
        parts.append(img_tag("supply, demand and surge", fig_supply_demand(result)))
        parts.append(img_tag("community map", fig_map(result)))
    parts.append("</body></html>\n")
    return "\n".join(parts)


def write_comparison(
    runs: Mapping[str, tuple[SimulationResult, Mapping[str, Any]]], path: Path
) -> Path:
    path.write_text(render_comparison(runs), encoding="utf-8")
    return path


def write_report(
    result: SimulationResult,
    kpis: Mapping[str, Any],
    path: Path,
    extra: Mapping[str, Any] | None = None,
) -> Path:
    path.write_text(render_html(result, kpis, extra), encoding="utf-8")
    return path
