"""The backtest's one self-contained HTML page: variants, paired differences, plots.

Tables: each rule set (name, content hash, version, file); per KPI, with its
label and unit, each variant's mean over the seeds and its paired difference
from the baseline with the 95 % interval (bold when the interval excludes
zero). Figures (PNG embedded as base64): the differences as a forest plot in
per cent of the baseline's mean, and for the main KPIs each seed's value per
variant side by side, lines joining one seed's runs. No network, no files.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

from matplotlib.figure import Figure

from simulations.backtest.runner import BacktestResult
from simulations.sim.labels import label_of
from simulations.sim.report import img_tag

#: KPIs drawn seed by seed, side by side.
PLOTTED = (
    "revenue",
    "delivery_fees",
    "quotes_declined",
    "orders_delivered",
    "on_time_rate",
    "click_to_door_p90_min",
    "courier_utilization",
    "courier_earnings_per_hour",
)
COLOURS = ("tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown")


def _value(run: dict[str, Any], key: str) -> float | None:
    v = run.get(key)
    return None if v is None else float(v)


def _scale(key: str) -> float:
    return 100.0 if label_of(key).percent else 1.0


def fig_seeds(result: BacktestResult, keys: Sequence[str] = PLOTTED) -> Figure:
    """Each seed's KPI value per variant, side by side; a line joins one seed's runs."""
    names = list(result.runs)
    cols = 4
    rows = (len(keys) + cols - 1) // cols
    fig = Figure(figsize=(3.1 * cols, 2.7 * rows), layout="constrained")
    for i, key in enumerate(keys):
        ax = fig.add_subplot(rows, cols, i + 1)
        k = _scale(key)
        per = [[_value(run, key) for run in result.runs[n]] for n in names]
        for s in range(len(per[0])):
            pair = [p[s] for p in per]
            if all(y is not None for y in pair):
                ax.plot(range(len(names)), [k * (y or 0.0) for y in pair], color="0.75", lw=0.8)
        for j, values in enumerate(per):
            ys = [k * v for v in values if v is not None]
            ax.scatter([j] * len(ys), ys, color=COLOURS[j % len(COLOURS)], s=14, zorder=2)
            if ys:
                m = sum(ys) / len(ys)
                ax.plot([j - 0.25, j + 0.25], [m, m], color="black", lw=2, zorder=3)
        ax.set_xticks(range(len(names)), [n[:14] for n in names], fontsize=7)
        ax.set_xlim(-0.5, len(names) - 0.5)
        ax.set_title(label_of(key).title, fontsize=8)
        ax.tick_params(axis="y", labelsize=7)
    fig.suptitle("Each seed's value per rule set (bar: mean; grey lines pair one seed's runs)")
    return fig


def fig_differences(result: BacktestResult) -> Figure:
    """Paired differences from the baseline, in % of its mean, with 95 % intervals."""
    names = list(result.runs)
    base = names[0]
    keys = [
        k
        for k, row in result.comparison.items()
        if row["variants"][base]["mean"] not in (None, 0, 0.0)
    ]
    fig = Figure(figsize=(9, 0.32 * len(keys) + 1.4), layout="constrained")
    ax = fig.add_subplot()
    height = 0.8 / max(1, len(names) - 1)
    for j, name in enumerate(names[1:]):
        for i, key in enumerate(keys):
            row = result.comparison[key]
            b = abs(row["variants"][base]["mean"])
            d = row["variants"][name]["diff"]
            if d["mean"] is None:
                continue
            y = i + (j - (len(names) - 2) / 2) * height
            colour = COLOURS[(j + 1) % len(COLOURS)]
            if d["ci95"] is not None:
                lo, hi = d["ci95"]
                ax.plot([100 * lo / b, 100 * hi / b], [y, y], color=colour, lw=2)
            ax.scatter(
                [100 * d["mean"] / b], [y], color=colour, s=16, label=name if i == 0 else None
            )
    ax.axvline(0, color="black", lw=0.8)
    ax.set_yticks(range(len(keys)), [label_of(k).label for k in keys], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel(f"difference from {base} (% of its mean), 95 % interval over paired seeds")
    if len(names) > 1:
        ax.legend(fontsize=8, loc="lower right")
    ax.set_title("Paired differences from the baseline")
    return fig


def _cell(key: str, entry: dict[str, Any]) -> str:
    lab = label_of(key)
    mean = lab.fmt(entry["mean"])
    sd = entry.get("sd")
    return mean if sd is None else f"{mean} <small>± {lab.fmt(sd)}</small>"


def _diff(key: str, d: dict[str, Any]) -> str:
    lab = label_of(key)
    if d["mean"] is None:
        return "–"
    text = lab.fmt(d["mean"], signed=True)
    if d["ci95"] is not None:
        lo, hi = d["ci95"]
        text += f" <small>[{lab.fmt(lo, signed=True)}, {lab.fmt(hi, signed=True)}]</small>"
    return f"<b>{text}</b>" if d["significant"] else text


def kpi_table(result: BacktestResult) -> str:
    names = list(result.runs)
    head = "".join(f"<th>{html.escape(n)}<br><small>mean ± sd</small></th>" for n in names)
    head += "".join(
        f"<th>{html.escape(n)} − {html.escape(names[0])}<br><small>paired, 95 % CI</small></th>"
        for n in names[1:]
    )
    rows = []
    for key, row in result.comparison.items():
        v = row["variants"]
        means = "".join(f"<td>{_cell(key, v[n])}</td>" for n in names)
        diffs = "".join(f"<td>{_diff(key, v[n]['diff'])}</td>" for n in names[1:])
        rows.append(f"<tr><th>{html.escape(label_of(key).title)}</th>{means}{diffs}</tr>")
    return f"<table><tr><th>KPI (unit)</th>{head}</tr>{''.join(rows)}</table>"


def variants_table(result: BacktestResult) -> str:
    rows = "".join(
        "<tr>"
        f"<td>{html.escape(v.name)}</td><td>{html.escape(str(v.identity.get('name', '')))}</td>"
        f"<td><code>{html.escape(str(v.identity.get('hash', '')))}</code></td>"
        f"<td>{html.escape(str(v.identity.get('version', '')))}</td>"
        f"<td>{html.escape(v.source)}</td></tr>"
        for v in result.options.variants
    )
    return (
        "<table><tr><th>variant</th><th>rule set name</th><th>content hash</th>"
        f"<th>version</th><th>file</th></tr>{rows}</table>"
    )


CSS = """
body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1100px;color:#222}
table{border-collapse:collapse;margin:1em 0;font-size:14px}
th,td{border:1px solid #ccc;padding:3px 8px;text-align:right}
th:first-child,td:first-child{text-align:left}
img{max-width:100%}small{color:#666}
"""


def render(result: BacktestResult) -> str:
    """The whole page."""
    o = result.options
    data = result.to_json()
    day = (
        f"replayed requests of {html.escape(str(data['events']['source']))}"
        if data["events"]
        else f"{html.escape(result.scenario)} scenario"
        + (f", {o.hours:g} h of demand" if o.hours is not None else "")
    )
    facts = (
        f"{day}; policy {html.escape(o.policy)}; seeds {o.seed_list[0]}–{o.seed_list[-1]} "
        f"({o.seeds}); {'reproducible searches; ' if o.reproducible else ''}"
        f"{o.jobs} process(es), {result.wall_s:.0f} s. Every rule set ran on the same days "
        "(same seeds, same demand draws), so differences are paired by seed."
    )
    if not data["paired"]:
        facts += " <b>Warning: the variants did not see the same requests.</b>"
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        f"<title>Backtest: {html.escape(' vs '.join(result.runs))}</title>",
        f"<style>{CSS}</style></head><body>",
        f"<h1>Surge backtest: {html.escape(' vs '.join(result.runs))}</h1>",
        f"<p>{facts}</p>",
        "<h2>Rule sets</h2>",
        variants_table(result),
        "<h2>KPIs</h2>",
        "<p>Means over the seeds; differences are the variant minus the baseline "
        f"({html.escape(data['baseline'])}), seed by seed, with Student's t 95 % interval "
        "(bold: the interval excludes zero). Rates are in %, differences of rates in "
        "percentage points; money in the rules' currency.</p>",
        kpi_table(result),
    ]
    if len(result.runs) > 1:
        parts.append(img_tag("differences", fig_differences(result)))
    parts.append(img_tag("per seed", fig_seeds(result)))
    parts.append("</body></html>")
    return "\n".join(parts)


def write_report(result: BacktestResult, path: Path) -> Path:
    path.write_text(render(result), encoding="utf-8")
    return path
