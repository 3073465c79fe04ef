# ruff: noqa: E402
"""The rate limiter's cost on the hot path: one admission check, memory and Redis.

Run:  .venv/bin/python benchmarks/limits.py [--checks 5000] [--results-md benchmarks/RESULTS.md]

Starts its own redis-server on a free loopback port (never the machine's 6379).
For each storage it times ``--checks`` admissions of one key through
``api.ratelimit.KeyLimiter`` and counts the calls that reached the storage:

* ``memory``: the ``limits`` package's memory storage, one call per check;
* ``redis, per request``: a Redis round trip per check (``chunk_share=0``), the
  design this module avoids, as the baseline;
* ``redis, reserved``: a tenth of the limit reserved per round trip (the default).

Each at a limit the checks stay under (100 000/s) and at one they exceed
(2 000/s: refusals are answered locally until the window frees a place).
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
import asyncio
import contextlib
import time
from datetime import UTC, datetime

from api.auth import Principal
from api.ratelimit import KeyLimiter, build_storage, parse_rate_limits
from benchmarks.common import publish, redis_for_run
from tests.api.limit_counting import CountingStrategy


async def measure(url: str | None, share: float, limit: str, checks: int) -> tuple[float, int, int]:
    """Microseconds per check, storage calls, admitted checks."""
    prefix = f"bench-limits-{time.time_ns()}:{{~}}"
    storage = build_storage(url, cluster=False, prefix=prefix)
    limiter = KeyLimiter(
        storage, parse_rate_limits(f"order-service={limit}"), shared=url is not None
    )
    limiter.chunk_share = share
    counting = CountingStrategy(limiter.limiter)
    limiter.limiter = counting  # type: ignore[assignment]
    key = Principal("key1", frozenset({"order-service"}))
    admitted = 0
    start = time.perf_counter()
    for _ in range(checks):
        admitted += (await limiter.admit(key)).allowed
    per_check = (time.perf_counter() - start) / checks * 1e6
    close = getattr(getattr(storage, "storage", None), "close", None)
    if callable(close):  # a Redis client (the memory storage's is a Counter)
        close()
    return per_check, counting.calls, admitted


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--checks", type=int, default=5000)
    parser.add_argument("--results-md", type=Path, default=None)
    args = parser.parse_args()
    command = " ".join([".venv/bin/python", "benchmarks/limits.py", *sys.argv[1:]])
    print(f"command: {command}", flush=True)
    rows = []
    with contextlib.ExitStack() as stack:
        server, facts = redis_for_run(stack)
        print(f"machine: {facts}", flush=True)
        setups = [
            ("memory", None, 0.1),
            ("redis, per request", server.url, 0.0),
            ("redis, reserved", server.url, 0.1),
        ]
        for name, url, share in setups:
            for limit in ("100000/second", "2000/second"):
                us, calls, admitted = asyncio.run(measure(url, share, limit, args.checks))
                rows.append((name, limit, us, calls, admitted))
                print(f"{name:20} {limit:14} {us:7.1f} µs/check {calls:6} calls", flush=True)
    lines = [
        f"## Rate-limit admission ({datetime.now(UTC):%Y-%m-%d %H:%M} UTC)",
        "",
        f"Command: `{command}`  ",
        f"Machine: {facts}.  ",
        f"{args.checks} admission checks of one key in a row (one process).",
        "",
        "| storage | limit | µs per check | storage calls | admitted |",
        "|---|---|---:|---:|---:|",
        *[f"| {n} | {lim} | {us:.1f} | {c:,} | {a:,} |" for n, lim, us, c, a in rows],
        "",
    ]
    publish(lines, args.results_md)


if __name__ == "__main__":
    main()
