"""Surge rules for analysts: read the active set, validate and activate a new one, preview."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Query

from api.deps import Analyst, EngineDep
from api.problems import responses
from api.schemas import Id, RulesOut, RulesPreviewOut, SurgeOut
from dispatch.engine import Engine
from dispatch.surge import (
    RuleSet,
    SurgeSnapshot,
    parse_rules,
    preview,
    rules_to_dict,
    unwrap_rules,
)

router = APIRouter(prefix="/v1/surge", tags=["surge"])

RulesBody = Annotated[
    dict[str, Any],
    Body(
        description="A rule set: bare, or the whole JSON GET returns (the set under "
        "`rules`); `version` is ignored."
    ),
]


def _candidate(body: dict[str, Any]) -> dict[str, Any]:
    """The rule table of a body: bare, or as GET returns it (under ``rules``)."""
    return {k: v for k, v in unwrap_rules(body).items() if k != "version"}


@router.get("/rules", responses=responses())
def get_rules(engine: EngineDep, _: Analyst) -> RulesOut:
    """The active rule set and its version."""
    rules = engine.rules()
    return RulesOut(version=rules.version, rules=rules_to_dict(rules))


@router.put("/rules", responses=responses())
def put_rules(body: RulesBody, engine: EngineDep, _: Analyst) -> RulesOut:
    """Validate a rule set, give it the next version and activate it at once.

    422 lists every problem in ``errors[]`` with its path; nothing changes then.
    """
    active = engine.set_rules(_candidate(body))
    return RulesOut(version=active.version, rules=rules_to_dict(active))


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
        Id | None, Query(description="Also show the field these rules give there now")
    ] = None,
) -> RulesPreviewOut:
    """Validate a rule set without activating it; optionally preview it on current demand.

    The preview has no history (no smoothing, no rate limit): it shows where the
    multipliers would head. 422 lists every problem with its path.
    """
    rules = parse_rules(_candidate(body))
    surge = None
    if community_id is not None:
        surge = SurgeOut.of(_preview_now(engine, community_id, rules))
    return RulesPreviewOut(version=0, rules=rules_to_dict(rules), surge=surge)
