"""Engine benchmarks: tick latency and quality by size, and location ingestion rates.

Run:  .venv/bin/python benchmarks/engine.py [--sizes 50x50,200x200,500x500] [--results-md PATH]

Tick: one community with N couriers (fresh positions) and M pending orders; one
tick with the community's 2 s budget, by the optimiser and by regret insertion
alone (its start and fallback) on identical state. Reports wall time, the share
of orders assigned and the share planned to arrive on time. Ingestion: batches of
5 000 location updates into the memory store and into a Redis server started for
the run (pipelined).
"""

from __future__ import annotations

import argparse
import itertools
import os
import platform
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dispatch import Engine, EngineSettings, ManualClock, MemoryStore
from dispatch.model import LatLng, OrderState, Worker, WorkerKind
from dispatch.policies import make_policy
from dispatch.requests import (
    CommunitySpec,
    LocationUpdate,
    OrderRequest,
    WorkerSpec,
)
from dispatch.store.base import Store
from tests.redis_server import RedisServer, find_redis_server

CENTER = LatLng(31.2304, 121.4737)
#: The policies compared on each tick (names in dispatch.policies.POLICIES).
POLICIES = ("optimizer", "regret-insertion")


def build(store: Store, couriers: int, orders: int, seed: int, policy: str) -> Engine:
    clock = ManualClock()
    counter = itertools.count()
    engine = Engine(
        EngineSettings(),
        store,
        clock,
        ids=lambda p: f"{p}{next(counter)}",
        policy=make_policy(policy),
    )
    engine.upsert_community(CommunitySpec("c1", "bench", CENTER, solver_budget_s=2.0))
    fence = engine.fence(engine.get_community("c1"))
    rng = np.random.default_rng(seed)
    lat, lng = fence.random_points(couriers + orders * 2, rng)
    merchants = max(5, orders // 8)
    m_lat, m_lng = fence.random_points(merchants, rng)
    for i in range(couriers):
        engine.upsert_worker(WorkerSpec(f"w{i}", WorkerKind.COURIER, "c1"))
    engine.update_locations(
        [LocationUpdate(f"w{i}", float(lat[i]), float(lng[i])) for i in range(couriers)]
    )
    for k in range(orders):
        m = int(rng.integers(0, merchants))
        clock.advance(float(rng.uniform(0, 600.0 / max(1, orders))))
        engine.create_order(
            OrderRequest(
                "c1",
                LatLng(float(m_lat[m]), float(m_lng[m])),
                LatLng(float(lat[couriers + k]), float(lng[couriers + k])),
                ready_at=clock.now() + float(rng.uniform(0, 600)),
            )
        )
    # Couriers keep reporting: positions stay fresh at tick time.
    engine.update_locations(
        [LocationUpdate(f"w{i}", float(lat[i]), float(lng[i])) for i in range(couriers)]
    )
    return engine


def tick_row(couriers: int, orders: int, seed: int = 1) -> dict[str, float]:
    row: dict[str, float] = {"couriers": couriers, "orders": orders}
    for policy in POLICIES:
        engine = build(MemoryStore(), couriers, orders, seed, policy)
        t0 = time.perf_counter()
        result = engine.tick("c1")
        wall = time.perf_counter() - t0
        open_orders = engine.open_orders("c1")
        assigned = [o for o in open_orders if o.state == OrderState.ASSIGNED]
        on_time = [
            o for o in assigned if o.eta_dropoff is not None and o.eta_dropoff <= o.promised_by
        ]
        row[f"{policy}_s"] = wall
        row[f"{policy}_assigned"] = len(assigned) / max(1, len(open_orders))
        row[f"{policy}_on_time"] = len(on_time) / max(1, len(open_orders))
        row[f"{policy}_fallback"] = float(result.fallback)
    return row


def ingest_rate(store: Store, workers: int = 5000, batches: int = 20) -> float:
    clock = ManualClock()
    engine = Engine(EngineSettings(), store, clock)
    engine.upsert_community(CommunitySpec("c1", "bench", CENTER))
    store.put_workers([Worker(f"w{i}", WorkerKind.COURIER, "c1") for i in range(workers)])
    import geo

    inner = geo.Geofence.circle(CENTER.lat, CENTER.lng, 2900.0)  # jitter stays inside
    lat, lng = inner.random_points(workers, np.random.default_rng(3))
    batch_list = []
    for b in range(batches):
        jitter = b * 1e-6
        batch_list.append(
            [
                LocationUpdate(f"w{i}", float(lat[i]) + jitter, float(lng[i]), ts=None)
                for i in range(workers)
            ]
        )
    t0 = time.perf_counter()
    for batch in batch_list:
        clock.advance(1.0)
        result = engine.update_locations(batch)
        assert result.accepted == len(batch), result.errors[:3]
    return workers * batches / (time.perf_counter() - t0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="50x50,200x200,500x500")
    parser.add_argument("--results-md", type=Path, default=None)
    args = parser.parse_args()
    sizes = [tuple(int(x) for x in s.split("x")) for s in args.sizes.split(",")]
    lines = [
        f"### Engine ({datetime.now(UTC):%Y-%m-%d %H:%M} UTC)",
        "",
        f"Command: `{' '.join(['.venv/bin/python', 'benchmarks/engine.py', *sys.argv[1:]])}`",
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}",
        "",
        "Tick, one community, 2 s budget, the same state for both policies:",
        "",
        "| orders × couriers | optimizer s | assigned | on time "
        "| regret-insertion s | assigned | on time |",
        "|---|---|---|---|---|---|---|",
    ]
    for orders, couriers in sizes:
        r = tick_row(couriers, orders)
        line = (
            f"| {orders} × {couriers} | {r['optimizer_s']:.2f} | {r['optimizer_assigned']:.0%} | "
            f"{r['optimizer_on_time']:.0%} | {r['regret-insertion_s']:.2f} | "
            f"{r['regret-insertion_assigned']:.0%} | {r['regret-insertion_on_time']:.0%} |"
        )
        print(line, flush=True)
        lines.append(line)
    mem = ingest_rate(MemoryStore())
    with tempfile.TemporaryDirectory() as tmp:
        server = RedisServer(find_redis_server(), Path(tmp)).start()
        try:
            from dispatch.store.redis import RedisStore

            red = ingest_rate(RedisStore(server.url, prefix="bench"))
        finally:
            server.stop()
    lines += [
        "",
        "Location ingestion (engine.update_locations, batches of 5 000, validated, fenced, H3):",
        "",
        "| store | updates/s | target |",
        "|---|---|---|",
        f"| memory | {mem:,.0f} | ≥ 100 000 |",
        f"| Redis (pipelined, server started for the run) | {red:,.0f} | ≥ 30 000 |",
        "",
    ]
    print("\n".join(lines[-5:]))
    if args.results_md:
        with args.results_md.open("a") as fh:
            fh.write("\n" + "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
