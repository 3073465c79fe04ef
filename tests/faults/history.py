"""Checking a run's history: the event feed against itself and against what clients saw.

The checks, each an anomaly kind (``Anomaly.kind``):

* ``feed_gap`` / ``feed_duplicate`` / ``feed_order``: the feed is exactly seq 1..N, in order;
* ``feed_skip``: a reader following the feed during the run got seq ``n + k`` (k > 1)
  right after ``n`` (it saw a later event before an earlier one);
* ``feed_rewrite``: an event a reader saw during the run is missing from the final
  feed or has another seq there;
* ``illegal_transition``: an order event its replayed state does not allow (the order
  state machine: created → assigned ⇄ reassigned/unassigned → picked_up → delivered,
  cancelled before pickup, failed after assignment);
* ``wrong_holder``: a pickup or delivery by a courier that did not hold the order then
  (replay: assigned/reassigned → holder; unassigned/delivered/cancelled/failed → none);
* ``double_pickup`` / ``double_delivery``: two such events for one order;
* ``event_state``: an event's ``data.state`` differs from the replayed state;
* ``plan_version``: a community's ``plan.committed`` versions do not strictly increase;
* ``lost_order``: an acknowledged order missing from the feed or unreadable (404);
* ``unpublished``: an acknowledged order that reads back but never reached the feed;
* ``idempotency``: re-posting an acknowledged key and body returned another order;
* ``duplicate_order``: an order in the feed that no idempotency key leads to;
* ``rejected``: a valid order refused for good (a 4xx other than 409);
* ``state_mismatch`` / ``unreadable``: the order record disagrees with the feed's replay,
  or cannot be read;
* ``lost_report``: an acknowledged picked_up/delivered report missing from the feed;
* ``double_pickup_ack`` / ``double_delivery_ack``: two acknowledged reports of one kind
  for one order (by different couriers: two holders at once);
* ``tick_stall``: after a fault ended, a community with work waiting got no
  ``plan.committed`` within the bound (lease + 2 dispatch intervals).

Lost writes (``lost_order``, ``lost_report``, double acknowledgements after a loss)
carry the wall time of the acknowledgement, so a run on ``appendfsync everysec`` can
say how long before a Redis crash each lost write was acknowledged.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from tests.faults.clients import Intent, Report, Seen
from tests.faults.nemesis import Fault

__all__ = [
    "ANOMALY_KINDS",
    "LOSS_KINDS",
    "Anomaly",
    "Check",
    "OrderLife",
    "Verification",
    "check_history",
    "event_time",
    "judged",
    "replay",
]

#: Every anomaly kind, in the order of the module docstring.
ANOMALY_KINDS = (
    "feed_gap",
    "feed_duplicate",
    "feed_order",
    "feed_skip",
    "feed_rewrite",
    "illegal_transition",
    "wrong_holder",
    "double_pickup",
    "double_delivery",
    "event_state",
    "plan_version",
    "lost_order",
    "unpublished",
    "idempotency",
    "duplicate_order",
    "rejected",
    "state_mismatch",
    "unreadable",
    "lost_report",
    "double_pickup_ack",
    "double_delivery_ack",
    "tick_stall",
)
#: Anomaly kinds that a crash of Redis under ``appendfsync everysec`` may explain.
LOSS_KINDS = frozenset(
    {"lost_order", "lost_report", "double_pickup_ack", "double_delivery_ack", "feed_rewrite"}
)

# event type -> (states it may follow, state it leads to); None before creation.
_ORDER_STEPS: dict[str, tuple[frozenset[str | None], str]] = {
    "order.created": (frozenset({None}), "pending"),
    "order.assigned": (frozenset({"pending"}), "assigned"),
    "order.reassigned": (frozenset({"assigned"}), "assigned"),
    "order.unassigned": (frozenset({"assigned"}), "pending"),
    "order.picked_up": (frozenset({"assigned"}), "picked_up"),
    "order.delivered": (frozenset({"picked_up"}), "delivered"),
    "order.cancelled": (frozenset({"pending", "assigned"}), "cancelled"),
    "order.failed": (frozenset({"assigned", "picked_up"}), "failed"),
}
TERMINAL = frozenset({"delivered", "cancelled", "failed"})
_DOUBLE = {
    "order.picked_up": "double_pickup",
    "order.delivered": "double_delivery",
    "picked_up": "double_pickup_ack",
    "delivered": "double_delivery_ack",
}


@dataclass(frozen=True)
class Anomaly:
    kind: str
    detail: str
    acked_at: float | None = None  # wall time of the acknowledgement it concerns, if any


@dataclass
class OrderLife:
    """One order as the feed tells it."""

    id: str
    community_id: str
    created: float
    state: str | None = None
    holder: str | None = None
    first_assigned: float | None = None
    closed: float | None = None
    counts: Counter[str] = field(default_factory=Counter)


@dataclass(frozen=True)
class Verification:
    """What reading an intent's order back said: GET status and state, re-POST id."""

    key: str
    get_status: int | None
    get_state: str | None
    repost_id: str | None


def event_time(e: dict[str, Any]) -> float:
    """An event's ``ts`` (ISO 8601) as epoch seconds."""
    return datetime.fromisoformat(str(e["ts"]).replace("Z", "+00:00")).timestamp()


class Check:
    """Collects anomalies."""

    def __init__(self) -> None:
        self.anomalies: list[Anomaly] = []

    def add(self, kind: str, detail: str, acked_at: float | None = None) -> None:
        if kind not in ANOMALY_KINDS:
            raise ValueError(f"unknown anomaly kind {kind!r}")
        self.anomalies.append(Anomaly(kind, detail, acked_at))


def check_feed(events: Sequence[dict[str, Any]], check: Check) -> None:
    """The feed is seq 1..N, each once, in order."""
    seqs = [int(e["seq"]) for e in events]
    if seqs != sorted(seqs):
        check.add("feed_order", "events out of seq order")
    counts = Counter(seqs)
    for seq, n in sorted(counts.items()):
        if n > 1:
            check.add("feed_duplicate", f"seq {seq} appears {n} times")
    top = max(seqs, default=0)
    missing = sorted(set(range(1, top + 1)) - set(counts))
    for seq in missing[:50]:
        check.add("feed_gap", f"seq {seq} missing (of 1..{top})")
    if len(missing) > 50:
        check.add("feed_gap", f"... and {len(missing) - 50} more missing seqs")


def check_follower(
    events: Sequence[dict[str, Any]],
    seen: Sequence[Seen],
    jumps: Sequence[tuple[int, int]],
    check: Check,
) -> None:
    """What a reader saw during the run: no skipped seq, and every event it read is in
    the final feed under the same seq."""
    for last, nxt in jumps[:50]:
        check.add("feed_skip", f"a reader got seq {nxt} right after seq {last}")
    final = {int(e["seq"]): (str(e["type"]), str(e["entity_id"])) for e in events}
    for s in seen:
        now = final.get(s.seq)
        if now != (s.type, s.entity_id):
            check.add(
                "feed_rewrite",
                f"seq {s.seq} was {s.type} {s.entity_id} when read, is {now or 'gone'} now",
                s.at,
            )


def replay(events: Iterable[dict[str, Any]], check: Check) -> dict[str, OrderLife]:
    """Replay order events in seq order; checks transitions, holders and plan versions."""
    orders: dict[str, OrderLife] = {}
    plan_version: dict[str, int] = {}
    for e in sorted(events, key=lambda e: int(e["seq"])):
        kind, oid, seq = str(e["type"]), str(e["entity_id"]), int(e["seq"])
        data = e.get("data") or {}
        if kind == "plan.committed":
            cid, version = str(e["community_id"]), int(data.get("version", 0))
            if version <= plan_version.get(cid, 0):
                check.add(
                    "plan_version",
                    f"{cid}: plan v{version} at seq {seq} after v{plan_version[cid]}",
                )
            plan_version[cid] = max(version, plan_version.get(cid, 0))
            continue
        if not kind.startswith("order."):
            continue
        if kind == "order.created":
            if oid in orders:
                check.add("illegal_transition", f"{oid} created twice (seq {seq})")
                continue
            orders[oid] = OrderLife(oid, str(e["community_id"]), event_time(e))
        life = orders.get(oid)
        if life is None:
            check.add("illegal_transition", f"{oid}: {kind} at seq {seq} before order.created")
            continue
        _step(life, kind, data, e, check)
    return orders


def _step(
    life: OrderLife, kind: str, data: dict[str, Any], e: dict[str, Any], check: Check
) -> None:
    seq, worker = int(e["seq"]), data.get("worker_id")
    life.counts[kind] += 1
    if kind in ("order.picked_up", "order.delivered") and life.counts[kind] > 1:
        check.add(_DOUBLE[kind], f"{life.id}: another {kind} (seq {seq})")
        return
    step = _ORDER_STEPS.get(kind)
    if step is None:  # order.at_risk and the like: no change of state
        if data.get("state") not in (None, life.state):
            check.add("event_state", f"{life.id}: {kind} says {data.get('state')}, is {life.state}")
        return
    allowed, target = step
    if life.state not in allowed or (kind == "order.reassigned" and worker == life.holder):
        check.add(
            "illegal_transition",
            f"{life.id}: {kind} (seq {seq}, worker {worker}) in state {life.state} "
            f"held by {life.holder}",
        )
    if kind in ("order.picked_up", "order.delivered") and worker != life.holder:
        check.add(
            "wrong_holder",
            f"{life.id}: {kind} by {worker} (seq {seq}) while held by {life.holder}",
        )
    if kind in ("order.assigned", "order.reassigned"):
        life.holder = worker
        if life.first_assigned is None:
            life.first_assigned = event_time(e)
    elif kind != "order.picked_up":
        life.holder = None
    life.state = target
    if target in TERMINAL:
        life.closed = event_time(e)
    if data.get("state") not in (None, target):
        check.add("event_state", f"{life.id}: {kind} says {data.get('state')}, replay {target}")


def check_clients(
    orders: dict[str, OrderLife],
    events: Sequence[dict[str, Any]],
    intents: Sequence[Intent],
    reports: Sequence[Report],
    verified: dict[str, Verification],
    check: Check,
) -> None:
    """What clients were told against the feed and against reading the orders back."""
    claimed: set[str] = set()
    for it in intents:
        v = verified.get(it.key)
        if v is not None and v.repost_id is not None:
            claimed.add(v.repost_id)
        if it.rejected is not None:
            check.add("rejected", f"{it.key}: {it.rejected}")
        if it.order_id is None:
            continue
        claimed.add(it.order_id)
        life = orders.get(it.order_id)
        if life is None and v is not None and v.get_status == 200:
            check.add("unpublished", f"{it.order_id} (key {it.key}) readable, not in the feed")
            continue
        if life is None or (v is not None and v.get_status == 404):
            where = "missing from the feed" if life is None else "404 on GET"
            check.add("lost_order", f"{it.order_id} (key {it.key}) {where}", it.acked_at)
            continue
        if v is None:
            continue
        if v.repost_id is not None and v.repost_id != it.order_id:
            check.add("idempotency", f"key {it.key}: acknowledged {it.order_id}, now {v.repost_id}")
        if v.get_status not in (200, 404):
            check.add("unreadable", f"{it.order_id}: GET answered {v.get_status}")
        elif v.get_state != life.state:
            check.add(
                "state_mismatch", f"{it.order_id}: record {v.get_state}, feed says {life.state}"
            )
    for oid in sorted(set(orders) - claimed):
        check.add("duplicate_order", f"{oid} ({orders[oid].community_id}) has no key leading to it")
    _check_reports(events, reports, check)


def _check_reports(
    events: Sequence[dict[str, Any]], reports: Sequence[Report], check: Check
) -> None:
    seen = {
        (
            str(e["entity_id"]),
            str(e["type"]).removeprefix("order."),
            (e.get("data") or {}).get("worker_id"),
        )
        for e in events
        if e["type"] in ("order.picked_up", "order.delivered")
    }
    by_order: dict[tuple[str, str], list[Report]] = defaultdict(list)
    for r in reports:
        by_order[(r.order_id, r.type)].append(r)
        if (r.order_id, r.type, r.worker_id) not in seen:
            check.add("lost_report", f"{r.order_id}: {r.type} by {r.worker_id} acknowledged", r.at)
    for (oid, kind), acks in sorted(by_order.items()):
        if len(acks) > 1:
            acks.sort(key=lambda r: r.at)
            who = ", ".join(f"{r.worker_id}@{r.at:.3f}" for r in acks)
            check.add(_DOUBLE[kind], f"{oid}: {kind} acknowledged {len(acks)}×: {who}", acks[0].at)


def judged(faults: Sequence[Fault], bound_s: float) -> list[int]:
    """Indexes of the faults judged on their own: ended, and not followed by the next
    fault within ``bound_s`` (then the next one's check covers the same waiting work)."""
    out = []
    for i, f in enumerate(faults):
        if f.ended is None:
            continue
        if i + 1 < len(faults) and faults[i + 1].started < f.ended + bound_s:
            continue
        out.append(i)
    return out


class _Ticks:
    """Each community's plan commits (wall times, sorted) and its orders."""

    def __init__(self, orders: dict[str, OrderLife], events: Sequence[dict[str, Any]]) -> None:
        self.commits: dict[str, list[float]] = defaultdict(list)
        for e in events:
            if e["type"] == "plan.committed":
                self.commits[str(e["community_id"])].append(event_time(e))
        for times in self.commits.values():
            times.sort()
        self.orders: dict[str, list[OrderLife]] = defaultdict(list)
        for life in orders.values():
            self.orders[life.community_id].append(life)

    def next_commit(self, cid: str, after: float) -> float | None:
        return next((t for t in self.commits[cid] if t > after), None)

    def waiting_since(self, cid: str, t: float, until: float) -> float | None:
        """When the earliest order still unassigned at ``t`` (or arriving before ``until``
        and left unassigned until then) came in; None if no work waited."""
        waiting = [
            o.created
            for o in self.orders[cid]
            if o.created < until
            and (o.first_assigned is None or o.first_assigned >= min(until, max(t, o.created)))
            and (o.closed is None or o.closed > t)
        ]
        return min(waiting) if waiting else None


def check_resumption(
    orders: dict[str, OrderLife],
    events: Sequence[dict[str, Any]],
    faults: Sequence[Fault],
    communities: Sequence[str],
    bound_s: float,
    check: Check,
) -> tuple[dict[int, float], dict[int, float]]:
    """After each fault, each community with work waiting commits a plan within the bound.

    Work waits at the fault's end ``T`` if it was created and not yet assigned by then,
    or arrives later still unassigned; the bound counts from ``max(T, first arrival)``.
    A fault followed by another within the bound is not judged on its own: the next
    one's check covers the same waiting work.

    Returns, per fault index, the resume time (judged faults: from the end to the
    slowest community's next commit) and the outage (every fault: from its start, or
    from when work came in if later, to the slowest community's next commit).
    """
    ticks = _Ticks(orders, events)
    resume: dict[int, float] = {}
    outage: dict[int, float] = {}
    for i, f in enumerate(faults):
        for cid in communities:
            nxt = ticks.next_commit(cid, f.started)
            since = ticks.waiting_since(cid, f.started, nxt if nxt is not None else math.inf)
            if nxt is not None and since is not None:
                outage[i] = max(outage.get(i, 0.0), nxt - max(f.started, since))
    for i in judged(faults, bound_s):
        f = faults[i]
        assert f.ended is not None
        t_end = f.ended
        for cid in communities:
            since = ticks.waiting_since(cid, t_end, math.inf)
            if since is None:
                continue
            start = max(t_end, since)
            nxt = ticks.next_commit(cid, t_end)
            if nxt is not None:
                resume[i] = max(resume.get(i, 0.0), nxt - t_end)
            if nxt is None or nxt - start > bound_s:
                late = "never" if nxt is None else f"{nxt - start:.1f} s after work waited"
                check.add(
                    "tick_stall",
                    f"{cid}: after {f.kind} on {f.target} ended, next plan.committed {late} "
                    f"(bound {bound_s:.1f} s)",
                )
    return resume, outage


def check_history(
    events: Sequence[dict[str, Any]],
    intents: Sequence[Intent],
    reports: Sequence[Report],
    verified: dict[str, Verification],
    faults: Sequence[Fault],
    communities: Sequence[str],
    bound_s: float,
    seen: Sequence[Seen] = (),
    jumps: Sequence[tuple[int, int]] = (),
) -> tuple[list[Anomaly], dict[str, OrderLife], dict[int, float], dict[int, float]]:
    """Every check of the module docstring; the anomalies, the orders' lives, and per
    fault the resume time and the outage (``check_resumption``)."""
    check = Check()
    check_feed(events, check)
    check_follower(events, seen, jumps, check)
    orders = replay(events, check)
    check_clients(orders, events, intents, reports, verified, check)
    resume, outage = check_resumption(orders, events, faults, communities, bound_s, check)
    return check.anomalies, orders, resume, outage
