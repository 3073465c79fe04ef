"""Retiring workers and communities, and a worker's status as its load shows it.

A retired worker keeps its record (orders name it) with the status ``retired``:
it is neither dispatched to nor counted as supply, and its positions are
refused. A retired community keeps its record with ``retired_at``: it takes no
quotes, orders, jobs or workers, and its ticks do nothing. Retiring is final,
and refused (``HoldsOpenWork``, 409) while there is open work: a worker that
still carries orders or jobs, a community with open orders, jobs or workers
that are not retired. Retiring twice answers the retired record.

A worker's stored status is what it reported (available, on a break ...); where
workers are read, ``shown_status`` turns ``available`` into ``busy`` while the
worker carries open work, so the status tells whether it is free.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Mapping

from dispatch.errors import HoldsOpenWork, InvalidInput, NotFound, Retired
from dispatch.events import new_event
from dispatch.model import Community, Worker, WorkerStatus
from dispatch.store.base import Store

__all__ = [
    "check_active_community",
    "check_active_worker",
    "check_registration",
    "retire_community",
    "retire_worker",
    "shown_status",
    "workload",
]


def workload(store: Store, community_id: str) -> Counter[str]:
    """Open orders and jobs per worker of a community."""
    load: Counter[str] = Counter()
    holders = [o.worker_id for o in store.list_open_orders(community_id)]
    holders += [j.worker_id for j in store.list_open_jobs(community_id)]
    load.update(w for w in holders if w is not None)
    return load


def shown_status(worker: Worker, load: Mapping[str, int]) -> Worker:
    """The worker as callers see it: ``busy`` instead of ``available`` while it carries work."""
    if worker.status == WorkerStatus.AVAILABLE and load.get(worker.id, 0) > 0:
        return dataclasses.replace(worker, status=WorkerStatus.BUSY)
    return worker


def check_active_community(community: Community) -> None:
    if community.retired_at is not None:
        raise Retired(f"community {community.id} is retired")


def check_active_worker(worker: Worker) -> None:
    if worker.status == WorkerStatus.RETIRED:
        raise Retired(f"worker {worker.id} is retired")


def check_registration(community: Community, old: Worker | None, status: WorkerStatus) -> None:
    """A worker may be created or updated only in an active community, if not retired."""
    check_active_community(community)
    if old is not None:
        check_active_worker(old)
    if status == WorkerStatus.RETIRED:
        raise InvalidInput("status retired is set by retiring the worker, not by updating it")


def retire_worker(store: Store, worker_id: str, now: float) -> Worker:
    """Retire a worker that carries no open work (a second call returns it)."""
    worker = store.get_worker(worker_id)
    if worker is None:
        raise NotFound(f"worker {worker_id} does not exist")
    if worker.status == WorkerStatus.RETIRED:
        return worker
    carried = workload(store, worker.community_id).get(worker.id, 0)
    if carried:
        raise HoldsOpenWork(
            f"worker {worker.id} still carries {carried} open order(s) or job(s): set it "
            "offline so the next tick moves what it has not started, and retire it once "
            "the rest is done"
        )
    retired = dataclasses.replace(worker, status=WorkerStatus.RETIRED, version=worker.version + 1)
    store.put_worker(retired)
    store.append_events([new_event(now, retired.community_id, "worker.retired", retired.id, {})])
    return retired


def retire_community(store: Store, community_id: str, now: float) -> Community:
    """Retire a community without open work or active workers (a second call returns it)."""
    community = store.get_community(community_id)
    if community is None:
        raise NotFound(f"community {community_id} does not exist")
    if community.retired_at is not None:
        return community
    orders = len(store.list_open_orders(community_id))
    jobs = len(store.list_open_jobs(community_id))
    if orders or jobs:
        raise HoldsOpenWork(
            f"community {community_id} still has {orders} open order(s) and {jobs} open job(s)"
        )
    active = [w.id for w in store.list_workers(community_id) if w.status != WorkerStatus.RETIRED]
    if active:
        shown = ", ".join(active[:5]) + (" ..." if len(active) > 5 else "")
        raise HoldsOpenWork(
            f"community {community_id} still has {len(active)} active worker(s) ({shown}): "
            "retire them first"
        )
    retired = dataclasses.replace(community, retired_at=now, version=community.version + 1)
    store.put_community(retired)
    store.append_events([new_event(now, community_id, "community.retired", community_id, {})])
    return retired
