"""A fault-injection run's settings and what it found.

``FaultConfig`` describes a run (load, faults, engine timing); ``FaultResult`` holds
its outcome: orders, faults and anomalies by kind, resumption times and timings,
plus the helpers that summarise a run's records into it.
"""

from __future__ import annotations

import json
import statistics
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from dispatch import EngineSettings
from dispatch.model import Community, LatLng
from dispatch.ticking.worker import tick_lease_s
from tests.faults.clients import Intent, Report
from tests.faults.history import LOSS_KINDS, TERMINAL, Anomaly, OrderLife, judged
from tests.faults.nemesis import KINDS, Fault

__all__ = [
    "FaultConfig",
    "FaultResult",
    "by_kind",
    "latencies",
    "order_counts",
    "save_history",
]


@dataclass(frozen=True)
class FaultConfig:
    """One run. ``faults``: the kinds in order, or None for random kinds during ``fault_s``."""

    directory: Path
    appendfsync: str = "always"
    orders: int = 200
    rate_per_s: float = 5.0
    communities: int = 3
    couriers_per_community: int = 6
    order_clients: int = 2
    faults: tuple[str, ...] | None = KINDS
    fault_s: float = 60.0
    gap_s: tuple[float, float] | None = None  # default: just over the tick bound
    warmup_s: float = 3.0  # load before the first fault
    down_s: tuple[float, float] = (0.5, 1.5)
    pause_extra_s: tuple[float, float] = (0.5, 1.5)
    dispatch_interval_s: float = 1.0
    solver_budget_s: float = 0.3
    lease_ttl_s: float = 5.0
    reclaim_idle_s: float = 5.0
    worker_concurrency: int = 2
    settle_s: float = 60.0
    seed: int = 0
    worker_command: tuple[str, ...] = ()  # default: ``python -m api worker``

    def __post_init__(self) -> None:
        if self.appendfsync not in ("always", "everysec"):
            raise ValueError("appendfsync must be always or everysec")
        if self.orders < 1 or self.rate_per_s <= 0 or self.communities < 1:
            raise ValueError("orders, rate_per_s and communities must be positive")
        if self.reclaim_idle_s > self.lease_s:
            raise ValueError("reclaim_idle_s above the lease would stretch the tick bound")

    @property
    def lease_s(self) -> float:
        """The lease a tick worker takes (``dispatch.ticking.worker.tick_lease_s``)."""
        settings = EngineSettings(lease_ttl_s=self.lease_ttl_s)
        community = Community("any", "any", LatLng(0.0, 0.0), solver_budget_s=self.solver_budget_s)
        return tick_lease_s(settings, community)

    @property
    def tick_bound_s(self) -> float:
        """After a fault, every community with work commits a plan within this time."""
        return self.lease_s + 2 * self.dispatch_interval_s

    @property
    def gaps_s(self) -> tuple[float, float]:
        """Quiet time between faults: by default just over the tick bound, so each fault's
        resumption is judged on its own."""
        bound = self.tick_bound_s
        return self.gap_s if self.gap_s is not None else (bound + 0.5, bound + 1.5)


@dataclass
class FaultResult:
    """What a run did and found."""

    config: FaultConfig
    orders: dict[str, int]
    faults: list[Fault]
    anomalies: list[Anomaly]
    resume_s: dict[str, float]  # fault kind -> slowest first commit after such a fault ended
    outage_s: dict[str, float]  # fault kind -> longest wait for a commit from its start
    timings: dict[str, float]
    counters: dict[str, Any] = field(default_factory=dict)

    @property
    def faults_by_kind(self) -> Counter[str]:
        return Counter(f.kind for f in self.faults)

    @property
    def anomalies_by_kind(self) -> Counter[str]:
        return Counter(a.kind for a in self.anomalies)

    def judged(self) -> list[Fault]:
        """The faults whose resumption was judged on their own (``history.judged``)."""
        return [self.faults[i] for i in judged(self.faults, self.config.tick_bound_s)]

    @property
    def overlapped(self) -> int:
        """Faults followed by the next one within the tick bound (not judged alone)."""
        return len(self.faults) - len(self.judged())

    def loss_window(self) -> list[tuple[str, float | None]]:
        """Each lost write: its kind and how long before the next Redis crash it was
        acknowledged (None: no crash followed it, so no crash explains it)."""
        kills = sorted(f.started for f in self.faults if f.kind == "kill-redis")
        out: list[tuple[str, float | None]] = []
        for a in self.anomalies:
            if a.kind in LOSS_KINDS and a.acked_at is not None:
                after = [k - a.acked_at for k in kills if k >= a.acked_at]
                out.append((a.kind, min(after) if after else None))
        return out

    def unexplained(self, window_s: float = 1.0) -> list[Anomaly]:
        """Anomalies the configuration does not excuse: with ``always`` every one; with
        ``everysec`` all but writes acknowledged within ``window_s`` before a Redis crash."""
        if self.config.appendfsync == "always":
            return list(self.anomalies)
        kills = sorted(f.started for f in self.faults if f.kind == "kill-redis")
        out = []
        for a in self.anomalies:
            if a.kind in LOSS_KINDS and a.acked_at is not None:
                gaps = [k - a.acked_at for k in kills if k >= a.acked_at]
                if gaps and min(gaps) <= window_s:
                    continue
            out.append(a)
        return out


def order_counts(
    intents: Sequence[Intent], lives: dict[str, OrderLife], settled: bool
) -> dict[str, int]:
    states = Counter(life.state for life in lives.values())
    return {
        "placed": len(intents),
        "acknowledged": sum(i.acked for i in intents),
        "unacknowledged": sum(not i.acked and i.rejected is None for i in intents),
        "rejected": sum(i.rejected is not None for i in intents),
        "created": len(lives),
        "delivered": states["delivered"],
        "cancelled": states["cancelled"],
        "failed": states["failed"],
        "open": sum(n for s, n in states.items() if s not in TERMINAL),
        "settled": int(settled),
    }


def by_kind(faults: Sequence[Fault], seconds: dict[int, float]) -> dict[str, float]:
    """The largest figure per fault kind."""
    out: dict[str, float] = {}
    for i, f in enumerate(faults):
        if i in seconds:
            out[f.kind] = max(out.get(f.kind, 0.0), seconds[i])
    return out


def latencies(intents: Sequence[Intent]) -> dict[str, float]:
    lat = sorted(i.acked_at - i.first_at for i in intents if i.acked_at is not None)
    if not lat:
        return {}
    return {
        "ack_p50_ms": 1000 * statistics.median(lat),
        "ack_p99_ms": 1000 * lat[min(len(lat) - 1, int(0.99 * len(lat)))],
        "ack_max_s": lat[-1],
    }


def save_history(
    path: Path,
    events: list[dict[str, Any]],
    intents: Sequence[Intent],
    reports: Sequence[Report],
    faults: Sequence[Fault],
) -> None:
    """Everything the check read, for looking into an anomaly after the run."""
    data = {
        "faults": [asdict(f) for f in faults],
        "intents": [{**asdict(i), "errors": dict(i.errors)} for i in intents],
        "reports": [asdict(r) for r in reports],
        "events": events,
    }
    path.write_text(json.dumps(data))
