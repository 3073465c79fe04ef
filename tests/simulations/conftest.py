"""Small scenarios and MDRP instances written by the tests themselves."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from simulations.sim.scenario import Scenario, parse_scenario

TINY: dict[str, Any] = {
    "name": "tiny",
    "hours": 0.75,
    "start_hour": 12.0,
    "drain_min": 30.0,
    "position_interval_s": 10.0,
    "sample_interval_min": 5.0,
    "community": {
        "id": "tiny",
        "name": "Tiny",
        "radius_m": 1200.0,
        "dispatch_interval_s": 30.0,
        "solver_budget_s": 1.0,
    },
    "merchants": [
        {"service": "takeout", "count": 3, "share": 0.8, "prep_min": 6.0},
        {"service": "grocery", "count": 1, "share": 0.2, "prep_min": 3.0},
    ],
    "residents": {"count": 60},
    "orders": {
        "base_per_hour": 24.0,
        "peaks": [{"hour": 12.25, "width_h": 0.2, "per_hour": 12.0}],
        "cancellation": {"change_of_mind": 0.1, "patience_min": 8.0, "impatient": 0.5},
    },
    "jobs": {
        "base_per_hour": 3.0,
        "skills": [
            {"skill": "plumbing", "share": 1.0, "duration_min": 20.0},
            {"skill": "cleaning", "share": 1.0, "duration_min": 30.0},
        ],
        "booked_share": 0.5,
        "book_ahead_min": [10.0, 20.0],
        "window_min": 30.0,
        "emergencies_per_hour": 2.0,
        "cancel_share": 0.1,
    },
    "couriers": [
        {"count": 3, "start_h": 0.0, "end_h": 1.25, "vehicles": {"bicycle": 1.0, "scooter": 1.0}},
    ],
    "technicians": [
        {"count": 2, "skills": ["plumbing", "repair", "cleaning"], "start_h": 0.0, "end_h": 1.25},
    ],
    "solver": {"metaheuristic": "greedy_descent", "use_vroom": False, "isolate": False},
}


@pytest.fixture
def tiny() -> Scenario:
    """A 45-minute day of a 1.2 km community: a handful of couriers, orders and jobs."""
    return parse_scenario(TINY, source="tiny")


def write_mdrp_instance(folder: Path) -> Path:
    """A tiny MDRP instance in the public format (tab-separated, header lines)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "restaurants.txt").write_text(
        "restaurant\tx\ty\nr1\t1000\t1000\nr2\t2500\t1200\nr3\t1800\t2600\n"
    )
    orders = [
        ("o1", 1400, 1900, 600, "r1", 612),
        ("o2", 1100, 400, 602, "r1", 614),
        ("o3", 2900, 2100, 605, "r2", 615),
        ("o4", 2200, 300, 610, "r2", 625),
        ("o5", 2300, 3100, 611, "r3", 620),
        ("o6", 600, 1500, 615, "r1", 624),
        ("o7", 1700, 2000, 620, "r3", 633),
        ("o8", 3000, 900, 626, "r2", 640),
        ("o9", 900, 2500, 630, "r1", 641),
        ("o10", 2600, 2700, 640, "r3", 650),
        ("o11", 1200, 1300, 641, "r1", 652),
        ("o12", 2000, 1500, 655, "r2", 668),
    ]
    (folder / "orders.txt").write_text(
        "order\tx\ty\tplacement_time\trestaurant\tready_time\n"
        + "".join("\t".join(str(v) for v in o) + "\n" for o in orders)
    )
    (folder / "couriers.txt").write_text(
        "courier\tx\ty\ton_time\toff_time\n"
        "c1\t1500\t1500\t590\t700\n"
        "c2\t2500\t2000\t600\t660\n"
        "c3\t900\t900\t620\t720\n"
    )
    (folder / "instance_parameters.txt").write_text(
        "meters_per_minute\tpickup service minutes\tdropoff service minutes\t"
        "target click-to-door\tmaximum click-to-door\tpay per order\tguaranteed pay per hour\n"
        "320\t4\t4\t40\t90\t10\t15\n"
    )
    return folder
