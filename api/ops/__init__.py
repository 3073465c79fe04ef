"""Operations assets shipped with the API: the live console's page, script and style
(served at ``/ops`` by ``api.routes.ops``) and the Grafana dashboard built on ``/metrics``."""

from pathlib import Path

__all__ = ["GRAFANA_DASHBOARD"]

#: A Grafana dashboard (JSON model) over the metrics ``/metrics`` exposes.
GRAFANA_DASHBOARD = Path(__file__).resolve().parent / "grafana-dashboard.json"
