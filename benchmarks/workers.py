# ruff: noqa: E402
"""Tick workers: throughput, on-time starts and failover of real ``dispatch worker`` processes.

Run:  .venv/bin/python benchmarks/workers.py [--communities 200] [--budget 0.5]
      [--interval 10] [--window 30] [--load 0.75] [--lease-ttl 5]
      [--results-md benchmarks/RESULTS.md]

Starts its own redis-server on a free loopback port (never the machine's 6379)
and seeds a city in-process through ``dispatch.Engine`` on a ``RedisStore``:
``--communities`` communities 8 km apart, each with 10 couriers (moved a little
every 15 s, so no position goes stale) and 20 open orders, a solver budget of
``--budget`` s. Then it runs ``dispatch worker`` processes, each
``--concurrency 1 --cores 1`` (one tick at a time, one search process per
tick), in phases, with a fresh tick queue for each:

1. saturated, one worker: every community due every ``--interval`` s, far more
   ticks than the workers can run; ticks per second over ``--window`` s;
2. the same with two workers, and the ratio two / one;
3. keeping up, two workers: the interval set so the offered load is ``--load``
   of the two workers' measured throughput;
4. the same interval, one worker;
5. failover: two workers with ``DISPATCH_ENGINE__LEASE_TTL_S=--lease-ttl`` and
   ``--reclaim-idle-s`` equal to it; one is SIGKILLed (with its solver child)
   while it holds a tick; then once more with ``--reclaim-idle-s`` one second
   past the lease the worker really took (read from the lease key).

Definitions (times on the Redis server's clock, which is this machine's):

* ticks per second: ``dispatch_ticks_total{outcome="done"}`` of every worker's
  ``/metrics``, scraped at both ends of the window, summed, over the window;
  CPU per tick: the CPU time of the workers' process groups (solver children
  included) over the same window, per tick done;
* a tick's due time: the community's previous offer + its interval (the queue
  sets the next due time when it offers a tick); the first tick of a phase is
  due at its offer. Its start: when a worker claimed it (the stream entry's
  delivery time, from XPENDING polled every 50 ms); start delay = start - due;
* on time: the tick starts less than one interval after it fell due, i.e.
  before the community's next tick falls due. Counted over every tick due at
  least one interval before the end of the phase (each had its chance),
  started or not;
* failover time: from the SIGKILL until every community the killed worker held
  (claimed, not acknowledged) has a new plan committed (its plan version went
  up); the start of that tick is reported too.

Target (issue "Dispatch as a service", part 3): two workers >= 1.7x one worker's
ticks per second; failover within lease time + one interval.
"""

from __future__ import annotations

import sys
from pathlib import Path

# benchmarks/ holds scripts, and benchmarks/http.py is named like the standard library's
# ``http`` (which urllib and prometheus_client import): keep this folder off the path.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(_HERE.parent))

import argparse
import contextlib
import math
import os
import platform
import resource
import signal
import statistics
import subprocess
import tempfile
import threading
import time
import urllib.request
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
import redis
from prometheus_client.parser import text_string_to_metric_families

import geo
from dispatch import CommunitySpec, Engine, EngineSettings, WallClock, make_policy
from dispatch.model import LatLng, WorkerKind
from dispatch.requests import LocationUpdate, OrderRequest, WorkerSpec
from dispatch.store.redis import RedisStore
from dispatch.ticking.redis_queue import RedisTickQueue
from tests.redis_server import RedisServer, find_redis_server, free_port

ROOT = _HERE.parent
DISPATCH = ROOT / ".venv" / "bin" / "dispatch"
CENTER = LatLng(31.2304, 121.4737)
STEP_DEG = 0.08  # community centres ~8 km apart: 3 km fences never overlap
ROW = 15  # communities per row of the grid
COURIERS, ORDERS, MERCHANTS = 10, 20, 5
REFRESH_S = 15.0  # couriers report well within the 60 s staleness
WATCH_S = 0.05  # XPENDING poll period
GROUP = "dispatchers"  # the tick queue's consumer group
HEADROOM = 0.75  # sizing: a round of ticks drains within 75 % of the interval
SIZING_EXAMPLES = ((200, 10, 0.5), (200, 30, 0.5), (200, 60, 2.0), (1000, 30, 0.5), (1000, 60, 2.0))
CLK_TCK = os.sysconf("SC_CLK_TCK")
_T0 = time.monotonic()


def say(msg: str) -> None:
    print(f"[{time.monotonic() - _T0:6.1f} s] {msg}", flush=True)


def server_now(r: Any) -> float:
    sec, usec = r.time()
    return float(sec) + float(usec) / 1e6


def wait_until(cond: Any, deadline_s: float, what: str, every_s: float = 0.05) -> None:
    """Poll ``cond`` until it holds; fail after ``deadline_s`` seconds."""
    end = time.monotonic() + deadline_s
    pause = threading.Event()
    while not cond():
        if time.monotonic() > end:
            raise TimeoutError(f"timed out after {deadline_s:.0f} s waiting for {what}")
        pause.wait(every_s)


# ---- the city --------------------------------------------------------------------------


class City:
    """Communities, couriers and orders on a ``RedisStore``, seeded through the engine."""

    def __init__(self, url: str, prefix: str, communities: int, budget_s: float) -> None:
        self.prefix = prefix
        self.store = RedisStore(url, prefix=prefix)
        self.engine = Engine(
            EngineSettings(), self.store, WallClock(), policy=make_policy("optimizer")
        )
        self.budget_s = budget_s
        self.ids = [f"c{c:03d}" for c in range(communities)]
        self.homes: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self.rng = np.random.default_rng(7)
        self.refreshes = 0
        self.rejected = 0
        self.refresh_error: str | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def spec(self, c: int, interval_s: float) -> CommunitySpec:
        center = LatLng(CENTER.lat + STEP_DEG * (c % ROW), CENTER.lng + STEP_DEG * (c // ROW))
        return CommunitySpec(
            self.ids[c],
            self.ids[c],
            center,
            solver_budget_s=self.budget_s,
            dispatch_interval_s=interval_s,
        )

    def seed(self, interval_s: float) -> None:
        e = self.engine
        for c, cid in enumerate(self.ids):
            spec = self.spec(c, interval_s)
            e.upsert_community(spec)
            inner = geo.Geofence.circle(spec.center.lat, spec.center.lng, 2800.0)
            lat, lng = inner.random_points(COURIERS + ORDERS + MERCHANTS, self.rng)
            self.homes[cid] = (lat[:COURIERS].copy(), lng[:COURIERS].copy())
            for i in range(COURIERS):
                e.upsert_worker(WorkerSpec(f"{cid}-w{i}", WorkerKind.COURIER, cid))
            e.update_locations(
                [
                    LocationUpdate(f"{cid}-w{i}", float(lat[i]), float(lng[i]))
                    for i in range(COURIERS)
                ]
            )
            for k in range(ORDERS):
                m = COURIERS + ORDERS + k % MERCHANTS
                d = COURIERS + k
                e.create_order(
                    OrderRequest(
                        cid,
                        LatLng(float(lat[m]), float(lng[m])),
                        LatLng(float(lat[d]), float(lng[d])),
                    )
                )
            if (c + 1) % 50 == 0:
                say(f"seeded {c + 1}/{len(self.ids)} communities")

    def set_interval(self, interval_s: float) -> None:
        for c in range(len(self.ids)):
            self.engine.upsert_community(self.spec(c, interval_s))

    def refresh(self) -> None:
        """Every courier reports a position a few tens of metres from home."""
        updates = []
        for cid, (lat, lng) in self.homes.items():
            d = self.rng.normal(0.0, 3e-4, (2, COURIERS))
            updates += [
                LocationUpdate(f"{cid}-w{i}", float(lat[i] + d[0, i]), float(lng[i] + d[1, i]))
                for i in range(COURIERS)
            ]
        for i in range(0, len(updates), 5000):
            self.rejected += len(self.engine.update_locations(updates[i : i + 5000]).errors)
        self.refreshes += 1

    def _refresh_loop(self) -> None:
        while not self._stop.wait(REFRESH_S):  # a period, not a synchronisation
            try:
                self.refresh()
            except Exception as exc:  # reported at the end; the run is then suspect
                self.refresh_error = f"{type(exc).__name__}: {exc}"

    def start_refreshing(self) -> None:
        self._thread = threading.Thread(target=self._refresh_loop, name="refresh", daemon=True)
        self._thread.start()

    def stop_refreshing(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def reset_queue(self) -> None:
        """A fresh tick queue (no worker may be running)."""
        RedisTickQueue(self.store).reset()

    def lease(self, cid: str) -> tuple[float, str] | None:
        """(expiry by the holder's clock, holder) of a community's lease, if any."""
        raw = self.store.r.get(f"{self.prefix}:{{{cid}}}:lease")
        if not raw:
            return None
        expires, _token, owner = raw.split("|", 2)
        return float(expires), owner

    def plan_version(self, cid: str) -> int:
        plan = self.store.get_plan(cid)
        return plan.version if plan is not None else 0


# ---- worker processes -------------------------------------------------------------------


def group_cpu_s(pgid: int) -> float:
    """CPU seconds of a process group: its leader (with reaped children) and live members."""
    total = 0
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat") as fh:
                raw = fh.read()
        except OSError:
            continue
        rest = raw[raw.rindex(")") + 2 :].split()
        if int(rest[2]) != pgid:
            continue
        total += int(rest[11]) + int(rest[12])
        if int(entry.name) == pgid:
            total += int(rest[13]) + int(rest[14])
    return total / CLK_TCK


def process_cpu_s(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as fh:
        raw = fh.read()
    rest = raw[raw.rindex(")") + 2 :].split()
    return (int(rest[11]) + int(rest[12])) / CLK_TCK


def machine_cpu() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot."""
    with open("/proc/stat") as fh:
        values = [int(x) for x in fh.readline().split()[1:]]
    total = sum(values[:8])
    idle = values[3] + values[4]
    return (total - idle) / CLK_TCK, total / CLK_TCK


class WorkerProcess:
    """One ``dispatch worker`` in a session of its own (so its solver children die with it)."""

    def __init__(
        self,
        name: str,
        url: str,
        prefix: str,
        log_dir: Path,
        *,
        reclaim_idle_s: float,
        lease_ttl_s: float | None = None,
        poll_s: float = 0.2,
    ) -> None:
        self.name = name
        self.port = free_port()
        self.args = [
            str(DISPATCH),
            "worker",
            "--redis-url",
            url,
            "--prefix",
            prefix,
            "--name",
            name,
            "--concurrency",
            "1",
            "--cores",
            "1",
            "--health-port",
            str(self.port),
            "--poll-s",
            repr(poll_s),
            "--reclaim-idle-s",
            repr(float(reclaim_idle_s)),
        ]
        env = {k: v for k, v in os.environ.items() if not k.startswith("DISPATCH_")}
        env["DISPATCH_POLICY"] = "optimizer"
        if lease_ttl_s is not None:
            env["DISPATCH_ENGINE__LEASE_TTL_S"] = repr(float(lease_ttl_s))
        self.env_shown = " ".join(f"{k}={v}" for k, v in env.items() if k.startswith("DISPATCH_"))
        self.log_path = log_dir / f"{name}.log"
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen(
                self.args,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=ROOT,
                start_new_session=True,
            )
        self.pgid = self.proc.pid

    def command(self) -> str:
        return " ".join(["dispatch", *self.args[1:]])

    def log_tail(self) -> str:
        return self.log_path.read_bytes()[-1500:].decode(errors="replace")

    def alive(self) -> bool:
        return self.proc.poll() is None

    def _get(self, path: str) -> str:
        url = f"http://127.0.0.1:{self.port}{path}"
        with urllib.request.urlopen(url, timeout=5) as resp:
            return str(resp.read().decode())

    def ready(self) -> bool:
        if not self.alive():
            raise RuntimeError(
                f"worker {self.name} exited ({self.proc.returncode}):\n{self.log_tail()}"
            )
        try:
            self._get("/metrics")
        except OSError:
            return False
        return True

    def metrics(self) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
        out: dict[tuple[str, frozenset[tuple[str, str]]], float] = {}
        for family in text_string_to_metric_families(self._get("/metrics")):
            for s in family.samples:
                out[(s.name, frozenset(s.labels.items()))] = float(s.value)
        return out

    def cpu_s(self) -> float:
        return group_cpu_s(self.pgid)

    def kill(self) -> None:
        """SIGKILL the worker and its solver children at once (a crashed machine)."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pgid, signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        """SIGTERM (the worker finishes its tick), SIGKILL past a deadline; no leftovers."""
        if self.alive():
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                say(f"worker {self.name} ignored SIGTERM for 20 s: killing it")
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pgid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=10)


def metric(
    m: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str
) -> float:
    return m.get((name, frozenset(labels.items())), 0.0)


# ---- watching the queue ---------------------------------------------------------------------


@dataclass
class Entry:
    """One stream entry (one offered tick) as seen from XPENDING."""

    entry_id: str
    offered: float  # the entry id's server time
    community: str | None = None
    claims: list[tuple[float, str]] = field(default_factory=list)  # (when, consumer)
    deliveries: int = 0
    done: float | None = None  # first poll that no longer saw it pending


class QueueWatch:
    """Polls the consumer group's pending list: who claimed which tick, and when."""

    def __init__(self, url: str, stream: str) -> None:
        self.r: Any = redis.Redis.from_url(url, decode_responses=True)
        self.stream = stream
        self.entries: dict[str, Entry] = {}
        self.held: dict[str, str] = {}  # entry id -> consumer, as of the last poll
        self.polls = 0
        self.lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="queue-watch", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(WATCH_S):  # a sampling period
            try:
                self.poll()
            except redis.ResponseError:  # no group yet: no worker has started
                continue

    def poll(self) -> None:
        pipe = self.r.pipeline(transaction=False)
        pipe.xpending_range(self.stream, GROUP, min="-", max="+", count=1000)
        pipe.time()
        pending, (sec, usec) = pipe.execute()
        now = float(sec) + float(usec) / 1e6
        new: list[Entry] = []
        with self.lock:
            held = {}
            for p in pending:
                eid = p["message_id"]
                held[eid] = p["consumer"]
                e = self.entries.get(eid)
                if e is None:
                    e = self.entries[eid] = Entry(eid, int(eid.split("-")[0]) / 1000.0)
                    new.append(e)
                if p["times_delivered"] > e.deliveries or not e.claims:
                    e.claims.append((now - p["time_since_delivered"] / 1000.0, p["consumer"]))
                    e.deliveries = p["times_delivered"]
            for eid in self.held.keys() - held.keys():
                self.entries[eid].done = now
            self.held = held
            self.polls += 1
        if new:
            pipe = self.r.pipeline(transaction=False)
            for e in new:
                pipe.xrange(self.stream, e.entry_id, e.entry_id, count=1)
            for e, rows in zip(new, pipe.execute(), strict=True):
                if rows:
                    e.community = rows[0][1].get("c")

    def holding(self, consumer: str) -> list[Entry]:
        with self.lock:
            return [self.entries[eid] for eid, c in self.held.items() if c == consumer]

    def finished(self, consumer: str) -> int:
        with self.lock:
            return sum(
                1
                for e in self.entries.values()
                if e.done and e.claims and e.claims[-1][1] == consumer
            )

    def unclaimed(self) -> list[Entry]:
        """Entries still in the stream that no worker claimed."""
        rows = self.r.xrange(self.stream, "-", "+")
        out = []
        with self.lock:
            for eid, fields in rows:
                if eid not in self.entries:
                    out.append(Entry(eid, int(eid.split("-")[0]) / 1000.0, fields.get("c")))
        return out

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        self.r.close()


def start_delays(
    entries: Sequence[Entry], interval_s: float, end: float
) -> tuple[int, int, list[float], int]:
    """(ticks counted, on time, start delays of the started ones, ticks never started).

    See the module docstring: due = previous offer + interval (first: its offer);
    counted when due + interval <= end; on time when started before due + interval.
    """
    by_community: dict[str, list[Entry]] = defaultdict(list)
    for e in entries:
        if e.community is not None:
            by_community[e.community].append(e)
    counted = on_time = never = 0
    delays: list[float] = []
    for rows in by_community.values():
        rows.sort(key=lambda e: e.offered)
        ticks: list[tuple[float, float | None]] = []
        for k, e in enumerate(rows):
            due = e.offered if k == 0 else rows[k - 1].offered + interval_s
            ticks.append((due, e.claims[0][0] if e.claims else None))
        ticks.append((rows[-1].offered + interval_s, None))  # due, not yet offered
        for due, start in ticks:
            if due + interval_s > end:
                continue
            counted += 1
            if start is None:
                never += 1
                continue
            delays.append(start - due)
            on_time += int(start - due < interval_s)
    return counted, on_time, delays, never


# ---- one phase ------------------------------------------------------------------------------


@dataclass
class Sample:
    t: float
    metrics: dict[str, dict[tuple[str, frozenset[tuple[str, str]]], float]]
    cpu: dict[str, float]
    redis_cpu: float
    driver_cpu: float
    machine: tuple[float, float]


@dataclass
class PhaseResult:
    name: str
    workers: int
    interval_s: float
    window_s: float = 0.0
    ticks: float = 0.0
    ticks_per_s: float = 0.0
    tick_s: float = 0.0  # mean build + solve, from the workers' histogram
    slot_s: float = 0.0  # wall time a worker spends per tick (saturated phases)
    cpu_per_tick_s: float = 0.0
    redis_cpu_per_tick_ms: float = 0.0
    cores_workers: float = 0.0
    cores_redis: float = 0.0
    cores_driver: float = 0.0
    cores_other: float = 0.0
    fallback_share: float = 0.0
    lease_busy: float = 0.0
    counted: int = 0
    on_time: int = 0
    never: int = 0
    delays: list[float] = field(default_factory=list)
    idle_cores_per_worker: float | None = None

    @property
    def on_time_share(self) -> float:
        return self.on_time / self.counted if self.counted else float("nan")

    def delay_q(self, q: float) -> float:
        if not self.delays:
            return float("nan")
        return float(np.quantile(np.array(self.delays), q))


class Bench:
    """The server, the city and every process started for the run."""

    def __init__(self, url: str, redis_pid: int, city: City, log_dir: Path) -> None:
        self.url = url
        self.redis_pid = redis_pid
        self.city = city
        self.log_dir = log_dir
        self.r: Any = redis.Redis.from_url(url, decode_responses=True)
        self.stream = city.store.global_key("ticks")
        self.running: list[WorkerProcess] = []
        self.commands: list[str] = []
        self._names = 0

    def start_workers(self, n: int, **kwargs: Any) -> list[WorkerProcess]:
        out = []
        for _ in range(n):
            self._names += 1
            w = WorkerProcess(f"w{self._names}", self.url, self.city.prefix, self.log_dir, **kwargs)
            self.running.append(w)
            out.append(w)
            if not self.commands or kwargs.get("lease_ttl_s") is not None:
                self.commands.append(f"{w.env_shown} {w.command()}")
        wait_until(lambda: all(w.ready() for w in out), 90, "workers to serve /metrics", 0.1)
        return out

    def stop_all(self) -> None:
        for w in self.running:
            w.stop()
        self.running.clear()

    def sample(self, workers: Sequence[WorkerProcess]) -> Sample:
        ru = resource.getrusage(resource.RUSAGE_SELF)
        return Sample(
            server_now(self.r),
            {w.name: w.metrics() for w in workers},
            {w.name: w.cpu_s() for w in workers},
            process_cpu_s(self.redis_pid),
            ru.ru_utime + ru.ru_stime,
            machine_cpu(),
        )

    def measure(self, res: PhaseResult, a: Sample, b: Sample) -> None:
        """Throughput, costs and where the CPU went between two samples."""
        dt = b.t - a.t

        def delta(name: str, **labels: str) -> float:
            return sum(
                metric(b.metrics[w], name, **labels) - metric(a.metrics[w], name, **labels)
                for w in b.metrics
            )

        done = delta("dispatch_ticks_total", outcome="done")
        count = delta("dispatch_tick_duration_seconds_count")
        cpu = sum(b.cpu[w] - a.cpu[w] for w in b.cpu)
        redis_cpu = b.redis_cpu - a.redis_cpu
        driver = b.driver_cpu - a.driver_cpu
        busy, total = b.machine[0] - a.machine[0], b.machine[1] - a.machine[1]
        machine = busy / max(1e-9, total) * (os.cpu_count() or 1)  # busy cores
        res.window_s = dt
        res.ticks = done
        res.ticks_per_s = done / dt
        res.tick_s = delta("dispatch_tick_duration_seconds_sum") / count if count else float("nan")
        res.slot_s = len(b.metrics) * dt / done if done else float("nan")
        res.cpu_per_tick_s = cpu / done if done else float("nan")
        res.redis_cpu_per_tick_ms = 1000 * redis_cpu / done if done else float("nan")
        res.cores_workers = cpu / dt
        res.cores_redis = redis_cpu / dt
        res.cores_driver = driver / dt
        res.cores_other = max(0.0, machine - res.cores_workers - res.cores_redis - res.cores_driver)
        res.fallback_share = delta("dispatch_solver_fallbacks_total") / done if done else 0.0
        res.lease_busy = delta("dispatch_ticks_total", outcome="lease_busy")

    def phase(self, name: str, n: int, interval_s: float) -> tuple[QueueWatch, list[WorkerProcess]]:
        self.city.reset_queue()
        self.city.set_interval(interval_s)
        watch = QueueWatch(self.url, self.stream)
        try:
            workers = self.start_workers(n, reclaim_idle_s=30.0)
        except BaseException:
            watch.close()
            raise
        say(f"{name}: {n} worker(s) up, interval {interval_s:g} s")
        return watch, workers

    def finish(self, res: PhaseResult, watch: QueueWatch, end: float) -> None:
        """Stop the phase's workers; on-time shares from what the queue saw."""
        left = watch.unclaimed()
        self.stop_all()
        watch.close()
        res.counted, res.on_time, res.delays, res.never = start_delays(
            [*watch.entries.values(), *left], res.interval_s, end
        )

    def saturated(self, n: int, interval_s: float, window_s: float) -> PhaseResult:
        res = PhaseResult(f"saturated, {n} worker(s)", n, interval_s)
        watch, workers = self.phase(res.name, n, interval_s)
        try:
            wait_until(
                lambda: all(watch.finished(w.name) >= 2 for w in workers),
                60,
                "every worker to finish two ticks",
            )
            a = self.sample(workers)
            end = a.t + window_s
            wait_until(
                lambda: server_now(self.r) >= end or not all(w.alive() for w in workers),
                window_s + 30,
                "the window",
                0.2,
            )
            b = self.sample(workers)
            self.measure(res, a, b)
        finally:
            self.finish(res, watch, server_now(self.r))
        say(
            f"{res.name}: {res.ticks_per_s:.2f} ticks/s, tick {res.tick_s:.3f} s, "
            f"CPU {res.cpu_per_tick_s:.3f} s/tick, on time {res.on_time_share:.0%}"
        )
        return res

    def keep_up(self, n: int, interval_s: float) -> PhaseResult:
        res = PhaseResult(f"keeping up, {n} worker(s)", n, interval_s)
        watch, workers = self.phase(res.name, n, interval_s)
        ids = set(self.city.ids)
        try:
            wait_until(lambda: bool(watch.entries), 60, "the first offer")
            first = min(e.offered for e in list(watch.entries.values()))
            a = self.sample(workers)

            def drained() -> bool:
                with watch.lock:
                    seen = {e.community for e in watch.entries.values() if e.done}
                return ids <= seen and not watch.held

            quiet = first + interval_s - 0.5
            wait_until(
                lambda: drained() or server_now(self.r) >= quiet,
                interval_s + 60,
                "the first round",
                0.2,
            )
            t_drained = server_now(self.r)
            if drained() and quiet - t_drained >= 3.0:  # idle until the next round
                i0 = self.sample(workers)
                wait_until(lambda: server_now(self.r) >= quiet, interval_s, "the next round", 0.2)
                i1 = self.sample(workers)
                res.idle_cores_per_worker = sum(i1.cpu[w] - i0.cpu[w] for w in i1.cpu) / (
                    (i1.t - i0.t) * n
                )
            end = first + interval_s + 2.0
            wait_until(lambda: server_now(self.r) >= end, interval_s + 60, "the phase's end", 0.2)
            b = self.sample(workers)
            self.measure(res, a, b)
        finally:
            self.finish(res, watch, server_now(self.r))
        say(
            f"{res.name}: on time {res.on_time}/{res.counted}, start delay p50 "
            f"{res.delay_q(0.5):.1f} s, p95 {res.delay_q(0.95):.1f} s"
        )
        return res

    def failover(self, interval_s: float, lease_ttl_s: float, reclaim_s: float) -> dict[str, Any]:
        name = f"failover, lease {lease_ttl_s:g} s, reclaim {reclaim_s:g} s"
        self.city.reset_queue()
        self.city.set_interval(interval_s)
        watch = QueueWatch(self.url, self.stream)
        out: dict[str, Any] = {
            "lease_ttl_s": lease_ttl_s,
            "reclaim_s": reclaim_s,
            "interval_s": interval_s,
        }
        try:
            victim, survivor = self.start_workers(
                2, reclaim_idle_s=reclaim_s, lease_ttl_s=lease_ttl_s
            )
            say(f"{name}: 2 workers up, interval {interval_s:g} s")
            wait_until(
                lambda: watch.finished(victim.name) >= 2 and bool(watch.holding(victim.name)),
                60,
                "the victim to hold a tick",
                0.01,
            )
            before = survivor.metrics()
            t_kill = server_now(self.r)
            victim.kill()
            pending = self.r.xpending_range(self.stream, GROUP, min="-", max="+", count=1000)
            held_ids = [p["message_id"] for p in pending if p["consumer"] == victim.name]
            rows = [self.r.xrange(self.stream, i, i, count=1) for i in held_ids]
            held = [r[0][1]["c"] for r in rows if r]
            v0 = {c: self.city.plan_version(c) for c in held}
            claimed_at = {
                e.community: e.claims[-1][0] for e in watch.holding(victim.name) if e.community
            }
            leases = {c: self.city.lease(c) for c in held}
            out["held"] = held
            out["lease_left_s"] = max(
                (lease[0] - t_kill for lease in leases.values() if lease), default=0.0
            )
            out["lease_taken_s"] = max(
                (
                    lease[0] - claimed_at[c]
                    for c, lease in leases.items()
                    if lease and c in claimed_at
                ),
                default=float("nan"),
            )
            left = out["lease_left_s"]
            say(f"{name}: killed {victim.name} holding {held}; its lease ends in {left:.1f} s")
            committed: dict[str, float] = {}

            def recovered() -> bool:
                for c in held:
                    if c not in committed and self.city.plan_version(c) > v0[c]:
                        committed[c] = server_now(self.r)
                return len(committed) == len(held)

            limit = out["lease_left_s"] + 2 * interval_s + 60
            wait_until(recovered, limit, "the held communities to be ticked again")
            after = survivor.metrics()
            starts: dict[str, float] = {}
            with watch.lock:
                for e in watch.entries.values():
                    for when, consumer in e.claims:
                        if (
                            e.community in committed
                            and consumer == survivor.name
                            and when <= committed[e.community]
                        ):
                            starts[e.community] = max(starts.get(e.community, 0.0), when)
            out["committed_after_s"] = max(committed[c] - t_kill for c in held)
            out["started_after_s"] = max((starts[c] - t_kill for c in starts), default=float("nan"))
            out["lease_busy"] = metric(
                after, "dispatch_ticks_total", outcome="lease_busy"
            ) - metric(before, "dispatch_ticks_total", outcome="lease_busy")
        finally:
            self.stop_all()
            watch.close()
        after_s = out.get("committed_after_s", float("nan"))
        say(
            f"{name}: every held community committed again {after_s:.1f} s after the kill "
            f"(survivor's lease-busy ticks: {out.get('lease_busy', 0):.0f})"
        )
        return out

    def step_cost_ms(self, repeats: int = 20) -> tuple[float, float]:
        """(list_communities, a no-op offer of all) in ms: what every worker step repeats."""

        probe = RedisStore(self.url, prefix=f"{self.city.prefix}-probe")
        queue = RedisTickQueue(probe)
        try:
            comms = self.city.store.list_communities()
            due = [(c.id, 3600.0) for c in comms]
            queue.offer(due, time.time())  # all enqueued once; later offers skip them all
            t0 = time.perf_counter()
            for _ in range(repeats):
                self.city.store.list_communities()
            t1 = time.perf_counter()
            for _ in range(repeats):
                queue.offer(due, time.time())
            t2 = time.perf_counter()
        finally:
            keys = list(probe.r.scan_iter(match=f"{self.city.prefix}-probe:*"))
            if keys:
                probe.r.delete(*keys)
        return 1000 * (t1 - t0) / repeats, 1000 * (t2 - t1) / repeats


# ---- the run ---------------------------------------------------------------------------------


def machine_facts(server: str) -> str:
    model = "unknown cpu"
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as fh:
        for line in fh:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    import ortools

    load = " ".join(f"{x:.1f}" for x in os.getloadavg())
    return (
        f"{platform.machine()}, {model}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}, ortools {ortools.__version__}, redis-py "
        f"{redis.__version__}, {server}; load average {load}"
    )


def fmt(x: float, spec: str = ".2f") -> str:
    return "—" if x is None or (isinstance(x, float) and math.isnan(x)) else format(x, spec)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--communities", type=int, default=200)
    parser.add_argument("--budget", type=float, default=0.5)
    parser.add_argument("--interval", type=float, default=10.0, help="saturated phases")
    parser.add_argument("--window", type=float, default=30.0, help="saturated window, s")
    parser.add_argument("--load", type=float, default=0.75, help="keep-up load of two workers")
    parser.add_argument("--lease-ttl", type=float, default=5.0)
    parser.add_argument("--results-md", type=Path, default=None)
    args = parser.parse_args()
    check = subprocess.run([str(DISPATCH), "worker", "--help"], capture_output=True, text=True)
    if check.returncode != 0:
        sys.exit(f"`dispatch worker --help` failed: the worker command is missing\n{check.stderr}")
    command = " ".join([".venv/bin/python", "benchmarks/workers.py", *sys.argv[1:]])
    say(f"command: {command}")
    started = datetime.now(UTC)
    with contextlib.ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        (tmp / "redis").mkdir()
        (tmp / "logs").mkdir()
        server = RedisServer(find_redis_server(), tmp / "redis").start()
        stack.callback(server.stop)
        assert server.process is not None
        info = redis.Redis.from_url(server.url).info("server")
        facts = machine_facts(f"redis-server {info['redis_version']} (started for the run)")
        say(f"machine: {facts}")
        city = City(server.url, "bench", args.communities, args.budget)
        t = time.perf_counter()
        city.seed(args.interval)
        say(f"seeded {args.communities} communities in {time.perf_counter() - t:.1f} s")
        city.start_refreshing()
        stack.callback(city.stop_refreshing)
        bench = Bench(server.url, server.process.pid, city, tmp / "logs")
        stack.callback(bench.stop_all)
        sat1 = bench.saturated(1, args.interval, args.window)
        sat2 = bench.saturated(2, args.interval, args.window)
        ratio = sat2.ticks_per_s / sat1.ticks_per_s
        say(f"two workers / one worker: {ratio:.2f}")
        keep_interval = float(math.ceil(args.communities / (sat2.ticks_per_s * args.load)))
        keep2 = bench.keep_up(2, keep_interval)
        keep1 = bench.keep_up(1, keep_interval)
        fo1 = bench.failover(keep_interval, args.lease_ttl, args.lease_ttl)
        taken = fo1["lease_taken_s"]
        fo2 = None
        if not math.isnan(taken) and taken >= args.lease_ttl:
            fo2 = bench.failover(keep_interval, args.lease_ttl, float(math.ceil(taken) + 1))
        list_ms, offer_ms = bench.step_cost_ms()
        refreshes, rejected, refresh_error = city.refreshes, city.rejected, city.refresh_error
        load_end = " ".join(f"{x:.1f}" for x in os.getloadavg())
        commands = list(bench.commands)
    phases = [sat1, sat2, keep2, keep1]
    report(
        args,
        command,
        facts,
        started,
        phases,
        ratio,
        [f for f in (fo1, fo2) if f],
        list_ms,
        offer_ms,
        load_end,
        refreshes,
        rejected,
        refresh_error,
        commands,
    )


@dataclass(frozen=True)
class Sizing:
    """What a tick costs at a budget B: it holds its worker ``B + wall_over_s`` of wall time,
    a busy worker keeps ``cores_busy`` cores busy (solver child included), and Redis spends
    ``redis_ms`` of CPU on it."""

    wall_over_s: float
    cores_busy: float
    redis_ms: float

    def processes(self, n: int, interval_s: float, budget_s: float) -> int:
        """Workers (one core each) that drain N ticks within ``HEADROOM`` of the interval."""
        return math.ceil(n * (budget_s + self.wall_over_s) / (HEADROOM * interval_s))

    def rule(self, n: int) -> str:
        w = f"{'+' if self.wall_over_s >= 0 else '−'} {abs(self.wall_over_s):.2f}"
        return (
            f"worker cores = worker processes = ⌈N × (B {w} s) / ({HEADROOM} × I)⌉, each "
            "`dispatch worker --concurrency 1 --cores 1`. A tick holds its worker "
            f"B {w} s (the budget keeps back time to commit; the step adds reading and "
            f"offering every community), and a busy worker kept at most {self.cores_busy:.2f} "
            "cores busy, solver child included, so one core per process. A round of N ticks then "
            f"drains within {HEADROOM:.0%} of I, which keeps every tick on time even though all N "
            f"fall due together. Redis: N / I × {self.redis_ms:.1f} ms of one Redis core per "
            f"second (at N = {n}: every step reads every community, so this grows with N)"
        )


def sizing(saturated: Sequence[PhaseResult], budget_s: float) -> Sizing:
    """The rule from the saturated runs (busy workers): the largest costs seen."""
    return Sizing(
        max(p.slot_s for p in saturated) - budget_s,
        max(p.cpu_per_tick_s / p.slot_s for p in saturated),
        max(p.redis_cpu_per_tick_ms for p in saturated),
    )


def quiet_note(phases: Sequence[PhaseResult]) -> str:
    other = statistics.fmean(p.cores_other for p in phases)
    if other < 0.2:
        return f"The machine was otherwise quiet ({other:.2f} cores of other work on average)."
    return (
        f"Other sessions' work kept {other:.2f} cores busy on average during the measurements "
        '(column "other"), so the searches got less CPU than on a quiet machine.'
    )


def report(
    args: argparse.Namespace,
    command: str,
    facts: str,
    started: datetime,
    phases: list[PhaseResult],
    ratio: float,
    failovers: list[dict[str, Any]],
    list_ms: float,
    offer_ms: float,
    load_end: str,
    refreshes: int,
    rejected: int,
    refresh_error: str | None,
    commands: list[str],
) -> None:
    sat1, sat2, keep2, keep1 = phases
    size = sizing([sat1, sat2], args.budget)
    cpu_ratio = sat2.cores_workers / sat1.cores_workers if sat1.cores_workers else float("nan")
    lines = [
        f"## Tick workers ({started:%Y-%m-%d %H:%M} UTC)",
        "",
        f"Command: `{command}`  ",
        f"Machine: {facts}; at the end {load_end}.  ",
        "Worker processes: " + "; ".join(f"`{c}`" for c in commands),
        "",
        f"City: {args.communities} communities, each {COURIERS} couriers (positions refreshed "
        f"every {REFRESH_S:.0f} s: {refreshes} refreshes, {rejected} updates rejected) and "
        f"{ORDERS} open orders; solver budget {args.budget:g} s; policy optimizer; each worker "
        "`--concurrency 1 --cores 1` (one tick at a time, one search process per tick).",
        "",
        "| run | workers | interval s | ticks/s | tick s (build+solve) | worker s/tick "
        "| CPU s/tick | Redis ms/tick | cores: workers / Redis / driver / other | fallback "
        "| on time | start delay p50 / p95 s | never started |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for p in phases:
        slot = fmt(p.slot_s, ".3f") if p.name.startswith("sat") else "—"
        lines.append(
            f"| {p.name} | {p.workers} | {p.interval_s:g} | {fmt(p.ticks_per_s)} | "
            f"{fmt(p.tick_s, '.3f')} | {slot} | "
            f"{fmt(p.cpu_per_tick_s, '.3f')} | {fmt(p.redis_cpu_per_tick_ms, '.1f')} | "
            f"{p.cores_workers:.2f} / {p.cores_redis:.2f} / {p.cores_driver:.2f} / "
            f"{p.cores_other:.2f} | {p.fallback_share:.0%} | {p.on_time}/{p.counted} "
            f"({fmt(p.on_time_share * 100, '.0f')} %) | "
            f"{fmt(p.delay_q(0.5), '.1f')} / {fmt(p.delay_q(0.95), '.1f')} | {p.never} |"
        )
    lines += [
        "",
        "| failover | held | lease taken s | reclaim idle s | survivor's lease-busy ticks "
        "| started again after s | committed again after s | target s (lease + interval) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for f in failovers:
        target = f["lease_taken_s"] + f["interval_s"]
        lines.append(
            f"| LEASE_TTL_S={f['lease_ttl_s']:g}, interval {f['interval_s']:g} s | "
            f"{', '.join(f['held'])} | {fmt(f['lease_taken_s'], '.1f')} | {f['reclaim_s']:g} | "
            f"{f['lease_busy']:.0f} | {fmt(f['started_after_s'], '.1f')} | "
            f"{fmt(f['committed_after_s'], '.1f')} | {target:.1f} "
            f"({'met' if f['committed_after_s'] <= target else 'not met'}) |"
        )
    fo1 = failovers[0]
    fo_target = fo1["lease_taken_s"] + fo1["interval_s"]
    fo_met = fo1["committed_after_s"] <= fo_target
    idle = keep2.idle_cores_per_worker
    lines += [
        "",
        f"Targets: two workers / one worker ≥ 1.7 in ticks per second: "
        f"**{'met' if ratio >= 1.7 else 'not met'}** ({ratio:.2f}); failover within lease + one "
        f"interval ({fo_target:.0f} s, with `--reclaim-idle-s` = `LEASE_TTL_S` = "
        f"{fo1['lease_ttl_s']:g}): **{'met' if fo_met else 'not met'}** "
        f"({fo1['committed_after_s']:.1f} s). Ticks per second follow the number of workers "
        "as long as a tick's wall time is set by its budget; CPU starvation shows instead as "
        "less CPU per tick (less search): the two workers used "
        f"{cpu_ratio:.2f}× the CPU of one. " + quiet_note(phases),
        "",
        'Definitions: ticks/s is `dispatch_ticks_total{outcome="done"}` summed over the '
        "workers' `/metrics` over the window (saturated: "
        f"{sat1.window_s:.0f} s after each worker finished two ticks; keeping up: the whole "
        'phase); "worker s/tick" is workers × window / ticks (the wall time a tick holds a '
        "worker, saturated runs only); CPU is the workers' process groups, solver children "
        "included; \"other\" is the machine's busy cores minus ours (other sessions' work); "
        "fallback is the share of ticks whose search found nothing better than the "
        "regret-insertion start (`dispatch_solver_fallbacks_total`). A tick is due at the "
        "community's previous offer + its interval (the first "
        "of a phase at its offer), starts when a worker claims it (XPENDING polled every "
        f"{WATCH_S * 1000:.0f} ms) and is on time if it starts less than one interval after "
        "it fell due, counted over every tick due at least one interval before the phase "
        "ended, started or not. Keeping up: the interval is "
        f"⌈N / ({args.load:g} × two workers' ticks/s)⌉ = {keep2.interval_s:g} s, and the "
        "phase covers the first round. "
        "Failover: SIGKILL of one worker's process group while it holds a tick; times from the "
        "kill to the held community's next claim and next commit (plan version up).",
        "",
        "The queue keeps communities in step: one worker step offers every due community "
        "and sets each next due time to that offer + the interval, so all N fall due together "
        f"every interval: with two workers keeping up, start delays spread from "
        f"{fmt(min(keep2.delays, default=float('nan')), '.1f')} to "
        f"{fmt(max(keep2.delays, default=float('nan')), '.1f')} s of the {keep2.interval_s:g} s "
        "interval. Spreading first due times over the interval would cut the delays, not the "
        "workers needed.",
        "",
        "Sizing rule (the largest costs per tick of the saturated runs): "
        f"{size.rule(args.communities)}. "
        f"Check: it asks for {size.processes(args.communities, keep2.interval_s, args.budget)} "
        f"worker(s) at the keep-up interval of {keep2.interval_s:g} s, where two kept "
        f"{keep2.on_time_share:.0%} of ticks on time and one {keep1.on_time_share:.0%}.",
        "",
        "| communities N | interval I s | budget B s | worker cores |",
        "|---|---|---|---|",
        *[f"| {n} | {i:g} | {b:g} | {size.processes(n, i, b)} |" for n, i, b in SIZING_EXAMPLES],
        "",
        f"Per worker step (every claim), the worker reads every community and offers them all: "
        f"`list_communities` {list_ms:.1f} ms + a no-op `offer` {offer_ms:.1f} ms for "
        f"{args.communities} communities, measured in-process on the same Redis"
        + (
            f"; an idle worker (`--poll-s 0.2`) keeps {idle:.2f} cores busy."
            if idle is not None
            else "."
        ),
    ]
    if refresh_error:
        lines.append(f"\nPosition refresh failed during the run: {refresh_error}")
    text = "\n".join(lines) + "\n"
    print("\n" + text, flush=True)
    if args.results_md:
        with args.results_md.open("a") as fh:
            fh.write("\n" + text)


if __name__ == "__main__":
    main()
