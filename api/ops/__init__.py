"""Operations assets shipped with the API: the Grafana dashboard built on ``/metrics``."""

from pathlib import Path

__all__ = ["GRAFANA_DASHBOARD"]

#: A Grafana dashboard (JSON model) over the metrics ``/metrics`` exposes.
GRAFANA_DASHBOARD = Path(__file__).resolve().parent / "grafana-dashboard.json"
