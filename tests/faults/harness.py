"""Fault injection, Jepsen style: run the system, break it, let it settle, check the history.

``run_faults(FaultConfig(...))`` does, in order:

1. start a redis-server with AOF (``appendfsync always`` or ``everysec``), two API
   processes (``dispatch serve --store redis``) and two tick workers (``dispatch
   worker``), each on free loopback ports with a log file under ``directory/logs``;
2. create communities and couriers over HTTP; courier threads stream positions and
   work their routes; order-service threads place ``orders`` orders with idempotency
   keys, retrying through errors;
3. run the nemesis (``tests.faults.nemesis``) while the load goes on, keep the load
   on for the tick bound after the last fault, then let the last orders in;
4. settle: couriers keep working until every order is closed or ``settle_s`` passes;
5. read the whole event feed, read every order back (GET, and re-POST of its key and
   body) and check the history (``tests.faults.history``).

The result counts orders, faults and anomalies by kind and keeps timings; the run
directory keeps the logs, Redis' AOF and ``history.json``. Every process started
is stopped in a ``finally``; nothing here waits a fixed time to synchronise: the
waits poll a condition until a deadline (the pauses of the load and of the nemesis
are part of the workload).
"""

from __future__ import annotations

import math
import random
import re
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import httpx

from tests.faults.clients import (
    Budget,
    CommunityPlan,
    Courier,
    CourierGroup,
    Endpoint,
    FeedFollower,
    Intent,
    OrderClient,
    Report,
    offset,
)
from tests.faults.history import TERMINAL, Anomaly, Verification, check_history
from tests.faults.nemesis import KINDS, Fault, Nemesis
from tests.faults.processes import Cluster, ClusterSpec
from tests.faults.result import (
    FaultConfig,
    FaultResult,
    by_kind,
    latencies,
    order_counts,
    save_history,
)
from tests.polling import pause

__all__ = [
    "KINDS",
    "Anomaly",
    "Fault",
    "FaultConfig",
    "FaultResult",
    "run_faults",
]

CENTER = (31.2304, 121.4737)
STEP_DEG = 0.08  # community centres ~8 km apart: 3 km fences never overlap
API_KEY = "faults-key"
_PAGE = 1000


def community_plans(config: FaultConfig, rng: random.Random) -> list[CommunityPlan]:
    plans = []
    for c in range(config.communities):
        lat, lng = CENTER[0] + STEP_DEG * (c % 4), CENTER[1] + STEP_DEG * (c // 4)
        merchants = tuple(
            offset(lat, lng, 1500.0 * math.sqrt(rng.random()), rng.uniform(0, 2 * math.pi))
            for _ in range(4)
        )
        couriers = tuple(f"c{c}-k{k}" for k in range(config.couriers_per_community))
        plans.append(CommunityPlan(f"c{c}", lat, lng, merchants, couriers))
    return plans


def _must(ep: Endpoint, method: str, path: str, timeout_s: float = 30.0, **kw: Any) -> Any:
    """A setup or read-back call, retried until it succeeds or the deadline passes."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            r = ep.request(method, path, **kw)
            if r.status_code < 300:
                return r.json()
            if r.status_code < 500 and r.status_code != 409:
                raise RuntimeError(f"{method} {path}: {r.status_code} {r.text[:500]}")
            why = f"{r.status_code} {r.text[:200]}"
        except httpx.HTTPError as exc:
            why = repr(exc)
        ep.rotate()
        if time.monotonic() > deadline:
            raise RuntimeError(f"{method} {path} kept failing: {why}")
        pause(0.1)


def read_feed(ep: Endpoint) -> list[dict[str, Any]]:
    """The whole event feed, page by page."""
    out: list[dict[str, Any]] = []
    after = 0
    while True:
        page = _must(ep, "GET", "/v1/events", params={"after": after, "limit": _PAGE})
        out += page["events"]
        if len(page["events"]) < _PAGE:
            return out
        after = int(page["last_seq"])


def verify(ep: Endpoint, intent: Intent) -> Verification:
    """Read an intent's order back: GET it (when acknowledged), then re-POST key and body."""
    status = state = None
    if intent.order_id is not None:
        for _ in range(20):
            try:
                r = ep.request("GET", f"/v1/orders/{intent.order_id}")
            except httpx.HTTPError:
                ep.rotate()
                continue
            status = r.status_code
            state = r.json().get("state") if status == 200 else None
            if status < 500:
                break
    headers = {"Idempotency-Key": intent.key}
    posted = _must(ep, "POST", "/v1/orders", json=intent.body, headers=headers)
    return Verification(intent.key, status, state, str(posted["id"]))


@dataclass
class _Run:
    """The moving parts of one run, so ``run_faults`` reads as its steps."""

    config: FaultConfig
    progress: Callable[[str], None]
    cluster: Cluster
    halt: threading.Event = field(default_factory=threading.Event)
    stop_orders: threading.Event = field(default_factory=threading.Event)
    plans: list[CommunityPlan] = field(default_factory=list)
    clients: list[OrderClient] = field(default_factory=list)
    couriers: list[CourierGroup] = field(default_factory=list)
    nemesis: Nemesis | None = None
    follower: FeedFollower | None = None
    budget: Budget = field(default_factory=Budget)
    t0: float = field(default_factory=time.monotonic)

    @property
    def intents(self) -> list[Intent]:
        return [i for c in self.clients for i in c.intents]

    @property
    def reports(self) -> list[Report]:
        return [r for g in self.couriers for r in g.reports]

    def say(self, what: str) -> None:
        self.progress(f"[{time.monotonic() - self.t0:6.1f} s] {what}")

    def status(self) -> str:
        intents = self.intents
        acked = sum(i.acked for i in intents)
        delivered = sum(r.type == "delivered" for r in self.reports)
        faults = self.nemesis.faults if self.nemesis else []
        now = f", now {faults[-1].kind}" if faults and faults[-1].ended is None else ""
        return (
            f"orders {acked} acknowledged / {len(intents)} placed of {self.config.orders}, "
            f"{delivered} delivered; faults {len(faults)}{now}"
        )

    def check_threads(self) -> None:
        threads: list[OrderClient | CourierGroup | Nemesis | FeedFollower] = [
            *self.clients,
            *self.couriers,
        ]
        threads += [t for t in (self.nemesis, self.follower) if t is not None]
        for t in threads:
            if t.failure is not None:
                raise RuntimeError(f"{t.name} failed: {t.failure!r}") from t.failure

    # ---- steps ---------------------------------------------------------------------

    def setup(self, ep: Endpoint, rng: random.Random) -> None:
        cfg = self.config
        self.plans = community_plans(cfg, rng)
        for p in self.plans:
            body = {
                "name": p.id,
                "center": {"lat": p.lat, "lng": p.lng},
                "dispatch_interval_s": cfg.dispatch_interval_s,
                "solver_budget_s": cfg.solver_budget_s,
            }
            _must(ep, "PUT", f"/v1/communities/{p.id}", json=body)
            for wid in p.couriers:
                worker = {"kind": "courier", "community_id": p.id, "capacity": 3}
                _must(ep, "PUT", f"/v1/workers/{wid}", json=worker)
        urls = self.cluster.api_urls
        self.follower = FeedFollower(urls, API_KEY, halt=self.halt)
        self.follower.start()
        for n, p in enumerate(self.plans):
            fleet = [Courier(wid, *p.point(rng)) for wid in p.couriers]
            group = CourierGroup(
                f"couriers-{p.id}", urls, API_KEY, fleet, seed=cfg.seed * 100 + n, halt=self.halt
            )
            self.couriers.append(group)
            group.start()
        deadline = time.monotonic() + 30
        while not all(g.batches for g in self.couriers):
            self.check_threads()
            if time.monotonic() > deadline:
                raise RuntimeError("couriers could not send their first positions")
            pause(0.05)

    def start_load(self, run_id: str) -> None:
        cfg = self.config
        for n in range(cfg.order_clients):
            client = OrderClient(
                f"os{n}",
                self.cluster.api_urls,
                API_KEY,
                self.plans,
                self.budget,
                cfg.rate_per_s / cfg.order_clients,
                seed=cfg.seed * 1000 + n,
                stop=self.stop_orders,
                halt=self.halt,
                run_id=run_id,
            )
            self.clients.append(client)
            client.start()

    def run_nemesis(self) -> None:
        cfg = self.config
        self.nemesis = Nemesis(
            self.cluster,
            seed=cfg.seed,
            halt=self.halt,
            lease_s=cfg.lease_s,
            schedule=cfg.faults,
            duration_s=cfg.fault_s,
            gap_s=cfg.gaps_s,
            warmup_s=cfg.warmup_s,
            down_s=cfg.down_s,
            pause_extra_s=cfg.pause_extra_s,
            on_fault=lambda f: self.say(
                f"{f.kind} on {f.target}{' mid-tick of ' + f.mid_tick if f.mid_tick else ''}: "
                f"held {f.held_s:.1f} s, serving again {f.recovery_s or 0.0:.2f} s later"
            ),
            probe=self.cluster.lease_probe([p.id for p in self.plans]),
        )
        self.nemesis.start()
        while self.nemesis.is_alive():
            self.nemesis.join(timeout=10.0)
            self.check_threads()
            self.say(self.status())
        self.nemesis.heal()
        self.check_threads()

    def finish_load(self) -> None:
        """Keep the load on for the tick bound after the last fault (the resumption check
        needs work waiting) and until ``orders`` were placed; then stop placing and let
        the clients finish their retries."""
        cfg = self.config
        faults = self.nemesis.faults if self.nemesis else []
        last = max((f.ended or f.started for f in faults), default=time.time())
        until = time.monotonic() + max(
            0.0, last + cfg.tick_bound_s + cfg.dispatch_interval_s - time.time()
        )
        deadline = until + cfg.orders / cfg.rate_per_s + 120.0
        while time.monotonic() < until or self.budget.placed < cfg.orders:
            self.check_threads()
            if time.monotonic() > deadline:
                raise RuntimeError(f"only {self.budget.placed} of {cfg.orders} orders placed")
            self.halt.wait(min(1.0, max(0.05, until - time.monotonic())))
        self.stop_orders.set()
        for client in self.clients:
            while client.is_alive():
                client.join(timeout=10.0)
                self.check_threads()
                self.say(self.status())
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{client.name} did not finish its retries")

    def settle(self, ep: Endpoint) -> bool:
        """Poll the feed until every order is closed and every acknowledged one is in it."""
        deadline = time.monotonic() + self.config.settle_s
        acked = {i.order_id for i in self.intents if i.order_id is not None}
        states: dict[str, str] = {}
        after = 0
        last_say = time.monotonic()
        while True:
            page = _must(ep, "GET", "/v1/events", params={"after": after, "limit": _PAGE})
            for e in page["events"]:
                if str(e["type"]).startswith("order.") and e.get("data", {}).get("state"):
                    states[str(e["entity_id"])] = str(e["data"]["state"])
            after = int(page["last_seq"])
            open_ = [o for o, s in states.items() if s not in TERMINAL]
            if not open_ and acked <= set(states):
                return True
            if time.monotonic() > deadline:
                return False
            if time.monotonic() - last_say > 10:
                last_say = time.monotonic()
                self.say(f"settling: {len(open_)} orders open")
            self.check_threads()
            if len(page["events"]) < _PAGE:
                pause(0.2)

    def stop_threads(self) -> None:
        self.halt.set()
        self.stop_orders.set()
        for t in [*self.clients, *self.couriers, *([self.follower] if self.follower else [])]:
            t.join(timeout=15.0)
        if self.nemesis is not None:
            self.nemesis.join(timeout=90.0)


def run_faults(config: FaultConfig, progress: Callable[[str], None] | None = None) -> FaultResult:
    """One run as the module docstring describes; every process is stopped before it returns."""
    cfg = config
    rng = random.Random(cfg.seed)
    run_id = f"r{rng.randrange(16**8):08x}"
    spec = ClusterSpec(
        cfg.directory,
        API_KEY,
        appendfsync=cfg.appendfsync,
        worker_concurrency=cfg.worker_concurrency,
        lease_ttl_s=cfg.lease_ttl_s,
        reclaim_idle_s=cfg.reclaim_idle_s,
        worker_command=cfg.worker_command,
    )
    run = _Run(cfg, progress or (lambda _: None), Cluster(spec))
    timings: dict[str, float] = {}
    try:
        run.cluster.start()
        timings["startup_s"] = time.monotonic() - run.t0
        configured = run.cluster.redis_config("appendfsync")
        if configured != cfg.appendfsync:
            raise RuntimeError(f"redis runs appendfsync {configured}, not {cfg.appendfsync}")
        run.say(f"up: redis {run.cluster.redis_url} (appendfsync {configured}), {describe(run)}")
        ep = Endpoint(run.cluster.api_urls, API_KEY, timeout_s=30.0)
        try:
            return _drive(run, ep, rng, run_id, timings)
        finally:
            ep.close()
    finally:
        run.stop_threads()
        run.cluster.stop()


def describe(run: _Run) -> str:
    return ", ".join(
        f"{s.name} {s.ready_url.removesuffix('/readyz')}" for s in run.cluster.services
    )


def _drive(
    run: _Run, ep: Endpoint, rng: random.Random, run_id: str, timings: dict[str, float]
) -> FaultResult:
    cfg = run.config
    run.setup(ep, rng)
    t_load = time.monotonic()
    run.start_load(run_id)
    run.run_nemesis()
    run.finish_load()
    timings["load_s"] = time.monotonic() - t_load
    run.say("load done, settling: " + run.status())
    t_settle = time.monotonic()
    settled = run.settle(ep)
    timings["settle_s"] = time.monotonic() - t_settle
    run.halt.set()
    for t in [*run.couriers, *([run.follower] if run.follower else [])]:
        t.join(timeout=15.0)
    run.check_threads()
    counters = scrape_workers(run.cluster)
    t_check = time.monotonic()
    events = read_feed(ep)
    intents, reports = run.intents, run.reports
    faults = run.nemesis.faults if run.nemesis else []
    with ThreadPoolExecutor(8) as pool:
        readers = [Endpoint(run.cluster.api_urls, API_KEY, 30.0, start=n) for n in range(8)]
        try:
            todo = [i for i in intents if i.rejected is None]
            found = list(pool.map(lambda p: verify(readers[p[0] % 8], p[1]), enumerate(todo)))
        finally:
            for r in readers:
                r.close()
    verified = {v.key: v for v in found}
    communities = [p.id for p in run.plans]
    follower = run.follower
    anomalies, lives, resume, outage = check_history(
        events,
        intents,
        reports,
        verified,
        faults,
        communities,
        cfg.tick_bound_s,
        seen=follower.seen if follower else (),
        jumps=follower.jumps if follower else (),
    )
    timings["check_s"] = time.monotonic() - t_check
    timings["total_s"] = time.monotonic() - run.t0
    save_history(cfg.directory / "history.json", events, intents, reports, faults)
    result = FaultResult(
        cfg,
        orders=order_counts(intents, lives, settled),
        faults=faults,
        anomalies=anomalies,
        resume_s=by_kind(faults, resume),
        outage_s=by_kind(faults, outage),
        timings={**timings, **latencies(intents)},
        counters={
            "events": len(events),
            "events_followed": len(follower.seen) if follower else 0,
            "reports": len(reports),
            "courier_conflicts": sum(g.conflicts for g in run.couriers),
            "client_errors": dict(
                sum((Counter(i.errors) for i in intents), Counter())
                + sum((g.errors for g in run.couriers), Counter())
            ),
            "retried_orders": sum(i.attempts > 1 for i in intents),
            "dispatchers": dict(
                Counter(
                    str(e["data"].get("dispatcher", "?"))
                    for e in events
                    if e["type"] == "plan.committed"
                )
            ),
            "workers": counters,
        },
    )
    run.say(f"checked {len(events)} events: anomalies {dict(result.anomalies_by_kind) or 'none'}")
    return result


_METRIC = re.compile(r"^([a-zA-Z_:][\w:]*)(\{[^}]*\})?\s+([-+0-9.eEinfNa]+)$")


def scrape_workers(cluster: Cluster) -> dict[str, float]:
    """Counters of the tick workers about leases, fencing, reclaims and failures (since
    each one's last start), summed over workers; the raw text is kept in the run folder."""
    totals: dict[str, float] = {}
    with httpx.Client(timeout=5.0) as client:
        for svc in cluster.workers:
            url = svc.ready_url.removesuffix("/readyz") + "/metrics"
            try:
                text = client.get(url).text
            except httpx.HTTPError:
                continue
            (cluster.logs / f"{svc.name}.metrics.txt").write_text(text)
            for line in text.splitlines():
                m = _METRIC.match(line)
                if m and re.search(r"ticks_total|fenc|reclaim|fail|retries", m.group(1)):
                    if m.group(1).endswith(("_created", "_bucket")):
                        continue
                    name = m.group(1) + (m.group(2) or "")
                    totals[name] = totals.get(name, 0.0) + float(m.group(3))
    return totals
