"""The run's event log as JSON lines, and its replay into entity histories.

Line 1 is a header (``"kind": "header"``: world, policy, surge, seed, start
epoch); every other line is one engine event exactly as the engine's feed
gives it (``seq``, ``ts``, ``community_id``, ``type``, ``entity_id``,
``data``), in sequence order. ``replay`` folds the events back into the state
history of every order and job, so a run can be re-examined (or compared
with the KPIs) without re-running it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from simulations.sim.records import SimulationResult


def write_events(result: SimulationResult, path: Path) -> int:
    """Write the header and every event; returns the number of events."""
    header = {
        "kind": "header",
        "world": result.world.name,
        "policy": result.policy,
        "surge": result.surge,
        "seed": result.seed,
        "t0": result.world.t0,
        "community_id": result.world.community.id,
        "events": len(result.events),
    }
    with path.open("w", encoding="utf-8") as f:
        f.write(json.dumps(header, separators=(",", ":")) + "\n")
        for e in result.events:
            f.write(json.dumps({"kind": "event", **e}, separators=(",", ":")) + "\n")
    return len(result.events)


def read_events(path: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The header and the events of a log written by ``write_events``."""
    header: dict[str, Any] = {}
    events: list[dict[str, Any]] = []
    with path.open(encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            item = json.loads(line)
            kind = item.pop("kind", None)
            if kind == "header":
                header = item
            elif kind == "event":
                events.append(item)
            else:
                raise ValueError(f"{path}:{n}: unknown line kind {kind!r}")
    return header, events


@dataclass
class History:
    """One order's or job's states in time order: (ts, state, worker)."""

    entity: str
    kind: str  # "order" | "job"
    steps: list[tuple[float, str, str | None]] = field(default_factory=list)

    @property
    def final(self) -> str:
        return self.steps[-1][1] if self.steps else "unknown"

    def state_at(self, ts: float) -> str | None:
        state = None
        for t, s, _w in self.steps:
            if t > ts:
                break
            state = s
        return state


def replay(events: Iterable[Mapping[str, Any]]) -> dict[str, History]:
    """Entity histories rebuilt from order.* and job.* events (sequence order)."""
    out: dict[str, History] = {}
    for e in sorted(events, key=lambda e: int(e["seq"])):
        kind = str(e["type"]).split(".", 1)[0]
        if kind not in ("order", "job"):
            continue
        data = e.get("data") or {}
        state = data.get("state")
        if state is None:
            continue
        h = out.setdefault(e["entity_id"], History(e["entity_id"], kind))
        h.steps.append((float(e["ts"]), str(state), data.get("worker_id")))
    return out


def final_states(histories: Mapping[str, History], kind: str) -> Iterator[str]:
    return (h.final for h in histories.values() if h.kind == kind)
