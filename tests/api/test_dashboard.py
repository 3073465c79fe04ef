"""The shipped Grafana dashboard reads only metrics that /metrics really exposes."""

from __future__ import annotations

import json
import re

from api.metrics import Metrics
from api.ops import GRAFANA_DASHBOARD

_SUFFIXES = ("_bucket", "_count", "_sum", "_total", "_created")


def _exposed() -> set[str]:
    """Metric family names (and their sample names) in a fresh registry's exposition."""
    text = Metrics().render().decode()
    names = set()
    for line in text.splitlines():
        m = re.match(r"# TYPE (\S+) (\S+)", line)
        if m:
            names.add(m.group(1))
            if m.group(2) == "counter":
                names.add(m.group(1) + "_total")
    return names


def test_every_panel_queries_exposed_metrics() -> None:
    """Each dispatch_* name in every panel's query is a metric the app exposes."""
    dash = json.loads(GRAFANA_DASHBOARD.read_text())
    exposed = _exposed()
    used = set()
    for panel in dash["panels"]:
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            used |= set(re.findall(r"dispatch_[a-z_]+", target["expr"]))
    assert used
    missing = set()
    for name in used:
        base = name
        for suffix in _SUFFIXES:
            if base.endswith(suffix) and base not in exposed:
                base = base[: -len(suffix)]
        if base not in exposed and name not in exposed:
            missing.add(name)
    assert not missing, f"dashboard queries metrics /metrics does not expose: {sorted(missing)}"
    for name in ("dispatch_deliveries_total", "dispatch_click_to_door_seconds", "dispatch_at_risk"):
        assert any(u.startswith(name) for u in used), name
