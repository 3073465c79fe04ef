"""Surge rules for analysts: the global set and communities' own sets, their history,
rollback, and a preview beside the active set."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Query

from api.deps import Analyst, AnalystOrOps, EngineDep
from api.problems import responses
from api.schemas import (
    Id,
    RulesOut,
    RulesPreviewOut,
    RuleVersionDetailOut,
    RuleVersionOut,
    RuleVersionsOut,
    SurgeOut,
)
from api.strict_query import StrictQueryRoute
from dispatch.engine import Engine
from dispatch.surge import (
    RuleSet,
    SurgeSnapshot,
    parse_rules,
    preview,
    rule_changes,
    rules_to_dict,
    unwrap_rules,
)

router = APIRouter(route_class=StrictQueryRoute, prefix="/v1/surge", tags=["surge"])

RulesBody = Annotated[
    dict[str, Any],
    Body(
        description="A rule set: bare, or the whole JSON GET returns (the set under "
        "`rules`); `version` is ignored."
    ),
]
Scope = Annotated[
    Id | None,
    Query(description="A community: its own rule set (absent: the global set)."),
]
Version = Annotated[int, Path(ge=1, le=2**53, description="A version from the history.")]


def _candidate(body: dict[str, Any]) -> dict[str, Any]:
    """The rule table of a body: bare, or as GET returns it (under ``rules``)."""
    return {k: v for k, v in unwrap_rules(body).items() if k != "version"}


def _out(rules: RuleSet, community_id: str | None) -> RulesOut:
    return RulesOut(version=rules.version, rules=rules_to_dict(rules), community_id=community_id)


def _in_force(engine: Engine, community_id: str | None) -> RulesOut:
    """What prices the community (its own set, else the global one), or the global set."""
    if community_id is None:
        return _out(engine.rules(), None)
    engine.get_community(community_id)  # 404 for an unknown community
    own = engine.rulebook.own(community_id)
    return _out(own, community_id) if own is not None else _out(engine.rules(), None)


@router.get("/rules", responses=responses(404))
def get_rules(engine: EngineDep, _: AnalystOrOps, community_id: Scope = None) -> RulesOut:
    """The active rule set and its version; with ``community_id``, the set that prices
    that community (``community_id`` in the answer is null when it is the global set)."""
    return _in_force(engine, community_id)


@router.put("/rules", responses=responses(404))
def put_rules(
    body: RulesBody, engine: EngineDep, who: Analyst, community_id: Scope = None
) -> RulesOut:
    """Validate a rule set, give it the next version and activate it at once: the global
    set, or with ``community_id`` that community's own set (it overrides the global one).

    422 lists every problem in ``errors[]`` with its path; nothing changes then.
    """
    active = engine.set_rules(_candidate(body), community_id, by=who.key_id)
    return _out(active, community_id)


@router.delete("/rules", responses=responses(404))
def delete_community_rules(
    engine: EngineDep,
    who: Analyst,
    community_id: Annotated[Id, Query(description="The community whose own set to drop.")],
) -> RulesOut:
    """Drop a community's own rule set: the global set prices it again (answered)."""
    engine.get_community(community_id)
    engine.rulebook.clear(community_id, by=who.key_id)
    return _in_force(engine, community_id)


@router.get("/rules/versions", responses=responses(404))
def rule_versions(
    engine: EngineDep, _: AnalystOrOps, community_id: Scope = None
) -> RuleVersionsOut:
    """Every activation of the global set (or of a community's own set), newest first:
    version, name, content hash, who activated it (the API key's label) and when."""
    if community_id is not None:
        engine.get_community(community_id)
    entries = engine.rulebook.history(community_id)
    return RuleVersionsOut(
        community_id=community_id, versions=[RuleVersionOut.of(e) for e in entries]
    )


@router.get("/rules/versions/{version}", responses=responses(404))
def rule_version(
    version: Version, engine: EngineDep, _: AnalystOrOps, community_id: Scope = None
) -> RuleVersionDetailOut:
    """One activation with its rules (404 if the scope has no such version)."""
    entry = engine.rulebook.version(version, community_id)
    base = RuleVersionOut.of(entry).model_dump()
    return RuleVersionDetailOut(**base, community_id=community_id, rules=entry["data"])


@router.post("/rules/versions/{version}/activate", responses=responses(404))
def activate_version(
    version: Version, engine: EngineDep, who: Analyst, community_id: Scope = None
) -> RulesOut:
    """Roll back: activate an earlier version's rules again, as a new version."""
    if community_id is not None:
        engine.get_community(community_id)
    active = engine.rulebook.rollback(version, community_id, by=who.key_id)
    return _out(active, community_id)


def _preview_now(engine: Engine, community_id: str, rules: RuleSet) -> SurgeSnapshot:
    """The field the candidate rules give on the community's demand and supply now (404 if
    it is unknown). Pure delegation; nothing is stored."""
    demand, supply = engine.demand_supply(community_id)
    return preview(rules, demand, supply, engine.clock.now(), community_id=community_id)


@router.post("/rules/preview", responses=responses(404))
def preview_rules(
    body: RulesBody,
    engine: EngineDep,
    _: Analyst,
    community_id: Annotated[
        Id | None,
        Query(description="Compare with the set that prices this community, on its demand now"),
    ] = None,
) -> RulesPreviewOut:
    """Validate a rule set without activating it and show it beside the active set.

    ``active`` is the set in force (the community's, with ``community_id``); with
    ``community_id`` both fields are computed on the community's demand now. The
    preview has no history (no smoothing, no rate limit): it shows where the
    multipliers would head. 422 lists every problem with its path.
    """
    rules = parse_rules(_candidate(body))
    active = _in_force(engine, community_id)
    current = parse_rules(active.rules, version=active.version)
    surge = active_surge = None
    if community_id is not None:
        surge = SurgeOut.of(_preview_now(engine, community_id, rules))
        active_surge = SurgeOut.of(_preview_now(engine, community_id, current))
    return RulesPreviewOut(
        version=0,
        rules=rules_to_dict(rules),
        surge=surge,
        active=active,
        active_surge=active_surge,
        changed=rule_changes(current, rules),
    )
