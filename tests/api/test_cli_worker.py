"""`dispatch worker` as a real process on the suite's Redis: it ticks, reports, and stops."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx

from dispatch import Engine, EngineSettings, WallClock
from dispatch.model import LatLng, WorkerKind
from dispatch.policies import RegretInsertionPolicy
from dispatch.requests import CommunitySpec, LocationUpdate, OrderRequest, WorkerSpec
from dispatch.store.redis import RedisStore
from tests.polling import until
from tests.redis_server import free_port

ROOT = Path(__file__).resolve().parents[2]
CENTER = LatLng(31.2304, 121.4737)


def _ready(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1.0).status_code == 200
    except httpx.HTTPError:
        return False


def test_worker_process_ticks_and_stops_on_sigterm(
    redis_url: str, redis_prefix: str, tmp_path: Path
) -> None:
    """A worker assigns an order placed in the store, names itself in plan.committed,
    raises the ops alerts that hold (three couriers never sent a position), serves
    health and metrics, and exits cleanly on SIGTERM."""
    store = RedisStore(redis_url, prefix=redis_prefix)
    engine = Engine(EngineSettings(), store, WallClock(), policy=RegretInsertionPolicy())
    engine.upsert_community(
        CommunitySpec("c1", "c1", CENTER, dispatch_interval_s=1.0, solver_budget_s=0.2)
    )
    engine.upsert_worker(WorkerSpec("w1", WorkerKind.COURIER, "c1"))
    engine.update_location(LocationUpdate("w1", CENTER.lat, CENTER.lng))
    for silent in ("w2", "w3", "w4"):  # on shift, never a position: stale
        engine.upsert_worker(WorkerSpec(silent, WorkerKind.COURIER, "c1"))
    order = engine.create_order(
        OrderRequest("c1", LatLng(CENTER.lat + 0.001, CENTER.lng), LatLng(CENTER.lat, 121.48))
    )
    port = free_port()
    env = {**os.environ, "DISPATCH_POLICY": "regret-insertion"}
    log = (tmp_path / "worker.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "api", "worker", "--redis-url", redis_url, "--prefix",
         redis_prefix, "--name", "wk-1", "--poll-s", "0.1", "--health-port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        assert until(lambda: engine.get_order(order.id).worker_id == "w1", 60), (
            tmp_path / "worker.log"
        ).read_text()[-3000:]
        committed = [e for e in engine.events(limit=1000) if e.type == "plan.committed"]
        assert committed and committed[-1].data["dispatcher"] == "wk-1"

        def raised() -> list[str]:
            return [e.entity_id for e in engine.events(limit=1000) if e.type == "alert.raised"]

        assert until(lambda: raised() == ["stale_workers"], 30), raised()
        base = f"http://127.0.0.1:{port}"
        assert until(lambda: _ready(f"{base}/readyz"), 10)
        ready = httpx.get(f"{base}/readyz", timeout=2.0).json()
        assert ready["status"] == "ready" and ready["dispatcher_age_s"] < 30
        metrics = httpx.get(f"{base}/metrics", timeout=2.0).text
        assert 'dispatch_ticks_total{outcome="done"}' in metrics
        assert "dispatch_dispatcher_age_seconds" in metrics
        assert 'dispatch_alerts_active{kind="stale_workers"} 1.0' in metrics
        assert httpx.get(f"{base}/nope", timeout=2.0).status_code == 404
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
        log.close()
        store.close()


def test_worker_refuses_bad_settings_clearly() -> None:
    """Invalid settings stop the worker before it starts, exit code 2, naming the field."""
    env = {**os.environ, "DISPATCH_ENGINE__CHURN_PENALTY": "-1"}
    done = subprocess.run(
        [sys.executable, "-m", "api", "worker", "--redis-url", "redis://127.0.0.1:1/0"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert b"churn_penalty" in done.stderr
