"""The history checker on small hand-made histories: each anomaly it must see, and none extra."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from typing import Any

from tests.faults.clients import Intent, Report, Seen
from tests.faults.history import Verification, check_history
from tests.faults.nemesis import Fault

T0 = 1_800_000_000.0


class Feed:
    """Builds events with consecutive seqs; ``at`` is seconds after T0."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    def add(self, at: float, kind: str, entity: str, cid: str = "c0", **data: Any) -> None:
        ts = datetime.fromtimestamp(T0 + at, UTC).isoformat()
        seq = len(self.events) + 1
        self.events.append(
            {
                "seq": seq,
                "ts": ts,
                "community_id": cid,
                "type": kind,
                "entity_id": entity,
                "data": data,
            }
        )

    def order(self, at: float, oid: str, worker: str, version: int) -> None:
        """An order's whole life: created, assigned (with its plan), picked up, delivered."""
        self.add(at, "order.created", oid, state="pending", worker_id=None)
        self.add(at + 1, "order.assigned", oid, state="assigned", worker_id=worker)
        self.add(at + 1, "plan.committed", "c0", version=version, dispatcher="w-a.1")
        self.add(at + 2, "order.picked_up", oid, state="picked_up", worker_id=worker)
        self.add(at + 3, "order.delivered", oid, state="delivered", worker_id=worker)


def intent(oid: str, key: str | None = None) -> Intent:
    return Intent(key or f"k-{oid}", {}, "c0", T0, 1, oid, T0 + 0.5, 201)


def verified(*intents: Intent, state: str = "delivered") -> dict[str, Verification]:
    return {i.key: Verification(i.key, 200, state, i.order_id) for i in intents}


def kinds(
    feed: Feed,
    intents: list[Intent],
    reports: list[Report] | None = None,
    faults: list[Fault] | None = None,
    checked: dict[str, Verification] | None = None,
    seen: list[Seen] | None = None,
    jumps: list[tuple[int, int]] | None = None,
) -> Counter[str]:
    anomalies, _, _, _ = check_history(
        feed.events,
        intents,
        reports or [],
        verified(*intents) if checked is None else checked,
        faults or [],
        ["c0"],
        bound_s=5.0,
        seen=seen or [],
        jumps=jumps or [],
    )
    return Counter(a.kind for a in anomalies)


def test_a_clean_history_has_no_anomaly() -> None:
    """Two orders created, assigned, picked up and delivered by their holders: nothing."""
    feed = Feed()
    feed.order(0, "o1", "k1", 1)
    feed.order(10, "o2", "k2", 2)
    reports = [Report("o1", "k1", "picked_up", T0 + 2), Report("o1", "k1", "delivered", T0 + 3)]
    assert kinds(feed, [intent("o1"), intent("o2")], reports) == Counter()


def test_a_gap_and_a_repeated_seq_in_the_feed() -> None:
    """Seq 1..N exactly: a missing and a doubled number are both reported."""
    feed = Feed()
    feed.order(0, "o1", "k1", 1)
    feed.events[2]["seq"] = 2  # seq 3 missing, 2 twice
    found = kinds(feed, [intent("o1")])
    assert found["feed_gap"] == 1 and found["feed_duplicate"] == 1


def test_a_pickup_by_another_courier_and_a_second_delivery() -> None:
    """Replay per order: the pickup must come from the holder, a delivery only once."""
    feed = Feed()
    feed.order(0, "o1", "k1", 1)
    feed.events[3]["data"]["worker_id"] = "k2"  # picked up by a courier not holding it
    feed.add(5, "order.delivered", "o1", state="delivered", worker_id="k1")
    found = kinds(feed, [intent("o1")])
    assert found["wrong_holder"] == 1 and found["double_delivery"] == 1


def test_a_reassignment_after_pickup_is_illegal() -> None:
    """Reassigning a picked-up order (a stale plan committed) breaks the state machine."""
    feed = Feed()
    feed.add(0, "order.created", "o1", state="pending")
    feed.add(1, "order.assigned", "o1", state="assigned", worker_id="k1")
    feed.add(2, "order.picked_up", "o1", state="picked_up", worker_id="k1")
    feed.add(3, "order.reassigned", "o1", state="assigned", worker_id="k2")
    assert kinds(feed, [intent("o1")], checked={})["illegal_transition"] == 1


def test_plan_versions_must_rise_per_community() -> None:
    """A plan committed with a version already seen is a stale commit."""
    feed = Feed()
    feed.order(0, "o1", "k1", 3)
    feed.order(10, "o2", "k1", 3)
    assert kinds(feed, [intent("o1"), intent("o2")])["plan_version"] == 1


def test_acknowledged_but_lost_orders_reports_and_keys() -> None:
    """An acked order missing from the feed, an acked report missing, a key now naming
    another order and an order no key leads to are four anomalies."""
    feed = Feed()
    feed.order(0, "o1", "k1", 1)
    feed.order(10, "o3", "k1", 2)
    lost, moved = intent("o2"), intent("o1")
    checked = {
        lost.key: Verification(lost.key, 404, None, "o9"),
        moved.key: Verification(moved.key, 200, "delivered", "o7"),
    }
    reports = [Report("o1", "k5", "picked_up", T0 + 2)]
    found = kinds(feed, [lost, moved], reports, checked=checked)
    assert found == Counter(
        {"lost_order": 1, "idempotency": 1, "duplicate_order": 1, "lost_report": 1}
    )


def test_two_couriers_acknowledged_for_one_pickup() -> None:
    """Two acknowledged pickups of one order mean two holders at once."""
    feed = Feed()
    feed.order(0, "o1", "k1", 1)
    reports = [Report("o1", "k1", "picked_up", T0 + 2), Report("o1", "k2", "picked_up", T0 + 2)]
    assert kinds(feed, [intent("o1")], reports)["double_pickup_ack"] == 1


def test_no_commit_after_a_fault_while_work_waits_is_a_stall() -> None:
    """Work waiting after a fault and no plan within the bound: a tick stall; a commit in
    time is none."""
    feed = Feed()
    feed.order(0, "o1", "k1", 1)
    feed.add(20, "order.created", "o2", state="pending")
    feed.add(29, "order.assigned", "o2", state="assigned", worker_id="k1")
    feed.add(29, "plan.committed", "c0", version=2)
    fault = Fault("kill-worker", "w-a.1", T0 + 18, ended=T0 + 21)
    found = kinds(feed, [intent("o1"), intent("o2")], faults=[fault], checked={})
    assert found["tick_stall"] == 1
    fault.ended = T0 + 25
    assert kinds(feed, [intent("o1"), intent("o2")], faults=[fault], checked={})["tick_stall"] == 0


def test_a_reader_that_skipped_a_seq_or_saw_an_event_later_lost() -> None:
    """A follower's page starting past last + 1, and an event read that the final feed
    holds under another seq, are both reported."""
    feed = Feed()
    feed.order(0, "o1", "k1", 1)
    seen = [Seen(1, "order.created", "o1", T0), Seen(2, "order.created", "o9", T0 + 1)]
    found = kinds(feed, [intent("o1")], seen=seen, jumps=[(2, 4)])
    assert found == Counter({"feed_skip": 1, "feed_rewrite": 1})
