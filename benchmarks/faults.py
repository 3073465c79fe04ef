"""Fault injection (Jepsen style): the history of the service under crashes and pauses.

Run:  .venv/bin/python benchmarks/faults.py [--orders 2000] [--fault-s 150]
      [--communities 4] [--couriers 8] [--clients 4] [--seed 0] [--keep DIR]
      [--only always|everysec] [--results-md benchmarks/RESULTS.md]

Runs ``tests.faults.harness.run_faults`` twice, on Redis with AOF ``appendfsync
always`` and then ``everysec``. Each run starts its own redis-server (free loopback
port; the machine's 6379 is never touched), two ``dispatch serve --store redis`` and
two ``dispatch worker`` processes; ``--clients`` order-service threads place at least
``--orders`` orders with idempotency keys (retrying through errors) while courier
threads stream positions and pick up and deliver what their routes show. For
``--fault-s`` seconds a nemesis strikes one fault at a time, at random (seeded):
SIGKILL of an API process, SIGKILL of a worker mid-tick, SIGSTOP of a worker mid-tick
for longer than its lease, SIGKILL of Redis; each target is started (or continued)
again. Then the system settles (couriers work until every order is closed) and the
whole event feed and every order are read back and checked
(``tests/faults/history.py`` lists the anomaly kinds).

Expected: with ``always``, no anomaly of any kind; with ``everysec``, only lost
writes acknowledged within about a second before a Redis crash. Every community
commits a plan within lease + 2 dispatch intervals after each fault.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import redis

# The repository instead of this folder: a script here must not shadow the standard
# library (a benchmarks/http.py would hide the ``http`` package from httpx).
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
with contextlib.suppress(ValueError):
    sys.path.remove(str(Path(__file__).resolve().parent))

from tests.faults.harness import KINDS, FaultConfig, FaultResult, run_faults
from tests.faults.history import ANOMALY_KINDS, LOSS_KINDS
from tests.redis_server import find_redis_server

HEADING = "Fault injection"
LOSS_WINDOW_S = 1.0  # what appendfsync everysec may lose


def say(line: str) -> None:
    print(f"{datetime.now():%H:%M:%S} {line}", flush=True)


def prefixed(label: str) -> Callable[[str], None]:
    return lambda line: say(f"{label}: {line}")


def machine_facts() -> str:
    model = "unknown cpu"
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as fh:
        for line in fh:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    binary = find_redis_server()
    out = subprocess.run([binary, "--version"], capture_output=True, text=True).stdout
    version = out.split(" v=")[-1].split(" ")[0]
    load = " ".join(f"{x:.1f}" for x in os.getloadavg())
    return (
        f"{platform.machine()}, {model}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}, redis-server {version} ({binary}), redis-py "
        f"{redis.__version__}; load average {load}"
    )


def config_for(args: argparse.Namespace, fsync: str, directory: Path) -> FaultConfig:
    probe = FaultConfig(directory, orders=args.orders)
    # The load lasts the faults plus the tick bound after the last one; pace it so
    # that --orders are placed by then.
    load_s = probe.warmup_s + args.fault_s + probe.tick_bound_s + probe.dispatch_interval_s
    return FaultConfig(
        directory,
        appendfsync=fsync,
        orders=args.orders,
        rate_per_s=1.05 * args.orders / load_s,
        communities=args.communities,
        couriers_per_community=args.couriers,
        order_clients=args.clients,
        faults=None,
        fault_s=args.fault_s,
        gap_s=(probe.tick_bound_s / 2, probe.tick_bound_s + 2.5),
        settle_s=120.0,
        seed=args.seed,
    )


def fmt_s(x: float | None) -> str:
    return "—" if x is None else f"{x:.1f}"


def report(
    args: argparse.Namespace,
    command: str,
    facts: str,
    started: datetime,
    results: list[FaultResult],
    load_end: str,
) -> str:
    cfg = results[0].config
    lines = [
        f"## {HEADING} ({started:%Y-%m-%d %H:%M} UTC)",
        "",
        f"Command: `{command}`  ",
        f"Machine: {facts}; at the end {load_end}.",
        "",
        f"Setup: {cfg.communities} communities × {cfg.couriers_per_community} couriers; "
        f"2 × `dispatch serve --store redis`, 2 × `dispatch worker --concurrency "
        f"{cfg.worker_concurrency} --reclaim-idle-s {cfg.reclaim_idle_s:g}`; policy "
        f"regret-insertion, dispatch interval {cfg.dispatch_interval_s:g} s, solver budget "
        f"{cfg.solver_budget_s:g} s, `DISPATCH_ENGINE__LEASE_TTL_S={cfg.lease_ttl_s:g}` (a tick's "
        f"lease: {cfg.lease_s:g} s), so the tick bound (lease + 2 intervals) is "
        f"{cfg.tick_bound_s:g} s. {cfg.order_clients} order-service threads at "
        f"{cfg.rate_per_s:.1f} orders/s (Poisson), retrying with the same key; couriers "
        "report picked_up, then delivered 0.5-2 s later. Faults one at a time (a fault "
        "that follows the last one within the tick bound makes that one not judged for "
        "resumption; every fault counts for the other checks), kinds in "
        f"shuffled rounds (seed {cfg.seed}), {cfg.gaps_s[0]:g}-{cfg.gaps_s[1]:g} s apart, for "
        f"{cfg.fault_s:g} s; a killed process is down {cfg.down_s[0]:g}-{cfg.down_s[1]:g} s, a "
        f"paused worker {cfg.lease_s + cfg.pause_extra_s[0]:g}-"
        f"{cfg.lease_s + cfg.pause_extra_s[1]:g} s; worker faults strike while the worker holds "
        "a community's lease (mid-tick) when it does so within 5 s, Redis while any worker "
        "does.",
        "",
        "| appendfsync | orders placed / acknowledged / created / delivered / open "
        "| faults: kill-api / kill-worker / pause-worker / kill-redis (mid-tick) "
        "| anomalies | not excused | load s | settle s | check s | total s |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        o, f = r.orders, r.faults_by_kind
        mid = sum(1 for x in r.faults if x.mid_tick)
        lines.append(
            f"| {r.config.appendfsync} | {o['placed']} / {o['acknowledged']} / {o['created']} / "
            f"{o['delivered']} / {o['open']} | "
            + " / ".join(str(f[k]) for k in KINDS)
            + f" ({mid}) | {len(r.anomalies)} | {len(r.unexplained(LOSS_WINDOW_S))} | "
            f"{r.timings['load_s']:.0f} | {r.timings['settle_s']:.1f} | "
            f"{r.timings['check_s']:.1f} | {r.timings['total_s']:.0f} |"
        )
    lines += [
        "",
        "Anomalies by kind (the checks of `tests/faults/history.py`):",
        "",
        "| kind | " + " | ".join(r.config.appendfsync for r in results) + " |",
        "|---|" + "---:|" * len(results),
    ]
    for kind in ANOMALY_KINDS:
        lines.append(
            f"| {kind} | " + " | ".join(str(r.anomalies_by_kind[kind]) for r in results) + " |"
        )
    lines += [
        "",
        "Recovery per fault kind: faults judged (not followed by another within the bound) / "
        "struck; *resume*: slowest first `plan.committed` of a community with work waiting "
        "after the fault ended (judged faults; the bound applies to it); *outage*: longest "
        "wait of a community with work for its next commit from the fault's start (all "
        "faults); *restart*: slowest restart until serving again:",
        "",
        "| appendfsync | kind | judged / struck | resume max s | bound s | outage max s "
        "| restart max s |",
        "|---|---|---|---:|---:|---:|---:|",
    ]
    for r in results:
        judged = Counter(f.kind for f in r.judged())
        for kind in KINDS:
            struck = [x for x in r.faults if x.kind == kind]
            restart = max((x.recovery_s or 0.0 for x in struck), default=None)
            lines.append(
                f"| {r.config.appendfsync} | {kind} | {judged[kind]} / {len(struck)} | "
                f"{fmt_s(r.resume_s.get(kind))} | {r.config.tick_bound_s:g} | "
                f"{fmt_s(r.outage_s.get(kind))} | {fmt_s(restart)} |"
            )
    lines += ["", "Clients and workers:", ""]
    for r in results:
        t, c = r.timings, r.counters
        workers = ", ".join(f"{k} {v:g}" for k, v in sorted(c["workers"].items())) or "—"
        lines.append(
            f"- {r.config.appendfsync}: order acknowledged after p50 "
            f"{t.get('ack_p50_ms', 0):.0f} ms, p99 {t.get('ack_p99_ms', 0):.0f} ms, "
            f"max {t.get('ack_max_s', 0):.1f} s; "
            f"{c['retried_orders']} orders needed retries; client errors "
            f"{dict(sorted(c['client_errors'].items()))}; {c['courier_conflicts']} courier "
            f"reports refused with 409; {c['events']} events ({c['events_followed']} read "
            "live by a follower); worker counters since their "
            f"last start: {workers}."
        )
    lines += [
        "",
        *verdicts(results),
        "",
        "A SIGKILL of redis-server cannot show what `everysec` may lose: Redis write()s "
        "the AOF before it answers, and the kernel keeps those bytes when the process dies; "
        "only an OS crash or a power cut loses the last second or so (more when an fsync "
        "stalls), which this nemesis does not cause. Both runs therefore expect 0.",
        "",
    ]
    return "\n".join(lines)


def verdicts(results: list[FaultResult]) -> list[str]:
    out = []
    for r in results:
        fsync = r.config.appendfsync
        stalls = r.anomalies_by_kind["tick_stall"]
        if fsync == "always":
            n = len(r.anomalies)
            met = "met" if n == 0 else "not met"
            out.append(f"Target (`always`): 0 anomalies of every kind: **{met}** ({n}).")
        else:
            window = r.loss_window()
            lost = [d for _, d in window]
            inside = sum(1 for d in lost if d is not None and d <= LOSS_WINDOW_S)
            worst = max((d for d in lost if d is not None), default=None)  # furthest back
            rest = len(r.unexplained(LOSS_WINDOW_S))
            kinds = sorted((k, n) for k, n in r.anomalies_by_kind.items() if k in LOSS_KINDS)
            if lost:
                out.append(
                    f"`everysec`: {len(lost)} acknowledged writes lost "
                    f"({', '.join(f'{k} {n}' for k, n in kinds)}); {inside} of them "
                    f"acknowledged within {LOSS_WINDOW_S:g} s before a Redis crash (the "
                    f"earliest {fmt_s(worst)} s before it)."
                )
            else:
                out.append("`everysec`: no acknowledged write lost.")
            out.append(f"Anomalies `everysec` does not excuse: **{rest}**.")
        out.append(
            f"Ticks resumed within the bound after every judged fault ({fsync}): "
            f"**{'met' if stalls == 0 else 'not met'}** ({stalls} stalls)."
        )
    return out


def append(path: Path, block: str) -> None:
    text = path.read_text() if path.exists() else "# Benchmark results\n"
    path.write_text(text.rstrip("\n") + "\n\n" + block.rstrip("\n") + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--orders", type=int, default=2000, help="at least this many per run")
    parser.add_argument("--fault-s", type=float, default=150.0)
    parser.add_argument("--communities", type=int, default=4)
    parser.add_argument("--couriers", type=int, default=8, help="per community")
    parser.add_argument("--clients", type=int, default=4, help="order-service threads")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--only", choices=("always", "everysec"), default=None)
    parser.add_argument("--keep", type=Path, default=None, help="run folders (default: a temp dir)")
    parser.add_argument("--results-md", type=Path, default=None)
    args = parser.parse_args()
    # SIGTERM and SIGINT end the run through its finally blocks, which stop every process.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    signal.signal(signal.SIGINT, signal.default_int_handler)
    command = " ".join([".venv/bin/python", "benchmarks/faults.py", *sys.argv[1:]])
    say(f"command: {command}")
    facts = machine_facts()
    say(f"machine: {facts}")
    started = datetime.now(UTC)
    root = args.keep or Path(tempfile.mkdtemp(prefix="dispatch-faults-"))
    results = []
    for fsync in [args.only] if args.only else ["always", "everysec"]:
        cfg = config_for(args, fsync, root / fsync)
        say(f"run {fsync}: folder {cfg.directory}, {cfg.rate_per_s:.1f} orders/s")
        t0 = time.monotonic()
        result = run_faults(cfg, progress=prefixed(fsync))
        say(f"run {fsync} done in {time.monotonic() - t0:.0f} s")
        for a in result.anomalies[:20]:
            say(f"  {a.kind}: {a.detail}")
        results.append(result)
    load_end = " ".join(f"{x:.1f}" for x in os.getloadavg())
    block = report(args, command, facts, started, results, load_end)
    print()
    print(block)
    if args.results_md is not None:
        append(args.results_md, block)
        say(f"appended to {args.results_md}")
    say(f"logs, AOF and history.json kept in {root}")


if __name__ == "__main__":
    main()
