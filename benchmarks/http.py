# ruff: noqa: E402
"""HTTP API benchmarks: the locust suite and one-endpoint probes against ``dispatch serve``
(memory store and Redis) and the bare FastAPI ceiling, and the cost of a quote or an order
in an empty community against a busy one.

Run:  .venv/bin/python benchmarks/http.py [--seconds 10] [--mix-seconds 30] [--mix-users 40]
                                          [--wait-idle 900] [--results-md benchmarks/RESULTS.md]

Everything runs on this machine, against 127.0.0.1 only. Each measurement gets a
fresh server process (one uvicorn process, default settings: ``dispatch serve``
ticking in-process on the memory store, ``--store redis --with-worker`` on a
redis-server started for the run), so runs do not inherit each other's orders.
The load generator is one locust process (FastHttpUser, gevent) for every
target; load and server share the machine's cores (the sampled CPU use of
each is reported). Steps:

1. Probes (``simulations/load/probe.py``), one endpoint at a time: as fast as
   answered (closed loop, ``--users`` connections; 8 for location batches), then
   at 70 % of that rate (Poisson arrivals); throughput and p50/p95/p99.
   The bare ceiling (``benchmarks/bare_app.py``) takes the same order-shaped body.
2. The suite (``simulations/load/locustfile.py``): order service, couriers on the
   WebSocket who deliver, analysts and ops, against each store; failures and
   orders delivered.
3. Quote cost: quotes and orders one at a time (one client, keep-alive) in an
   empty community and in a busy one (500 couriers with fresh positions, 2 000
   open orders), over HTTP and in-process (the engine alone).
"""

from __future__ import annotations

import sys
from pathlib import Path

# This file is named like the standard library's ``http``: keep its folder off the path.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]

import argparse
import csv
import http.client
import itertools
import json
import os
import platform
import re
import resource
import statistics
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from importlib.metadata import version
from typing import Any, TypeVar

import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from simulations.load.world import community_body, point
from tests.redis_server import RedisServer, find_redis_server, free_port

PY = sys.executable
LOCUSTFILE = ROOT / "simulations" / "load" / "locustfile.py"
PROBEFILE = ROOT / "simulations" / "load" / "probe.py"
OTHERS = r"benchmarks/(faults|workers|engine|solver|simulate|ingest_redis)\.py|pytest"
TARGETS = {"memory": 0.40, "redis": 0.25}


# ---- processes --------------------------------------------------------------------------


@dataclass
class Server:
    """A server process we started, and the processes whose CPU counts as serving."""

    name: str
    url: str
    proc: subprocess.Popen[bytes]
    extra: list[psutil.Process] = field(default_factory=list)

    def cpu_s(self) -> float:
        total = 0.0
        for p in [psutil.Process(self.proc.pid), *self.extra]:
            try:
                t = p.cpu_times()
            except psutil.Error:
                continue
            total += t.user + t.system + t.children_user + t.children_system
        return total


def _wait_ready(url: str, path: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60.0
    host, port = url.removeprefix("http://").split(":")
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited ({proc.returncode}): {log.read_text()[-2000:]}")
        try:
            conn = http.client.HTTPConnection(host, int(port), timeout=2)
            conn.request("GET", path)
            if conn.getresponse().status == 200:
                conn.close()
                return
            conn.close()
        except OSError:
            pass
        time.sleep(0.05)  # polling a condition with a deadline, not synchronising on time
    raise RuntimeError(f"server at {url} not ready within 60 s: {log.read_text()[-2000:]}")


@contextmanager
def serving(kind: str, work: Path, redis: RedisServer | None = None) -> Iterator[Server]:
    """``dispatch serve`` (memory or redis) or the bare app, stopped whatever happens."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = work / f"{kind}-{port}.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("DISPATCH_")}
    if kind == "bare":
        # benchmarks/ must not be on the server's path: this file would shadow ``http``.
        cmd = [PY, "-m", "uvicorn", "benchmarks.bare_app:app", "--app-dir", str(ROOT)]
        cmd += ["--host", "127.0.0.1", "--port", str(port), "--no-access-log"]
        cmd += ["--log-level", "warning"]
        ready = "/openapi.json"
    else:
        cmd = [PY, "-m", "api", "serve", "--port", str(port)]
        if kind == "redis":
            assert redis is not None
            cmd += ["--store", "redis", "--redis-url", redis.url, "--with-worker"]
        ready = "/readyz"
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        _wait_ready(url, ready, proc, log)
        extra = [psutil.Process(redis.process.pid)] if redis and redis.process else []
        yield Server(kind, url, proc, extra)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# ---- locust runs --------------------------------------------------------------------------


@dataclass
class Row:
    name: str
    count: int
    failures: int
    rps: float
    p50: float
    p95: float
    p99: float


@dataclass
class Run:
    """One locust run: its rows by request name, exit code, and cores used."""

    label: str
    rows: dict[str, Row]
    code: int
    server_cores: float
    locust_cores: float
    seconds: float
    output: str

    def row(self, name: str) -> Row:
        return self.rows[name]


def _num(v: str) -> float:
    return 0.0 if v in ("", "N/A") else float(v)


def _read_stats(prefix: Path) -> dict[str, Row]:
    rows = {}
    with open(f"{prefix}_stats.csv") as fh:
        for r in csv.DictReader(fh):
            name = r["Name"] if r["Type"] in ("", "None") else f"{r['Type']} {r['Name']}"
            rows[name] = Row(
                name,
                int(r["Request Count"]),
                int(r["Failure Count"]),
                _num(r["Requests/s"]),
                _num(r["50%"]),
                _num(r["95%"]),
                _num(r["99%"]),
            )
    return rows


def _window(prefix: Path) -> tuple[float, float]:
    """The seconds (epoch) during which users were running, from locust's history."""
    with open(f"{prefix}_stats_history.csv") as fh:
        ts = [int(r["Timestamp"]) for r in csv.DictReader(fh) if int(r["User Count"]) > 0]
    return (float(ts[0]), float(ts[-1])) if ts else (0.0, 0.0)


class CpuSampler:
    """Samples CPU seconds of the server and of locust every 0.25 s, for a window later."""

    def __init__(self, server: Server, locust: psutil.Process) -> None:
        self.server = server
        self.locust = locust
        self.samples: list[tuple[float, float, float]] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while True:
            try:
                t = self.locust.cpu_times()
                lc = t.user + t.system
            except psutil.Error:
                return
            self.samples.append((time.time(), self.server.cpu_s(), lc))
            if self.stop.wait(0.25):
                return

    def cores(self, start: float, end: float) -> tuple[float, float]:
        """Cores used by (server, locust) between two instants (inside the samples)."""
        inside = [s for s in self.samples if start <= s[0] <= end]
        if len(inside) < 2:
            return (float("nan"), float("nan"))
        (t0, s0, l0), (t1, s1, l1) = inside[0], inside[-1]
        return ((s1 - s0) / (t1 - t0), (l1 - l0) / (t1 - t0))


def locust(
    label: str,
    server: Server,
    file: Path,
    users: int,
    seconds: int,
    work: Path,
    env: dict[str, str] | None = None,
) -> Run:
    """One headless locust run against ``server``; raises when locust itself failed."""
    prefix = work / re.sub(r"[^a-z0-9]+", "-", label.lower())
    cmd = [PY, "-m", "locust", "-f", str(file), "--headless", "-u", str(users)]
    cmd += ["-r", str(users), "-t", f"{seconds}s", "--host", server.url, "--only-summary"]
    cmd += ["--csv", str(prefix), "--loglevel", "WARNING", "--stop-timeout", "5"]
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("DISPATCH_")}
    full_env.update(env or {})
    started = time.time()
    proc = psutil.Popen(
        cmd, cwd=ROOT, env=full_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    sampler = CpuSampler(server, proc)
    try:
        out, _ = proc.communicate(timeout=seconds + 120)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
        raise RuntimeError(f"locust run {label} hung") from None
    finally:
        sampler.stop.set()
        sampler.thread.join()
    text = out.decode(errors="replace")
    if not Path(f"{prefix}_stats.csv").exists():
        raise RuntimeError(f"locust run {label} wrote no stats (exit {proc.returncode}):\n{text}")
    start, end = _window(prefix)
    server_cores, locust_cores = sampler.cores(start + 1.0, end - 0.5)
    run = Run(
        label,
        _read_stats(prefix),
        proc.returncode,
        server_cores,
        locust_cores,
        time.time() - started,
        text,
    )
    print(
        f"  {label}: exit {run.code}, "
        + ", ".join(
            f"{r.name} {r.rps:.0f}/s p99 {r.p99:.0f} ms ({r.failures} failed)"
            for r in run.rows.values()
            if r.name != "Aggregated"
        )[:400]
        + f"; server {server_cores:.2f} cores, locust {locust_cores:.2f}",
        flush=True,
    )
    return run


# ---- probes: one endpoint at a time --------------------------------------------------------

PROBE_ROW = {
    "orders": "POST /v1/orders",
    "quotes": "POST /v1/quotes",
    "locations": "POST /v1/locations",
    "bare": "POST /v1/orders",
}


@dataclass
class ProbeResult:
    target: str  # bare, bare-async, memory, redis
    probe: str
    users: int
    saturated: Run
    at_70: Run

    @property
    def sat(self) -> Row:
        return self.saturated.row(PROBE_ROW[self.probe])

    @property
    def low(self) -> Row:
        return self.at_70.row(PROBE_ROW[self.probe])


def probe(
    target: str,
    name: str,
    users: int,
    seconds: int,
    work: Path,
    start: Callable[[], Any],
    path: str | None = None,
) -> ProbeResult:
    """Saturate one endpoint on a fresh server, then load it at 70 % on another fresh one."""
    env = {"DISPATCH_PROBE": name}
    if path:
        env["DISPATCH_PROBE_PATH"] = path
    # Registering the location probe's fleet counts against locust's run time: allow for it.
    t = seconds + (5 if name == "locations" else 0)

    def run(label: str, run_env: dict[str, str]) -> Run:
        with start() as server:
            return locust(label, server, PROBEFILE, users, t, work, run_env)

    label = f"{target} {name}"
    sat = undisturbed(f"{label} saturated", partial(run, f"{label} saturated", env))
    rate = 0.7 * sat.row(PROBE_ROW[name]).rps / users
    env70 = {**env, "DISPATCH_PROBE_RATE": f"{rate:.4f}"}
    low = undisturbed(f"{label} at 70%", partial(run, f"{label} at 70%", env70))
    return ProbeResult(target, name, users, sat, low)


# ---- quote cost: empty against busy ------------------------------------------------------


class OneClient:
    """One keep-alive connection, timed per request (stdlib: little client overhead)."""

    def __init__(self, url: str) -> None:
        host, port = url.removeprefix("http://").split(":")
        self.conn = http.client.HTTPConnection(host, int(port), timeout=30)

    def call(self, method: str, path: str, body: Any = None, **hdrs: str) -> tuple[float, Any]:
        data = None if body is None else json.dumps(body)
        headers = {"Content-Type": "application/json", **hdrs} if data else dict(hdrs)
        t0 = time.perf_counter()
        self.conn.request(method, path, body=data, headers=headers)
        resp = self.conn.getresponse()
        raw = resp.read()
        took = time.perf_counter() - t0
        if resp.status >= 400:
            raise RuntimeError(f"{method} {path}: {resp.status} {raw[:300]!r}")
        return took, json.loads(raw) if raw else None


def _order(rng: Any, community: str) -> dict[str, Any]:
    (plat, plng), (dlat, dlng) = point(rng, 0.6), point(rng)
    return {
        "community_id": community,
        "pickup": {"lat": plat, "lng": plng},
        "dropoff": {"lat": dlat, "lng": dlng},
    }


def _stats_ms(xs: list[float]) -> dict[str, float]:
    ms = sorted(x * 1000 for x in xs)
    return {
        "mean": statistics.fmean(ms),
        "p50": ms[len(ms) // 2],
        "p95": ms[int(len(ms) * 0.95)],
        "p99": ms[int(len(ms) * 0.99)],
    }


def quote_cost_http(server: Server, n: int = 300) -> dict[str, dict[str, float]]:
    """Quotes and orders one at a time, empty and busy interleaved, over HTTP."""
    import random

    rng = random.Random(11)
    c = OneClient(server.url)
    for cid in ("qc-empty", "qc-busy"):  # no tick during the measurement: interval 3600 s
        c.call("PUT", f"/v1/communities/{cid}", community_body(cid, 3600.0, 1.0))
    couriers = [f"qc-w{i:03d}" for i in range(500)]
    for w in couriers:
        c.call("PUT", f"/v1/workers/{w}", {"kind": "courier", "community_id": "qc-busy"})
    for _ in range(2000):
        c.call("POST", "/v1/orders", _order(rng, "qc-busy"))

    def fresh_positions() -> None:
        updates = [
            {"worker_id": w, "lat": p[0], "lng": p[1]} for w in couriers for p in [point(rng)]
        ]
        c.call("POST", "/v1/locations", {"updates": updates})

    fresh_positions()
    # The cached market state is recomputed in the background at most every 5 s: let the
    # busy community's state see its couriers before timing (poll, bounded).
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        _, surge = c.call("GET", "/v1/communities/qc-busy/surge")
        if any(cell["supply"] > 0 for cell in surge["cells"]):
            break
    times: dict[str, list[float]] = {
        k: [] for k in ("quote empty", "quote busy", "order empty", "order busy")
    }
    keys = itertools.count()
    for i in range(n):
        if i % 100 == 0:
            fresh_positions()  # positions stay under the 60 s staleness limit
        for cid, tag in (("qc-empty", "empty"), ("qc-busy", "busy")):
            body = _order(rng, cid)
            times[f"quote {tag}"].append(c.call("POST", "/v1/quotes", body)[0])
            key = f"qc-{next(keys)}"
            times[f"order {tag}"].append(
                c.call("POST", "/v1/orders", body, **{"Idempotency-Key": key})[0]
            )
    _, busy = c.call("GET", "/v1/communities/qc-busy/surge")
    assert any(cell["supply"] > 0 for cell in busy["cells"]), "busy community has no supply"
    return {k: _stats_ms(v) for k, v in times.items()}


def quote_cost_engine(n: int = 300) -> dict[str, dict[str, float]]:
    """The same, calling the engine in-process (no HTTP), as a server builds it."""
    import random

    from dispatch import Engine, EngineSettings, MemoryStore, WallClock
    from dispatch.model import LatLng, WorkerKind
    from dispatch.requests import CommunitySpec, LocationUpdate, OrderRequest, WorkerSpec

    rng = random.Random(12)
    engine = Engine(EngineSettings(), MemoryStore(), WallClock(), background_pricing=True)
    center = LatLng(31.2304, 121.4737)
    for cid in ("qc-empty", "qc-busy"):
        engine.upsert_community(CommunitySpec(cid, cid, center, dispatch_interval_s=3600))
    for i in range(500):
        engine.upsert_worker(WorkerSpec(f"w{i}", WorkerKind.COURIER, "qc-busy"))

    def request(cid: str) -> OrderRequest:
        (plat, plng), (dlat, dlng) = point(rng, 0.6), point(rng)
        return OrderRequest(cid, LatLng(plat, plng), LatLng(dlat, dlng))

    def fresh() -> None:
        engine.update_locations([LocationUpdate(f"w{i}", *point(rng)) for i in range(500)])

    for _ in range(2000):
        engine.create_order(request("qc-busy"))
    fresh()
    engine.surge_map("qc-busy")  # the market state as a refresh leaves it
    times: dict[str, list[float]] = {
        k: [] for k in ("quote empty", "quote busy", "order empty", "order busy")
    }
    for i in range(n):
        if i % 100 == 0:
            fresh()
        for cid, tag in (("qc-empty", "empty"), ("qc-busy", "busy")):
            req = request(cid)
            t0 = time.perf_counter()
            engine.quote(req)
            t1 = time.perf_counter()
            engine.create_order(req, f"k-{cid}-{i}")
            t2 = time.perf_counter()
            times[f"quote {tag}"].append(t1 - t0)
            times[f"order {tag}"].append(t2 - t1)
    return {k: _stats_ms(v) for k, v in times.items()}


# ---- where the time goes: the request path in-process, under cProfile --------------------


@dataclass
class PathProfile:
    """One request kind in-process: wall time per request (not profiled, client included),
    the app's share of it (the rest is the in-process client), and where the app's time
    goes: (function, own share, cumulative share) of the profiled time."""

    request: str
    store: str
    per_request_s: float
    app_share: float
    rows: list[tuple[str, float, float]]
    sends: float = 0.0  # socket sends per request: Redis round trips (0 in memory)

    @property
    def app_us(self) -> float:
        return self.per_request_s * self.app_share * 1e6


@contextmanager
def _profiling_harness() -> Iterator[None]:
    """The process as a profiled server: every thread-pool hop (``run_in_threadpool``
    wherever the app imported it) made a direct call, so the profiler sees one thread; the
    server's JSON logging into /dev/null; httpx's per-request ``import sniffio`` (not
    installed) failing at once."""
    import importlib.util
    import logging

    import starlette.concurrency

    import api.app  # noqa: F401 - every module of the app imported before patching
    from api.logging import configure

    async def inline(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        return func(*args, **kwargs)

    missing = [m for m in ("sniffio",) if m not in sys.modules and not importlib.util.find_spec(m)]
    for m in missing:
        sys.modules[m] = None  # type: ignore[assignment]
    hop = starlette.concurrency.run_in_threadpool
    patched = [
        mod
        for mod in list(sys.modules.values())
        if mod is not None and getattr(mod, "run_in_threadpool", None) is hop
    ]
    for mod in patched:
        mod.run_in_threadpool = inline  # type: ignore[attr-defined]
    configure("INFO")
    client_log = logging.getLogger("httpx")
    client_level = client_log.level
    client_log.setLevel(logging.WARNING)  # the in-process client's own request log
    root = logging.getLogger()
    with open(os.devnull, "w") as devnull:
        for h in root.handlers:
            if isinstance(h, logging.StreamHandler):
                h.setStream(devnull)
        try:
            yield
        finally:
            for mod in patched:
                mod.run_in_threadpool = hop  # type: ignore[attr-defined]
            for m in missing:
                del sys.modules[m]
            client_log.setLevel(client_level)
            for h in root.handlers:
                if isinstance(h, logging.StreamHandler):
                    h.setStream(sys.stderr)


def profile_path(request: str, store_url: str | None = None, n: int = 1500) -> PathProfile:
    """Drive one request kind through the app in-process (httpx ASGITransport, one event
    loop): ``n`` requests timed, then ``n`` more under cProfile.

    ``request``: orders, quotes, locations (500 positions) against ``create_app`` over the
    engine a server builds (memory store, or Redis at ``store_url``; no ticking), or bare
    (``benchmarks/bare_app.py``, the plain ``def`` endpoint).
    """
    import asyncio
    import cProfile
    import pstats
    import random

    import httpx

    from api.app import build_engine, build_store, create_app
    from api.settings import ApiSettings
    from dispatch import WallClock

    rng = random.Random(5)
    prof = cProfile.Profile()
    store: Any = None
    with _profiling_harness():
        if request == "bare":
            from benchmarks.bare_app import app
        else:
            if store_url:
                cfg = ApiSettings(tick_enabled=False, store="redis", redis_url=store_url)
            else:
                cfg = ApiSettings(tick_enabled=False, store="memory")
            store = build_store(cfg)
            app = create_app(cfg, engine=build_engine(cfg, store, WallClock()))

        async def go() -> float:
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://bench") as c:
                batches: list[dict[str, Any]] = []
                if request != "bare":
                    await c.put("/v1/communities/pc", json=community_body("pc", 3600.0, 1.0))
                    couriers = [f"pw{i}" for i in range(1000)]
                    for w in couriers:
                        body = {"kind": "courier", "community_id": "pc"}
                        await c.put(f"/v1/workers/{w}", json=body)
                    for ids in (couriers[:500], couriers[500:]):
                        places = [point(rng) for _ in ids]
                        ups = [
                            {"worker_id": w, "lat": a, "lng": b}
                            for w, (a, b) in zip(ids, places, strict=True)
                        ]
                        batches.append({"updates": ups})
                        await c.post("/v1/locations", json=batches[-1])
                bodies = [_order(rng, "pc") for _ in range(64)]
                keys = itertools.count()

                async def once(i: int) -> None:
                    if request in ("orders", "bare"):
                        h = {"Idempotency-Key": f"pk-{next(keys)}"}
                        r = await c.post("/v1/orders", json=bodies[i % 64], headers=h)
                    elif request == "quotes":
                        r = await c.post("/v1/quotes", json=bodies[i % 64])
                    else:
                        r = await c.post("/v1/locations", json=batches[i % 2])
                    assert r.status_code < 300, r.text

                for i in range(100):
                    await once(i)
                t0 = time.perf_counter()
                for i in range(n):
                    await once(i)
                plain = (time.perf_counter() - t0) / n
                prof.enable()
                for i in range(n):
                    await once(i)
                prof.disable()
                return plain

        try:
            per_request = asyncio.run(go())
        finally:
            close: Any = getattr(store, "close", None)
            if callable(close):
                close()
    stats: Any = pstats.Stats(prof)
    entries = stats.stats.items()
    total = max(ct for (_f, _l, fn), (_c, _n, _t, ct, _k) in entries if fn == "once")
    app_ct = max(
        ct
        for (f, _l, fn), (_c, _n, _t, ct, _k) in entries
        if fn == "__call__" and f.endswith("fastapi/applications.py")
    )
    rows = []
    for (file, line, fn), (_cc, _nc, tt, ct, _callers) in entries:
        client = ("/httpx/", "/httpcore/", "http/cookiejar.py", "urllib/request.py")
        if any(c in file for c in client) or file.endswith("benchmarks/http.py"):
            continue  # the client's side of the in-process call
        short = file.split("site-packages/")[-1].removeprefix(str(ROOT) + "/")
        short = re.sub(r"^.*/lib/python3\.\d+/", "", short)
        rows.append((f"{short}:{line} {fn}", tt / app_ct, ct / app_ct))
    rows.sort(key=lambda r: -r[1])
    sends = sum(v[1] for (_f, _l, fn), v in entries if "sendall" in fn) / n
    kind = "redis" if store_url else "memory"
    return PathProfile(request, kind, per_request, app_ct / total, rows, sends)


# ---- machine and the report -----------------------------------------------------------------


def others_running() -> list[str]:
    """Other benchmark or test processes on this machine (their timings and ours mix)."""
    out = subprocess.run(["pgrep", "-af", OTHERS], capture_output=True, text=True).stdout
    me = str(os.getpid())
    return [
        line
        for line in out.splitlines()
        if line.split(" ", 1)[0] != me and not line.split(" ", 1)[-1].startswith("pgrep ")
    ]


class Neighbours:
    """Keeps measurements apart from other sessions' benchmarks and test runs.

    Before each measurement ``measuring`` polls until no other benchmark or test run is
    going (from a budget of ``wait_s`` shared by the whole run); while measuring, a
    thread polls every second and notes every other run it sees, in the measurement's
    own list and in ``seen``.
    """

    def __init__(self, wait_s: float) -> None:
        self.budget = wait_s
        self.waited = 0.0
        self.seen: dict[str, str] = {}  # pid -> command line, over the whole run
        self._current: list[str] | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()

    def _note(self) -> None:
        current = self._current
        if current is None:
            return
        for line in others_running():
            pid, _, cmd = line.partition(" ")
            self.seen.setdefault(pid, cmd)
            if line not in current:
                current.append(line)

    def _watch(self) -> None:
        while not self._stop.wait(1.0):
            self._note()

    @contextmanager
    def measuring(self) -> Iterator[list[str]]:
        t0 = time.monotonic()
        while others_running() and time.monotonic() - t0 < self.budget:
            time.sleep(5)  # polling for another session's benchmark to end
        spent = time.monotonic() - t0
        self.budget -= spent
        self.waited += spent
        here: list[str] = []
        self._current = here
        self._note()
        try:
            yield here
        finally:
            self._note()
            self._current = None

    def close(self) -> None:
        self._stop.set()
        self._thread.join()


T = TypeVar("T")
#: Measurements that other runs disturbed on every try: label -> what was running.
DISTURBED: dict[str, list[str]] = {}


def undisturbed(label: str, once: Callable[[], T], tries: int = 3) -> T:
    """``once()`` measured alone: repeated (up to ``tries`` times) while another benchmark
    or test run was going during it; a measurement disturbed every time is noted."""
    for attempt in range(tries):
        with NEIGHBOURS.measuring() as others:
            result = once()
        if not others:
            DISTURBED.pop(label, None)
            return result
        DISTURBED[label] = others
        if attempt < tries - 1:
            print(f"  {label}: another run was going ({others[0][:60]}); again", flush=True)
    return result


NEIGHBOURS = Neighbours(0.0)


def machine(redis_binary: str) -> str:
    cpu = "unknown cpu"
    with open("/proc/cpuinfo") as fh:
        for line in fh:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    redis_v = subprocess.run([redis_binary, "--version"], capture_output=True, text=True).stdout
    rv = re.search(r"v=([\d.]+)", redis_v)
    libs = ", ".join(
        f"{p} {version(p)}" for p in ("fastapi", "starlette", "uvicorn", "pydantic", "locust")
    )
    return (
        f"{platform.machine()}, {cpu}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}, {libs}, redis-server {rv.group(1) if rv else '?'}; "
        "uvicorn with h11 and asyncio (no httptools/uvloop installed)"
    )


def _f(x: float, fmt: str = ".0f") -> str:
    return "n/a" if x != x else format(x, fmt)  # NaN: not measured


def _mark(label: str) -> str:
    """† after a figure that another run disturbed on every try."""
    return " †" if label in DISTURBED else ""


def _met(ok: bool) -> str:
    return "**met**" if ok else "**not met**"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=10, help="Each probe run.")
    parser.add_argument("--users", type=int, default=32, help="Probe connections.")
    parser.add_argument("--mix-seconds", type=int, default=30, help="Each suite run.")
    parser.add_argument("--mix-users", type=int, default=40, help="Suite users.")
    parser.add_argument("--wait-idle", type=float, default=0.0, help="Wait for other runs.")
    parser.add_argument(
        "--only", default="", help="Comma-separated steps: probes,mix,cost,profile."
    )
    parser.add_argument("--results-md", type=Path, default=None)
    args = parser.parse_args()
    steps = set(args.only.split(",")) if args.only else {"probes", "mix", "cost", "profile"}
    global NEIGHBOURS
    NEIGHBOURS = Neighbours(args.wait_idle)
    load_start = os.getloadavg()
    binary = find_redis_server()
    began = time.time()
    usage0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    probes: list[ProbeResult] = []
    mixes: dict[str, tuple[Run, dict[str, float]]] = {}
    cost_http: dict[str, dict[str, float]] = {}
    cost_engine: dict[str, dict[str, float]] = {}
    profiles: list[PathProfile] = []
    with tempfile.TemporaryDirectory(prefix="bench-http-") as tmp:
        work = Path(tmp)
        redis = RedisServer(find_redis_server(), work).start()
        try:

            @contextmanager
            def fresh(kind: str) -> Iterator[Server]:
                if kind == "redis":
                    import redis as redis_py

                    with redis_py.Redis.from_url(redis.url) as r:
                        r.flushall()  # our own throw-away server: every run starts empty
                with serving(kind, work, redis) as s:
                    yield s

            if "probes" in steps:
                print("probes", flush=True)
                u = args.users
                probes.append(probe("bare", "bare", u, args.seconds, work, lambda: fresh("bare")))
                probes.append(
                    probe(
                        "bare-async",
                        "bare",
                        u,
                        args.seconds,
                        work,
                        lambda: fresh("bare"),
                        "/v1/orders/async",
                    )
                )
                for kind in ("memory", "redis"):
                    for name, users in (("orders", u), ("quotes", u), ("locations", 8)):
                        probes.append(
                            probe(kind, name, users, args.seconds, work, partial(fresh, kind))
                        )
            if "mix" in steps:
                print("suite", flush=True)
                for kind in ("memory", "redis"):

                    def suite(kind: str = kind) -> tuple[Run, dict[str, float]]:
                        with fresh(kind) as server:
                            run = locust(
                                f"{kind} suite",
                                server,
                                LOCUSTFILE,
                                args.mix_users,
                                args.mix_seconds,
                                work,
                            )
                            return run, server_metrics(server)

                    mixes[kind] = undisturbed(f"{kind} suite", suite)
            if "cost" in steps:
                print("quote cost", flush=True)

                def cost_over_http() -> dict[str, dict[str, float]]:
                    with fresh("memory") as server:
                        return quote_cost_http(server)

                cost_http = undisturbed("quote cost over HTTP", cost_over_http)
                cost_engine = undisturbed("quote cost in-process", quote_cost_engine)
            if "profile" in steps:
                print("profiles", flush=True)
                for request, url, n in (
                    ("bare", None, 1500),
                    ("orders", None, 1500),
                    ("orders", redis.url, 1500),
                    ("quotes", None, 1500),
                    ("locations", None, 300),
                ):
                    store = "redis" if url else "memory"
                    profiles.append(
                        undisturbed(
                            f"profile {request} {store}",
                            partial(profile_path, request, url, n),
                        )
                    )
        finally:
            redis.stop()
            NEIGHBOURS.close()
    usage1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    lines = report(
        args,
        binary,
        NEIGHBOURS.waited,
        sorted(f"{pid} {cmd}" for pid, cmd in NEIGHBOURS.seen.items()),
        load_start,
        began,
        probes,
        mixes,
        cost_http,
        cost_engine,
        profiles,
        (usage1.ru_utime + usage1.ru_stime) - (usage0.ru_utime + usage0.ru_stime),
    )
    print("\n".join(lines))
    if args.results_md:
        with args.results_md.open("a") as fh:
            fh.write("\n" + "\n".join(lines) + "\n")


def server_metrics(server: Server) -> dict[str, float]:
    """Deliveries and tick outcomes counted by this server process (its ``/metrics``)."""
    _, port = server.url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection("127.0.0.1", int(port), timeout=10)
    conn.request("GET", "/metrics")
    text = conn.getresponse().read().decode()
    conn.close()
    wanted = {
        "dispatch_deliveries_total": "delivered",
        'dispatch_ticks_total{outcome="done"}': "ticks done",
        'dispatch_ticks_total{outcome="failed"}': "ticks failed",
        "dispatch_tick_retries_total": "tick retries",
    }
    out = dict.fromkeys(wanted.values(), 0.0)
    for line in text.splitlines():
        for prefix, key in wanted.items():
            if line.startswith(prefix) and not line.startswith("#"):
                out[key] += float(line.rsplit(" ", 1)[1])
    return out


def report(
    args: argparse.Namespace,
    binary: str,
    waited: float,
    busy: list[str],
    load_start: tuple[float, float, float],
    began: float,
    probes: list[ProbeResult],
    mixes: dict[str, tuple[Run, dict[str, float]]],
    cost_http: dict[str, dict[str, float]],
    cost_engine: dict[str, dict[str, float]],
    profiles: list[PathProfile],
    child_cpu_s: float,
) -> list[str]:
    load_end = os.getloadavg()
    if not busy:
        idle = "no other benchmark or test run was seen while measuring (checked every second)"
    elif not DISTURBED:
        idle = (
            "other runs came and went (" + "; ".join(b[:70] for b in busy) + "); every "
            "measurement they overlapped was repeated alone (checked every second)"
        )
    else:
        idle = (
            "**other runs overlapped some measurements on every try; those are marked † "
            "and skewed**: " + "; ".join(f"{k}: {v[0][:70]}" for k, v in DISTURBED.items())
        )
    lines = [
        f"## HTTP API ({datetime.now(UTC):%Y-%m-%d %H:%M} UTC)",
        "",
        f"Command: `{' '.join(['.venv/bin/python', 'benchmarks/http.py', *sys.argv[1:]])}`  ",
        f"Machine: {machine(binary)}.  ",
        f"Load average {load_start[0]:.2f} at the start, {load_end[0]:.2f} at the end; "
        f"{idle} (waited {waited:.0f} s in all for others to finish); the whole run took "
        f"{time.time() - began:.0f} s.  ",
        "Load and servers share the 2 cores: one locust process (FastHttpUser) and one "
        "uvicorn process per target, each on a fresh server; `server` and `locust` below "
        "are the cores each used while users ran (sampled; the server's figure includes "
        "its redis-server and its solver child processes).",
        "",
    ]
    bare = [p for p in probes if p.target.startswith("bare")]
    ceiling = max(bare, key=lambda p: p.sat.rps) if bare else None
    bare_def = next((p for p in bare if p.target == "bare"), None)
    if probes:
        lines += [
            "### One endpoint at a time (`simulations/load/probe.py`)",
            "",
            f"Closed loop, {args.users} connections (8 for location batches of 500), "
            f"{args.seconds} s each; then the same at 70 % of the saturated rate "
            "(each user a Poisson process, so arrivals do not come in bursts). Times in ms.",
            "",
            "| target | endpoint | req/s | p50 | p95 | p99 | failed | server cores "
            "| locust cores | at 70 %: req/s | p50 | p99 | failed |",
            "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for p in probes:
            s, lo = p.sat, p.low
            endpoint = PROBE_ROW[p.probe] + (" (async def)" if p.target == "bare-async" else "")
            target = "bare" if p.target.startswith("bare") else p.target
            lines.append(
                f"| {target}{_mark(f'{p.target} {p.probe} saturated')} | {endpoint} | "
                f"{s.rps:,.0f} | {_f(s.p50)} | {_f(s.p95)} | "
                f"{_f(s.p99)} | {s.failures} | {_f(p.saturated.server_cores, '.2f')} | "
                f"{_f(p.saturated.locust_cores, '.2f')} | "
                f"{lo.rps:,.0f}{_mark(f'{p.target} {p.probe} at 70%')} | {_f(lo.p50)} | "
                f"{_f(lo.p99)} | {lo.failures} |"
            )
        lines.append("")
        verdicts = []
        for kind, goal in TARGETS.items():
            orders = next((p for p in probes if p.target == kind and p.probe == "orders"), None)
            if orders is None or ceiling is None or bare_def is None:
                continue
            share = orders.sat.rps / ceiling.sat.rps
            share_def = orders.sat.rps / bare_def.sat.rps
            verdicts.append(
                f"- Order creation on {kind}: {orders.sat.rps:,.0f}/s = {share:.0%} of the bare "
                f"ceiling ({ceiling.sat.rps:,.0f}/s, {PROBE_ROW['bare']}"
                f"{' async def' if ceiling.target == 'bare-async' else ''}); {share_def:.0%} of "
                f"the bare plain-`def` endpoint; target ≥ {goal:.0%}: {_met(share >= goal)}."
            )
        for kind in TARGETS:
            loc = next((p for p in probes if p.target == kind and p.probe == "locations"), None)
            if loc is not None:
                per_s = loc.sat.rps * 500
                verdicts.append(
                    f"- Batched locations on {kind}: {per_s:,.0f} positions/s (500 a request); "
                    f"target ≥ 20 000: {_met(per_s >= 20_000)}."
                )
        worst = [(p, p.low.p99) for p in probes if not p.target.startswith("bare")]
        if worst:
            bad = [f"{p.target} {p.probe} {v:.0f} ms" for p, v in worst if v >= 100]
            fails = sum(p.sat.failures + p.low.failures for p in probes)
            verdicts.append(
                "- p99 under 100 ms at 70 % of the saturated rate: "
                + (_met(not bad) + ("" if not bad else f" ({', '.join(bad)})"))
                + f"; failed requests in all probes: {fails} ({_met(fails == 0)})."
            )
        lines += [*verdicts, ""]
    if mixes:
        lines += [
            "### The suite (`simulations/load/locustfile.py`)",
            "",
            f"{args.mix_users} users for {args.mix_seconds} s (order service 3 : couriers on the "
            "WebSocket 4 : analyst 1 : ops 1), couriers at 300 m/s (a time-lapse) with a "
            "position every second; the community ticks every 3 s with a 1 s solver budget.",
            "",
            "| request | "
            + " | ".join(f"{k} n | req/s | p50 | p99 | failed" for k in mixes)
            + " |",
            "|---|" + "---:|---:|---:|---:|---:|" * len(mixes),
        ]
        names = sorted({n for run, _ in mixes.values() for n in run.rows})
        names = [n for n in names if n != "Aggregated"] + ["Aggregated"]
        for n in names:
            cells = []
            for run, _ in mixes.values():
                r = run.rows.get(n)
                cells.append(
                    "— | — | — | — | —"
                    if r is None
                    else f"{r.count} | {r.rps:.1f} | {_f(r.p50)} | {_f(r.p99)} | {r.failures}"
                )
            lines.append(f"| {n} | " + " | ".join(cells) + " |")
        lines.append("")
        for kind, (run, m) in mixes.items():
            created = run.rows.get("POST /v1/orders")
            ok = run.code == 0 and run.rows["Aggregated"].failures == 0 and m["delivered"] > 0
            lines.append(
                f"- {kind}{_mark(f'{kind} suite')}: exit code {run.code}; "
                f"{created.count if created else 0} orders "
                f"created, {m['delivered']:.0f} delivered during the run "
                f"(`dispatch_deliveries_total`); ticks {m['ticks done']:.0f} committed, "
                f"{m['ticks failed']:.0f} failed, {m['tick retries']:.0f} retried after a lost "
                f"version race; server {_f(run.server_cores, '.2f')} cores, "
                f"locust {_f(run.locust_cores, '.2f')}. No failed requests and orders "
                f"delivered: {_met(ok)}."
            )
        lines.append("")
    for title, cost in (
        (
            "over HTTP (one client, keep-alive, memory store, `dispatch serve`)"
            + _mark("quote cost over HTTP"),
            cost_http,
        ),
        (
            "in-process (the engine alone, as a server builds it)" + _mark("quote cost in-process"),
            cost_engine,
        ),
    ):
        if not cost:
            continue
        lines += [
            f"### Quote and order cost, empty against busy community, {title}",
            "",
            "Busy: 500 couriers with fresh positions and 2 000 open orders; 300 of each "
            "request, empty and busy interleaved. Times in ms.",
            "",
            "| request | mean | p50 | p95 | p99 |",
            "|---|---:|---:|---:|---:|",
        ]
        for k, v in cost.items():
            lines.append(
                f"| {k} | {v['mean']:.2f} | {v['p50']:.2f} | {v['p95']:.2f} | {v['p99']:.2f} |"
            )
        checks = []
        for req in ("quote", "order"):
            e, b = cost[f"{req} empty"]["p50"], cost[f"{req} busy"]["p50"]
            same = b - e <= max(0.2 * e, 0.3)
            checks.append(
                f"{req}: busy p50 {b:.2f} ms ≤ 3 ms {_met(b <= 3.0)}; busy − empty "
                f"{1000 * (b - e):+.0f} µs (equal within noise, i.e. within 20 % or 0.3 ms: "
                f"{_met(same)})"
            )
        lines += ["", "Targets: " + "; ".join(checks) + ".", ""]
    if profiles:
        lines += profile_report(profiles)
    lines.append(f"(CPU of all child processes over the run: {child_cpu_s:.0f} s.)")
    return lines


#: Framework steps worth naming in a profile beside our own code.
FRAMEWORK = (
    "solve_dependencies",
    "fastapi/routing.py:1863 _match",
    "serialize_response",
    "logging/__init__.py:1479 info",
    "prometheus_client/metrics.py",
    "validate_python",
    "to_json",
)
OURS = ("api/", "dispatch/", "geo/", "solver/")


def profile_report(profiles: list[PathProfile]) -> list[str]:
    """Per-request app time in-process and where it goes, one table per request kind."""
    bare = next((p for p in profiles if p.request == "bare"), None)
    lines = [
        "### Where the time goes (cProfile, in-process)",
        "",
        "Each request kind driven through the app in-process (httpx ASGITransport, one event "
        "loop; FastAPI's thread-pool hop made a direct call so the profiler sees one thread; "
        "JSON logs written to /dev/null as `dispatch serve` writes them to stderr; no "
        "ticking). `app µs`: the app's own time per request, measured without the profiler "
        "(uvicorn's HTTP parsing, and a thread-pool hop where the endpoint takes one, come "
        "on top, for ours and the bare endpoint alike). Shares are of the app's profiled "
        "time.",
        "",
        "| request | store | app µs per request | × bare |",
        "|---|---|---:|---:|",
    ]
    for p in profiles:
        ratio = f"{p.app_us / bare.app_us:.1f}" if bare else "n/a"
        store = "—" if p.request == "bare" else p.store
        mark = _mark(f"profile {p.request} {p.store}")
        lines.append(f"| {p.request}{mark} | {store} | {p.app_us:,.0f} | {ratio} |")
    lines.append("")
    for p in profiles:
        if p.request == "bare":
            continue
        own = p.rows[:8]
        chosen = [
            r
            for r in sorted(p.rows, key=lambda r: -r[2])
            if r[0].startswith(OURS) or any(f in r[0] for f in FRAMEWORK)
        ]
        named = [r for r in chosen if r not in own and not r[0].startswith("api/middleware")]
        trips = f", {p.sends:.1f} Redis round trips" if p.sends else ""
        lines += [
            f"{p.request} ({p.store}): {p.app_us:,.0f} µs per request in the app{trips}. "
            "Most own time, then the largest cumulative steps:",
            "",
            "| function | own % | cumulative % | cumulative µs |",
            "|---|---:|---:|---:|",
        ]
        for name, tt, ct in [*own, *named[:14]]:
            lines.append(f"| `{name}` | {100 * tt:.1f} | {100 * ct:.1f} | {ct * p.app_us:,.0f} |")
        lines.append("")
    return lines


if __name__ == "__main__":
    main()
