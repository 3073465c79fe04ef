"""Rule sets across processes: a community's own set, its history and rollback, seen by a
second engine on the same store (memory, Redis, Redis Cluster)."""

from __future__ import annotations

from typing import Any

import pytest

from dispatch import CommunitySpec, Engine, ManualClock
from dispatch.errors import NotFound
from dispatch.requests import OrderRequest
from dispatch.store.base import Store
from dispatch.surge import rules_to_dict
from tests.dispatch.conftest import CENTER, AddWorker, make_engine, offset


def _named(engine: Engine, name: str, cap: float) -> dict[str, Any]:
    data = rules_to_dict(engine.rules())
    data["name"] = name
    data["default"] = {**data["default"], "cap": cap}
    data["services"] = {k: {**v, "cap": cap} for k, v in data["services"].items()}
    data["overrides"] = []
    return data


def test_another_engine_prices_a_community_by_its_own_set(
    engine: Engine, store: Store, clock: ManualClock, add_worker: AddWorker
) -> None:
    """A set activated for c1 by one engine prices c1 (not c2) in another engine; clearing
    it brings the global set back there too; the events name the scope and who."""
    engine.upsert_community(CommunitySpec("c2", "Hillside", CENTER, solver_budget_s=0.3))
    add_worker("w1")
    other = make_engine(store, clock)
    glob = other.rules()
    own = engine.set_rules(_named(engine, "c1 only", 1.0), "c1", by="ana")
    assert own.version > glob.version and other.rules("c1").version == own.version
    assert other.rules("c2").version == glob.version and other.rules().version == glob.version
    quote = other.quote(OrderRequest("c1", offset(0, 0), offset(500, 0)))
    assert quote.rule_version == own.version and quote.multiplier == 1.0
    assert other.quote(OrderRequest("c2", offset(0, 0), offset(500, 0))).rule_version == (
        glob.version
    )
    assert engine.rulebook.clear("c1", by="ana")
    assert other.rules("c1").version == glob.version
    kinds = [(e.type, e.community_id, e.data.get("by")) for e in engine.events(limit=1000)]
    assert ("rules.activated", "c1", "ana") in kinds and ("rules.cleared", "c1", "ana") in kinds


def test_rollback_is_a_new_version_with_the_old_rules(engine: Engine, store: Store) -> None:
    """History lists each activation newest first; rolling back to one activates its rules
    again under a new version that names what it restores; unknown versions are NotFound."""
    a = engine.set_rules(_named(engine, "a", 2.0), by="ana")
    b = engine.set_rules(_named(engine, "b", 3.0), by="bo")
    history = engine.rulebook.history()
    assert [(h["version"], h["name"], h["by"], h["active"]) for h in history[:2]] == [
        (b.version, "b", "bo", True),
        (a.version, "a", "ana", False),
    ]
    back = engine.rulebook.rollback(a.version, by="cy")
    assert back.version > b.version and back.name == "a" and back.default.cap == 2.0
    newest = engine.rulebook.history()[0]
    assert newest["restores"] == a.version and newest["hash"] == history[1]["hash"]
    assert make_engine(store, ManualClock()).rules().version == back.version
    with pytest.raises(NotFound, match="no version"):
        engine.rulebook.rollback(10**9)


def test_quotes_keep_the_market_cache_without_own_rules(
    engine: Engine, clock: ManualClock, add_worker: AddWorker
) -> None:
    """Checking for a community's own set (none) does not throw away its cached market
    state: two quotes at one moment read the same state."""
    add_worker("w1")
    req = OrderRequest("c1", offset(0, 0), offset(500, 0))
    engine.quote(req)
    first = engine.pricer.cached("c1")
    engine.quote(req)
    assert first is not None and engine.pricer.cached("c1") is first
