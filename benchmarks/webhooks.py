# ruff: noqa: E402
"""Webhook delivery throughput: events fanned out and sent, per second, memory and Redis.

Run:  .venv/bin/python benchmarks/webhooks.py [--events 2000] [--entities 200]
      [--concurrency 4] [--results-md benchmarks/RESULTS.md]

Starts its own redis-server on a free loopback port (never the machine's 6379).
For each store (memory, Redis) it adds ``--events`` events over ``--entities``
orders to the feed, registers one endpoint for every event and runs one
``WebhookDispatcher`` step after step until every delivery succeeded, with

* ``null``: an in-process sender answering 200 at once (the dispatcher's and the
  store's own cost: fan-out, claims, per-entity queues, outcomes);
* ``http``: ``HttpSender`` POSTing signed bodies to a threaded ``http.server``
  receiver on loopback (answers 200 after reading the body).

Reported: deliveries per second over the whole drain (wall clock), and the
share of the first attempts that succeeded (must be 100 %).
"""

from __future__ import annotations

import sys
from pathlib import Path

# benchmarks/http.py is named like the standard library's ``http``: keep this folder off
# the path.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(_HERE.parent))

import argparse
import contextlib
import threading
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from benchmarks.common import publish, redis_for_run
from dispatch import MemoryStore, WallClock
from dispatch.store.base import NewEvent, Store
from dispatch.store.redis import RedisStore
from dispatch.webhooks import (
    Endpoint,
    HttpSender,
    Sender,
    SendResult,
    WebhookDispatcher,
    new_secret,
    webhook_store_for,
)


class NullSender:
    def send(self, url: str, headers: Mapping[str, str], body: bytes) -> SendResult:
        return SendResult(200, None, 0.0)


def receiver() -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("content-length", "0")))
            self.send_response(200)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def run(
    store: Store, sender: Sender, url: str, events: int, entities: int, conc: int
) -> dict[str, float]:
    clock = WallClock()
    hooks = webhook_store_for(store)
    hooks.put_endpoint(Endpoint("wh_bench", url, new_secret(), clock.now(), store.last_seq()))
    now = clock.now()
    for start in range(0, events, 500):
        store.append_events(
            [
                NewEvent(now, "c1", "order.assigned", f"o{i % entities}", {"state": "assigned"})
                for i in range(start, min(events, start + 500))
            ]
        )
    d = WebhookDispatcher(store, hooks, sender, clock, concurrency=conc)
    t0 = time.perf_counter()
    try:
        while d.health.attempts_ok < events:
            d.step()
            if time.perf_counter() - t0 > 600:
                raise RuntimeError("drain took more than 10 minutes")
    finally:
        d.close()
    took = time.perf_counter() - t0
    return {
        "per_s": events / took,
        "seconds": took,
        "first_ok": 100.0
        * d.health.attempts_ok
        / max(1, d.health.attempts_ok + d.health.attempts_failed),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--entities", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--results-md", type=Path, default=None)
    args = parser.parse_args()
    command = " ".join([".venv/bin/python", "benchmarks/webhooks.py", *sys.argv[1:]])
    print(f"command: {command}", flush=True)
    rows = []
    with contextlib.ExitStack() as stack:
        server, facts = redis_for_run(stack)
        print(f"machine: {facts}", flush=True)
        http_server = receiver()
        stack.callback(http_server.shutdown)
        host, port = http_server.server_address[:2]
        url = f"http://{host!s}:{port}/hook"
        for kind in ("null", "http"):
            for name in ("memory", "redis"):
                store: Store
                if name == "memory":
                    store = MemoryStore()
                else:
                    store = RedisStore(server.url, prefix=f"bench-{kind}")
                sender: Sender = (
                    NullSender() if kind == "null" else HttpSender(allow_private=True, timeout_s=5)
                )
                r = run(store, sender, url, args.events, args.entities, args.concurrency)
                close = getattr(sender, "close", None)
                if callable(close):
                    close()
                row = (name, kind, r["per_s"], r["seconds"], r["first_ok"])
                rows.append(row)
                print(f"{name:6} {kind:4} {r['per_s']:8.0f} deliveries/s", flush=True)
    lines = [
        f"## Webhook delivery ({datetime.now(UTC):%Y-%m-%d %H:%M} UTC)",
        "",
        f"Command: `{command}`  ",
        f"Machine: {facts}.  ",
        f"{args.events} events over {args.entities} orders, one endpoint for all, one "
        f"dispatcher with {args.concurrency} sending threads.",
        "",
        "| store | sender | deliveries/s | drain s | first attempts ok |",
        "|---|---|---:|---:|---:|",
        *[f"| {s} | {k} | {p:,.0f} | {t:.1f} | {ok:.0f} % |" for s, k, p, t, ok in rows],
        "",
    ]
    publish(lines, args.results_md)


if __name__ == "__main__":
    main()
