"""The locust load test imports cleanly and refuses what it must refuse (never run here).

Importing locust monkey-patches the process (gevent), so every check runs in a
child interpreter.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
LOCUSTFILE = ROOT / "simulations" / "load" / "locustfile.py"

PROBE = """
import json, random
import simulations.load.locustfile as lf
rng = random.Random(1)
inside = all(abs((lf.point(rng)["lat"] - lf.CENTER[0]) * 111320) <= lf.RADIUS_M for _ in range(200))
print(json.dumps({
    "weights": sorted([lf.OrderService.weight, lf.CourierApp.weight, lf.Ops.weight]),
    "loopback": [lf.loopback(u) for u in ("http://127.0.0.1:8000", "http://localhost:1",
                 "http://10.0.0.8:8000", "https://example.com")],
    "inside": inside, "max_users": lf.MAX_USERS, "max_run_time_s": lf.MAX_RUN_TIME_S,
}))
"""


def test_locustfile_defines_bounded_users() -> None:
    """Three user kinds; only loopback hosts; points stay inside the community."""
    out = subprocess.run(
        [sys.executable, "-c", PROBE],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        check=True,
    )
    facts = json.loads(out.stdout.strip().splitlines()[-1])
    assert facts["weights"] == [1, 2, 3]
    assert facts["loopback"] == [True, True, False, False]
    assert facts["inside"] is True
    assert facts["max_users"] <= 200 and facts["max_run_time_s"] <= 600


def test_locust_lists_the_user_classes() -> None:
    """`locust --list` loads the file and finds the three user classes."""
    out = subprocess.run(
        [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--list"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        check=True,
    )
    for name in ("OrderService", "CourierApp", "Ops"):
        assert name in out.stdout
