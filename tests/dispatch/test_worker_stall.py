"""A Redis stall stops nothing for good: ticks resume within two intervals of its end."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

from dispatch import Engine, EngineSettings, WallClock
from dispatch.model import WorkerKind
from dispatch.policies import RegretInsertionPolicy
from dispatch.requests import CommunitySpec, LocationUpdate, OrderRequest, WorkerSpec
from dispatch.store.redis import RedisStore
from dispatch.ticking import Backoff, TickWorker
from dispatch.ticking.redis_queue import RedisTickQueue
from tests.dispatch.conftest import CENTER, offset
from tests.polling import pause, until
from tests.redis_server import RedisServer, find_redis_server

INTERVAL_S = 2.0
STALL_S = 8.0


def test_ticks_resume_within_two_intervals_after_an_8_s_stall(tmp_path: Path) -> None:
    """SIGSTOP Redis for 8 s under a running worker: it logs and backs off, never dies,
    and commits again within two dispatch intervals after SIGCONT."""
    server = RedisServer(find_redis_server(), tmp_path).start()
    store = RedisStore(server.url, prefix="stall", socket_timeout_s=0.5)
    stop = threading.Event()
    thread: threading.Thread | None = None
    try:
        engine = Engine(EngineSettings(), store, WallClock(), policy=RegretInsertionPolicy())
        engine.upsert_community(
            CommunitySpec("c1", "c1", CENTER, dispatch_interval_s=INTERVAL_S, solver_budget_s=0.2)
        )
        engine.upsert_worker(WorkerSpec("w1", WorkerKind.COURIER, "c1"))
        p = offset(0, 0)
        engine.update_location(LocationUpdate("w1", p.lat, p.lng))
        queue = RedisTickQueue(store, reclaim_idle_s=5.0)
        worker = TickWorker(engine, queue, "worker-1", poll_s=0.1, backoff=Backoff(0.1, 0.5))
        thread = threading.Thread(target=worker.run, args=(stop,), daemon=True)
        thread.start()
        assert until(lambda: worker.health.ticks >= 2, 15)
        assert server.process is not None
        os.kill(server.process.pid, signal.SIGSTOP)
        stalled_at = time.monotonic()
        # During the stall the worker keeps trying (and failing); it does not end.
        assert until(lambda: worker.health.consecutive_failures >= 2, STALL_S)
        pause(stalled_at + STALL_S - time.monotonic())  # the fault lasts its full length
        assert thread.is_alive()
        ticks_before = worker.health.ticks
        os.kill(server.process.pid, signal.SIGCONT)

        assert until(lambda: worker.health.ticks > ticks_before, 2 * INTERVAL_S), (
            f"no tick within {2 * INTERVAL_S} s of the stall's end; health: {worker.health}"
        )
        # New work placed after the stall is assigned by the running worker.
        order = engine.create_order(OrderRequest("c1", offset(50, 0), offset(600, 0)))
        assert until(lambda: engine.get_order(order.id).worker_id == "w1", 4 * INTERVAL_S)
        assert worker.health.failures >= 2
    finally:
        stop.set()
        if thread is not None:
            thread.join(timeout=10)
        if server.process is not None:
            os.kill(server.process.pid, signal.SIGCONT)
        store.close()
        server.stop()
