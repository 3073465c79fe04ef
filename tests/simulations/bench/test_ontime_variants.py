"""``benchmarks/ontime.py``: what a variant sets, and which days a run plans."""

from __future__ import annotations

from pathlib import Path

from benchmarks.ontime import overridden, planned_days, variant
from simulations.sim.scenario import load_scenario, parse_scenario


def test_a_variant_sets_section_merchant_and_top_level_fields() -> None:
    """``engine.x`` sets the section's field, ``merchants.x`` every group's, a bare name the
    scenario's own field; the result still parses, with the values set."""
    name, sets = variant(
        "v:engine.churn_penalty=30,merchants.ready_reports=1.0,idle_return_m=500,rules=/r.toml"
    )
    assert name == "v" and sets["rules"] == "/r.toml" and sets["idle_return_m"] == 500
    data = load_scenario("default").model_dump()
    assert overridden(data, sets) == Path("/r.toml")
    scenario = parse_scenario(data, source="test")
    assert scenario.engine.churn_penalty == 30 and scenario.idle_return_m == 500
    assert {g.ready_reports for g in scenario.merchants} == {1.0}


def test_no_base_plans_the_variants_only() -> None:
    """Per seed and surge: each variant then each baseline policy; without the base entry in
    the variants no shipped optimizer day is run."""
    tried = [("margin", {"engine.churn_penalty": 30})]
    jobs = planned_days([9, 3], ["on", "off"], tried, ["nearest-idle"], 8.0, True)
    assert [(j["seed"], j["surge"], j["label"]) for j in jobs] == [
        (s, u == "on", label)
        for s in (9, 3)
        for u in ("on", "off")
        for label in ("margin", "nearest-idle")
    ]
    assert all(j["reproducible"] and j["hours"] == 8.0 for j in jobs)
    assert jobs[0]["set"] == {"engine.churn_penalty": 30} and jobs[1]["set"] == {}
