"""Communities: create or replace, read, list, their workers, dispatch now, surge map."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import AnalystOrOps, AnyRole, EngineDep, MetricsDep, Ops
from api.problems import responses
from api.schemas import CommunityIn, CommunityOut, Id, SurgeOut, TickOut, WorkerOut
from api.strict_query import StrictQueryRoute

router = APIRouter(route_class=StrictQueryRoute, prefix="/v1/communities", tags=["communities"])


@router.get("", responses=responses())
def list_communities(engine: EngineDep, _: Ops) -> list[CommunityOut]:
    """Every community, for operators."""
    return [CommunityOut.of(c) for c in engine.list_communities()]


@router.put("/{community_id}", responses=responses())
def put_community(community_id: Id, body: CommunityIn, engine: EngineDep, _: Ops) -> CommunityOut:
    """Create or replace a community; the answer carries its H3 cell count."""
    return CommunityOut.of(engine.upsert_community(body.spec(community_id)))


@router.get("/{community_id}", responses=responses(404))
def get_community(community_id: Id, engine: EngineDep, _: AnyRole) -> CommunityOut:
    """The community."""
    return CommunityOut.of(engine.get_community(community_id))


@router.post("/{community_id}/retire", responses=responses(404, 409))
def retire_community(community_id: Id, engine: EngineDep, _: Ops) -> CommunityOut:
    """Retire a community for good: no more quotes, orders, jobs or workers (409 while it
    has open orders or jobs or workers that are not retired); retiring again returns it."""
    return CommunityOut.of(engine.retire_community(community_id))


@router.get("/{community_id}/workers", responses=responses(404))
def list_workers(community_id: Id, engine: EngineDep, _: Ops) -> list[WorkerOut]:
    """The community's workers with their last positions."""
    return [WorkerOut.of(w) for w in engine.list_workers(community_id)]


@router.post("/{community_id}/dispatch", responses=responses(404, 409))
def dispatch_now(community_id: Id, engine: EngineDep, metrics: MetricsDep, _: Ops) -> TickOut:
    """Run a dispatch tick for the community now (409 if a concurrent change won twice)."""
    result = engine.tick(community_id)
    metrics.observe_tick(result)
    return TickOut.of(result)


@router.get("/{community_id}/surge", responses=responses(404))
def surge_map(community_id: Id, engine: EngineDep, _: AnalystOrOps) -> SurgeOut:
    """Per-cell demand, supply, ratio and multiplier per service type."""
    return SurgeOut.of(engine.surge_map(community_id))
