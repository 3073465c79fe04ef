"""The locust suite: it loads, it refuses what it must, and a short real run delivers orders.

Importing locust monkey-patches the process (gevent), so locust only ever runs in
child processes here; the short run starts ``dispatch serve`` on a free loopback
port and stops it whatever happens.
"""

from __future__ import annotations

import csv
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.polling import pause

ROOT = Path(__file__).resolve().parents[3]
LOCUSTFILE = ROOT / "simulations" / "load" / "locustfile.py"
PROBEFILE = ROOT / "simulations" / "load" / "probe.py"
KEY = "load-k"
KEYS = f"{KEY}=ops+order-service+courier-app+analyst,ops-k=ops+analyst"

PROBE = """
import json
import simulations.load.locustfile as lf
users = (lf.OrderService, lf.Courier, lf.Analyst, lf.Ops)
print(json.dumps({
    "weights": {u.__name__: u.weight for u in users},
    "max_users": lf.MAX_USERS, "max_run_time_s": lf.MAX_RUN_TIME_S,
}))
"""


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DISPATCH_")}
    return {**env, **extra}


def _locust(*args: str, timeout: float, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "locust", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
        env=_env(**env),
        check=False,
    )


def test_locustfile_defines_four_bounded_user_kinds() -> None:
    """Order service, courier, analyst and ops users, weighted; the run bounds stay small."""
    out = subprocess.run(
        [sys.executable, "-c", PROBE],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        check=True,
    )
    facts = json.loads(out.stdout.strip().splitlines()[-1])
    assert facts["weights"] == {"OrderService": 3, "Courier": 4, "Analyst": 1, "Ops": 1}
    assert facts["max_users"] <= 200 and facts["max_run_time_s"] <= 600


def test_locust_lists_the_user_classes_of_both_files() -> None:
    """`locust --list` loads the suite and the probe and finds their user classes."""
    suite = _locust("-f", str(LOCUSTFILE), "--list", timeout=120)
    assert suite.returncode == 0, suite.stderr
    for name in ("OrderService", "Courier", "Analyst", "Ops"):
        assert name in suite.stdout
    probe = _locust("-f", str(PROBEFILE), "--list", timeout=120, DISPATCH_PROBE="quotes")
    assert probe.returncode == 0 and "Probe" in probe.stdout, probe.stderr


def test_remote_hosts_and_crowds_are_refused() -> None:
    """A non-loopback host or too many users stops locust before any request."""
    remote = _locust(
        "-f", str(LOCUSTFILE), "--headless", "-u", "1", "-t", "1s",
        "--host", "http://10.255.255.1:8000", timeout=120,
    )  # fmt: skip
    assert remote.returncode != 0 and "only loopback hosts" in remote.stdout + remote.stderr
    crowd = _locust(
        "-f", str(LOCUSTFILE), "--headless", "-u", "1000", "-t", "1s",
        "--host", "http://127.0.0.1:9", timeout=120,
    )  # fmt: skip
    assert crowd.returncode != 0 and "at most" in crowd.stdout + crowd.stderr


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    """`dispatch serve` on the memory store (ticking itself), with one all-roles key."""
    port = _free_port()
    log = (tmp_path / "serve.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "api", "serve", "--port", str(port)],
        cwd=ROOT,
        env=_env(DISPATCH_API_KEYS=KEYS),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:  # poll readiness with a deadline
            assert proc.poll() is None, (tmp_path / "serve.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "dispatch serve did not start in 60 s"
            try:
                if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            pause(0.05)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:  # pragma: no cover - a stuck server
            proc.kill()
            proc.wait()
        log.close()


def _event_types(server: str) -> set[str]:
    """Every event type the load community saw (the feed, paged)."""
    types: set[str] = set()
    after = 0
    with httpx.Client(base_url=server, headers={"Authorization": f"Bearer {KEY}"}) as c:
        for _ in range(100):
            page = c.get(
                "/v1/events", params={"community_id": "load-test", "after": after, "limit": 1000}
            ).json()
            types |= {e["type"] for e in page["events"]}
            if not page["events"]:
                return types
            after = page["last_seq"]
    return types


def test_a_short_run_delivers_orders_quietly(server: str, tmp_path: Path) -> None:
    """15 s, 8 users: exit 0, orders created and delivered, no set-up log spam; with a key
    short of roles requests fail and the run exits 1, with an unknown one the set-up fails
    and the run stops at once with exit 1."""
    prefix = tmp_path / "run"
    run = _locust(
        "-f", str(LOCUSTFILE), "--headless", "-u", "8", "-r", "8", "-t", "15s",
        "--host", server, "--only-summary", "--csv", str(prefix),
        timeout=90,
        DISPATCH_LOAD_KEY=KEY,
        DISPATCH_LOAD_COURIER_SPEED_MPS="2000",
        DISPATCH_LOAD_POSITION_EVERY_S="0.5",
        DISPATCH_LOAD_DISPATCH_INTERVAL_S="1",
        DISPATCH_LOAD_SOLVER_BUDGET_S="0.3",
    )  # fmt: skip
    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-4000:]
    with open(f"{prefix}_stats.csv") as fh:
        rows = {r["Name"]: r for r in csv.DictReader(fh)}
    assert int(rows["/v1/orders"]["Request Count"]) > 0
    assert int(rows["/v1/orders/{id}/events delivered"]["Request Count"]) > 0
    assert int(rows["position"]["Request Count"]) > 0  # WebSocket fixes, acknowledged
    assert int(rows["Aggregated"]["Failure Count"]) == 0
    assert _event_types(server) >= {"order.created", "order.picked_up", "order.delivered"}
    log_lines = [ln for ln in output.splitlines() if "/INFO/" in ln or "/DEBUG/" in ln]
    assert not [ln for ln in log_lines if "httpx" in ln or "websockets" in ln]
    assert len(log_lines) <= 10, log_lines  # locust's own few lines only
    assert "Traceback" not in output and "DeprecationWarning" not in output

    denied = _locust(
        "-f", str(LOCUSTFILE), "--headless", "-u", "2", "-r", "2", "-t", "3s",
        "--host", server, "--only-summary",
        timeout=60, DISPATCH_LOAD_KEY="ops-k",
    )  # fmt: skip
    assert denied.returncode == 1, (denied.stdout + denied.stderr)[-3000:]
    assert "of requests failed (limit 1.00%)" in denied.stderr

    unknown = _locust(
        "-f", str(LOCUSTFILE), "--headless", "-u", "2", "-r", "2", "-t", "3s",
        "--host", server, "--only-summary",
        timeout=60, DISPATCH_LOAD_KEY="wrong-key",
    )  # fmt: skip
    assert unknown.returncode == 1 and "set-up failed" in unknown.stderr
    assert "Traceback" not in unknown.stderr
