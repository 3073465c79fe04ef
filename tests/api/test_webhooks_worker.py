"""`dispatch worker` sends webhooks: a real worker process on the suite's Redis, a real
loopback receiver, a delivery verified with ``standardwebhooks``."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
from standardwebhooks import Webhook

from dispatch import Engine, EngineSettings, WallClock
from dispatch.model import LatLng, WorkerKind
from dispatch.policies import RegretInsertionPolicy
from dispatch.requests import CommunitySpec, LocationUpdate, OrderRequest, WorkerSpec
from dispatch.store.redis import RedisStore
from dispatch.webhooks import Webhooks, webhook_store_for
from tests.api.webhook_receiver import loopback_receiver
from tests.polling import until
from tests.redis_server import free_port

ROOT = Path(__file__).resolve().parents[2]
CENTER = LatLng(31.2304, 121.4737)


def test_worker_process_delivers_webhooks(
    redis_url: str, redis_prefix: str, tmp_path: Path
) -> None:
    """An order placed in the store reaches a receiver registered on the same Redis, signed,
    in order (created before assigned); the worker's /metrics counts the sends."""
    store = RedisStore(redis_url, prefix=redis_prefix)
    clock = WallClock()
    engine = Engine(EngineSettings(), store, clock, policy=RegretInsertionPolicy())
    engine.upsert_community(
        CommunitySpec("c1", "c1", CENTER, dispatch_interval_s=1.0, solver_budget_s=0.2)
    )
    engine.upsert_worker(WorkerSpec("w1", WorkerKind.COURIER, "c1"))
    engine.update_location(LocationUpdate("w1", CENTER.lat, CENTER.lng))
    port = free_port()
    env = {**os.environ, "DISPATCH_POLICY": "regret-insertion"}
    env["DISPATCH_WEBHOOKS_ALLOW_PRIVATE"] = "true"
    log_path = tmp_path / "worker.log"
    with loopback_receiver() as receiver, log_path.open("wb") as log:
        hooks = Webhooks(webhook_store_for(store), store, clock, allow_private=True)
        wh = hooks.register(receiver.url, ["order.*"])
        order = engine.create_order(
            OrderRequest("c1", LatLng(CENTER.lat + 0.001, CENTER.lng), LatLng(CENTER.lat, 121.48))
        )
        proc = subprocess.Popen(
            [sys.executable, "-m", "api", "worker", "--redis-url", redis_url, "--prefix",
             redis_prefix, "--name", "wk-hooks", "--poll-s", "0.1", "--health-port", str(port)],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
        try:

            def types() -> list[str]:
                return [json.loads(r.body)["type"] for r in receiver.accepted()]

            assert until(lambda: types()[:2] == ["order.created", "order.assigned"], 60), (
                types(),
                log_path.read_text()[-3000:],
            )
            for got in receiver.accepted():
                body = Webhook(wh.secret).verify(got.body, got.headers)
                assert body["entity_id"] == order.id
            metrics = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2.0).text
            assert 'dispatch_webhook_attempts_total{outcome="success"}' in metrics
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            finally:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
                store.close()
    assert proc.returncode == 0, log_path.read_text()[-3000:]
