"""The engine's side of surge: counting demand and supply, quotes, versioned hot swaps.

Rule validation and the field arithmetic are tested in tests/dispatch/test_surge_*.
"""

from __future__ import annotations

from typing import Any

import pytest

from dispatch import Engine, ManualClock
from dispatch.pricing import InvalidRules, rules_to_dict
from dispatch.requests import JobRequest, OrderRequest
from tests.dispatch.conftest import AddWorker, offset


def _flat(engine: Engine) -> dict[str, Any]:
    data = rules_to_dict(engine.rules())
    data.pop("version", None)
    data["default"]["cap"] = 1.0
    for rule in data["services"].values():
        rule["cap"] = 1.0
    data["overrides"] = []
    return data


def test_demand_raises_the_quote_and_explains_it(
    engine: Engine, add_worker: AddWorker, clock: ManualClock
) -> None:
    """Many orders around one courier push the multiplier up; the quote says why."""
    add_worker("w1")
    req = OrderRequest("c1", offset(0, 0), offset(500, 0))
    calm = engine.quote(req)
    for _ in range(8):
        engine.create_order(req)
    clock.advance(900)
    busy = engine.quote(req)
    assert busy.multiplier > calm.multiplier >= 1.0
    assert busy.total == pytest.approx(busy.base * busy.multiplier, abs=0.01)
    for key in ("cell", "demand", "supply", "ratio", "smoothed_ratio"):
        assert key in busy.explanation
    assert busy.explanation["demand"] >= 8
    assert busy.rule_version == engine.rules().version >= 1


def test_rules_hot_swap_is_versioned_and_validated(
    engine: Engine, add_worker: AddWorker, clock: ManualClock
) -> None:
    """A new rule set applies at once with the next version; a bad one changes nothing."""
    add_worker("w1")
    req = OrderRequest("c1", offset(0, 0), offset(500, 0))
    for _ in range(8):
        engine.create_order(req)
    clock.advance(900)
    before = engine.quote(req)
    active = engine.set_rules(_flat(engine))
    assert active.version == before.rule_version + 1
    clock.advance(10)
    after = engine.quote(req)
    assert after.multiplier == 1.0 and after.rule_version == active.version
    bad = _flat(engine)
    bad["default"]["curve"] = [[1.0, 2.0], [0.0, 1.0]]
    with pytest.raises(InvalidRules):
        engine.set_rules(bad)
    assert engine.rules().version == active.version
    snap = engine.surge_map("c1")
    assert snap.rule_version == active.version and snap.cells


def test_emergencies_are_not_surged(engine: Engine, add_worker: AddWorker) -> None:
    """Property-management emergencies are priced at the floor however busy the cell is."""
    req = JobRequest("c1", offset(0, 0), frozenset({"plumbing"}), 60, emergency=True)
    for _ in range(6):
        engine.create_job(req)
    q = engine.quote(req)
    assert q.multiplier == 1.0 and q.explanation.get("emergency_exempt") is True
