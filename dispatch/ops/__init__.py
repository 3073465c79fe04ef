"""What operators watch: a live view of a community, its KPI tiles and its alerts.

``OpsConsole`` builds an ``OpsView`` of one community (``build_view``, pure) and
evaluates the alert rules (``evaluate``, pure) after each tick, appending
``alert.raised`` / ``alert.cleared`` events when they change.
"""

from dispatch.ops.alerts import ALERT_KINDS, Alert, AlertBook, AlertThresholds, TickHealth, evaluate
from dispatch.ops.console import AlertChange, OpsConsole
from dispatch.ops.kpis import Delivery, DeliveryWindow, percentile
from dispatch.ops.view import CellView, Kpis, OpsView, WorkerView, WorkView, build_view, live_routes

__all__ = [
    "ALERT_KINDS",
    "Alert",
    "AlertBook",
    "AlertChange",
    "AlertThresholds",
    "CellView",
    "Delivery",
    "DeliveryWindow",
    "Kpis",
    "OpsConsole",
    "OpsView",
    "TickHealth",
    "WorkView",
    "WorkerView",
    "build_view",
    "evaluate",
    "live_routes",
    "percentile",
]
