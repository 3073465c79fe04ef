"""`dispatch worker` as a process: a tick worker on Redis, its health port, its signals.

The loop itself is ``dispatch.ticking.TickWorker``; this module only builds it
from settings, sizes the solver to the cores the worker is given, serves
``/healthz``, ``/readyz`` and ``/metrics`` on a small HTTP port, and stops
cleanly on SIGTERM or SIGINT (after the tick in progress).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import signal
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from api.app import build_engine
from api.metrics import Metrics
from api.problems import MEDIA_TYPE, problem_bytes
from api.settings import ApiSettings
from api.ticker import MetricsObserver
from api.webhooks_runtime import WebhookRunner, build_dispatcher, watch_webhooks
from dispatch import WallClock
from dispatch.ops import OpsConsole
from dispatch.store.redis import RedisStore
from dispatch.ticking import TickWorker
from dispatch.ticking.redis_queue import RedisTickQueue
from dispatch.webhooks import webhook_store_for

__all__ = ["available_cores", "run_worker", "solver_processes"]

log = logging.getLogger(__name__)
_PROMETHEUS = "text/plain; version=0.0.4; charset=utf-8"


def available_cores() -> int:
    """Cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        return os.cpu_count() or 1


def solver_processes(cores: int, concurrency: int) -> int:
    """Search processes per tick so ``concurrency`` ticks at once fill ``cores``."""
    return max(1, min(16, cores // max(1, concurrency)))


def _handler(worker: TickWorker, metrics: Metrics, stall_after_s: float) -> type:
    class Health(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == "/healthz":
                self._send(200, "application/json", b'{"status":"ok"}')
            elif self.path == "/readyz":
                age = worker.health.stalled_s(worker.engine.clock.now())
                if age > stall_after_s:
                    detail = f"no step completed for {age:.0f} s (limit {stall_after_s:g} s)"
                    self._send(503, MEDIA_TYPE, problem_bytes(503, detail))
                else:
                    body = {"status": "ready", "dispatcher_age_s": round(age, 3)}
                    self._send(200, "application/json", json.dumps(body).encode())
            elif self.path == "/metrics":
                self._send(200, _PROMETHEUS, metrics.render())
            else:
                self._send(404, MEDIA_TYPE, problem_bytes(404, f"no such path {self.path}"))

        def _send(self, status: int, media_type: str, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", media_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            return  # probes are not worth a log line each

    return Health


def run_worker(
    cfg: ApiSettings,
    *,
    name: str,
    concurrency: int,
    cores: int,
    poll_s: float,
    health_host: str = "127.0.0.1",
    health_port: int | None = None,
) -> None:
    """Run one tick worker until SIGTERM or SIGINT."""
    params = dataclasses.replace(cfg.solver, workers=solver_processes(cores, concurrency))
    cfg = cfg.model_copy(update={"solver": params})
    store = RedisStore(cfg.redis_url, prefix=cfg.redis_prefix, cluster=cfg.redis_cluster)
    engine = build_engine(cfg, store, WallClock())
    metrics = Metrics(  # scraped only once ``worker`` below exists
        lambda: engine, lambda: worker.health.stalled_s(engine.clock.now())
    )
    queue = RedisTickQueue(store, reclaim_idle_s=cfg.tick_reclaim_idle_s)
    worker = TickWorker(
        engine,
        queue,
        name,
        concurrency=concurrency,
        poll_s=poll_s,
        # Alerts are evaluated after each tick here too: a Redis deployment's API servers
        # do not tick, so this is where alert.raised / alert.cleared come from.
        observer=MetricsObserver(metrics, ops=OpsConsole(engine, cfg.alerts)),
    )
    stop = threading.Event()

    def on_signal(signum: int, _frame: object) -> None:
        log.info("worker %s: signal %d, stopping after the tick in progress", name, signum)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    server: ThreadingHTTPServer | None = None
    if health_port is not None:
        server = ThreadingHTTPServer(
            (health_host, health_port), _handler(worker, metrics, cfg.stall_after_s)
        )
        threading.Thread(target=server.serve_forever, name="health", daemon=True).start()
    log.info(
        "worker %s: concurrency %d, %d solver process(es) per tick, policy %s",
        name,
        concurrency,
        params.workers,
        engine.policy.name,
    )
    # Webhooks go out beside the ticks, in a thread of their own.
    hooks = build_dispatcher(cfg, store, webhook_store_for(store), engine.clock)
    runner = WebhookRunner(hooks, name=f"{name}-webhooks")
    watch_webhooks(metrics.registry, lambda: runner)
    runner.start()
    try:
        worker.run(stop)
    finally:
        runner.stop()
        if server is not None:
            server.shutdown()
            server.server_close()
        worker.close()
        store.close()
