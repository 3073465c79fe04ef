"""Paired comparison of variants run on the same days: means, differences, t intervals.

Every variant ran on the same seeds (the same demand draws, the same customers'
acceptance draws), so the difference of a KPI between two variants on one seed
is one observation of the rules' effect with the day's own noise cancelled.
The interval is Student's t over those per-seed differences:
``mean ± t(0.975, n-1) × sd / sqrt(n)``. With fewer than two seeds, or a KPI
missing on some seed, there is no interval (``None``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from scipy import stats

CONFIDENCE = 0.95


@dataclass(frozen=True)
class Summary:
    """One KPI of one variant over the seeds."""

    mean: float | None
    sd: float | None
    n: int


@dataclass(frozen=True)
class PairedDiff:
    """One KPI: variant minus the baseline, paired by seed, with its t interval."""

    mean: float | None
    low: float | None
    high: float | None
    n: int
    p_value: float | None  # two-sided paired t test (None when undefined)

    @property
    def significant(self) -> bool:
        """The interval excludes zero."""
        return self.low is not None and self.high is not None and (self.low > 0 or self.high < 0)

    def to_dict(self) -> dict[str, Any]:
        return {
            "mean": self.mean,
            "ci95": None if self.low is None else [self.low, self.high],
            "n": self.n,
            "p_value": self.p_value,
            "significant": self.significant,
        }


def _numbers(values: Sequence[Any]) -> list[float] | None:
    """The values as floats, or None when any is missing or not a number."""
    out: list[float] = []
    for v in values:
        if v is None or isinstance(v, bool) or not isinstance(v, int | float):
            return None
        if not math.isfinite(float(v)):
            return None
        out.append(float(v))
    return out


def summarize(values: Sequence[Any]) -> Summary:
    """Mean and sample standard deviation of the seeds that have the KPI."""
    xs = [float(v) for v in values if isinstance(v, int | float) and not isinstance(v, bool)]
    if not xs:
        return Summary(None, None, 0)
    m = sum(xs) / len(xs)
    sd = math.sqrt(sum((x - m) ** 2 for x in xs) / (len(xs) - 1)) if len(xs) > 1 else None
    return Summary(m, sd, len(xs))


def paired_diff(variant: Sequence[Any], baseline: Sequence[Any]) -> PairedDiff:
    """Variant minus baseline, seed by seed (both lists in seed order)."""
    a, b = _numbers(variant), _numbers(baseline)
    if a is None or b is None or len(a) != len(b) or not a:
        return PairedDiff(None, None, None, 0, None)
    d = [x - y for x, y in zip(a, b, strict=True)]
    n = len(d)
    m = sum(d) / n
    if n < 2:
        return PairedDiff(m, None, None, n, None)
    sd = math.sqrt(sum((x - m) ** 2 for x in d) / (n - 1))
    if sd == 0.0:  # every seed moved by exactly the same amount (identical rules: 0)
        return PairedDiff(m, m, m, n, None if m == 0 else 0.0)
    half = float(stats.t.ppf(0.5 + CONFIDENCE / 2, n - 1)) * sd / math.sqrt(n)
    p = float(2.0 * stats.t.sf(abs(m) / (sd / math.sqrt(n)), n - 1))
    return PairedDiff(m, m - half, m + half, n, p)


def compare(
    runs: Mapping[str, Sequence[Mapping[str, Any]]], kpis: Sequence[str]
) -> dict[str, dict[str, Any]]:
    """Per KPI: each variant's summary and its paired difference from the first variant.

    ``runs`` maps a variant's name to its KPI dicts in seed order (the first
    variant is the baseline).
    """
    names = list(runs)
    base = names[0]
    out: dict[str, dict[str, Any]] = {}
    for key in kpis:
        per = {n: [k.get(key) for k in runs[n]] for n in names}
        row: dict[str, Any] = {"variants": {}}
        for n in names:
            s = summarize(per[n])
            entry: dict[str, Any] = {"mean": s.mean, "sd": s.sd, "n": s.n, "values": per[n]}
            if n != base:
                entry["diff"] = paired_diff(per[n], per[base]).to_dict()
            row["variants"][n] = entry
        out[key] = row
    return out
