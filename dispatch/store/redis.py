"""Redis store: shared state for several API and dispatcher processes.

Key layout (``P`` is the prefix, default ``dispatch``):

* per community, all under the hash tag ``{cid}`` so they share one Cluster slot:
  ``P:{cid}:community``, ``P:{cid}:workers`` (hash id → JSON), ``P:{cid}:pos``
  (hash id → compact position string, the location hot path),
  ``P:{cid}:order:<id>`` / ``P:{cid}:job:<id>`` (JSON), ``P:{cid}:open-orders`` /
  ``P:{cid}:open-jobs`` (sets), ``P:{cid}:plan``, ``P:{cid}:lease``,
  ``P:{cid}:surge``, ``P:{cid}:events`` (the community's feed);
* global: ``P:communities`` (set), ``P:index:worker`` / ``P:index:order`` /
  ``P:index:job`` (hash id → community), ``P:seq`` (event counter), ``P:events``
  (the global feed), ``P:idem:<scope>:<key>``, ``P:rules`` + ``P:rules-version``.

Writes: ``write`` is one Lua script (``_redis_scripts.WRITE``): it checks every
expected entity version, the plan version and the idempotency key, and only
then stores records, indexes, open sets, the plan, the idempotency record and
the events — all or nothing, one round trip.

Events: ``P:seq`` is incremented inside the same script that stores the events,
so numbering and visibility are one atomic step: a reader can never see seq
``n + 1`` before ``n`` exists. Each event is a member of two sorted sets scored
by seq — the global feed and its community's feed — holding the JSON with its
seq. ``events_after(seq)`` is ``ZRANGEBYSCORE (seq +inf LIMIT 0 limit`` on the
community's feed when a community is given, else on the global one.

Redis Cluster: the per-community keys already shard by community, but a commit
also touches the global counter, feeds and indexes, so this store needs one
primary (with replicas and AOF ``appendfsync always`` for durability). A
Cluster version would keep each commit inside the community's slot (per-community
feed numbered by a per-community counter, ids carrying their community) and
publish a global feed separately; that changes the Store protocol's single
global sequence, so it is not done here.

Time: the store never reads a clock. A lease value holds its expiry by the
caller's clock (``now + ttl``), which alone decides takeovers, so a manual or
simulated clock works. The key also gets ``PX ttl`` of server time as a safety
net so an abandoned lease disappears: with a wall clock both agree; a
simulated clock slower than real time can see the lease vanish early, which is
safe because plan commits are version-guarded anyway. Idempotency records hold
their ``expires_at`` the same way, with a generous server TTL
(``idempotency_safety_ttl_s``, a week by default; keep it above the engine's
idempotency TTL).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import Any, cast

import redis

from dispatch.errors import Conflict
from dispatch.model import JOB_TERMINAL, ORDER_TERMINAL, Event, Job, Order, Plan, from_dict, to_dict
from dispatch.store import _redis_scripts as scripts
from dispatch.store._redis_base import RedisBase, dumps
from dispatch.store.base import IdempotencyRecord, NewEvent

_WEEK_S = 7 * 24 * 3600.0


class _Keys:
    """The ``KEYS`` list of one script call; scripts refer to keys by 1-based index."""

    def __init__(self, *first: str) -> None:
        self.keys: list[str] = []
        self._index: dict[str, int] = {}
        for key in first:
            self(key)

    def __call__(self, key: str) -> int:
        if key not in self._index:
            self.keys.append(key)
            self._index[key] = len(self.keys)
        return self._index[key]


class RedisStore(RedisBase):
    """Redis implementation of ``dispatch.store.base.Store`` (see the module docstring).

    ``client`` is a URL or a ``redis.Redis`` made with ``decode_responses=True``;
    every key starts with ``prefix`` so several deployments (or tests) share a server.
    ``idempotency_safety_ttl_s`` is the server-side lifetime of idempotency records.
    """

    def __init__(
        self,
        client: redis.Redis | str,
        *,
        prefix: str = "dispatch",
        idempotency_safety_ttl_s: float = _WEEK_S,
    ) -> None:
        super().__init__(client, prefix=prefix)
        self._idem_ttl_ms = max(1, int(idempotency_safety_ttl_s * 1000))
        self._write = self.r.register_script(scripts.WRITE)
        self._append = self.r.register_script(scripts.APPEND)
        self._lease = self.r.register_script(scripts.LEASE)
        self._release = self.r.register_script(scripts.RELEASE)
        self._put_rules = self.r.register_script(scripts.PUT_RULES)
        self._delete_if = self.r.register_script(scripts.DELETE_IF)

    # ---- orders, jobs, plans -------------------------------------------------------

    def _get_entity(self, kind: str, cls: type[Any], entity_id: str) -> Any:
        cid = self._call(self.r.hget, self._g("index", kind), entity_id)
        if cid is None:
            return None
        raw = self._call(self.r.get, self._k(cid, kind, entity_id))
        return from_dict(cls, json.loads(raw)) if raw else None

    def get_order(self, order_id: str) -> Order | None:
        return cast(Order | None, self._get_entity("order", Order, order_id))

    def get_job(self, job_id: str) -> Job | None:
        return cast(Job | None, self._get_entity("job", Job, job_id))

    def _list_open(self, kind: str, cls: type[Any], cid: str) -> list[Any]:
        ids = sorted(self._call(self.r.smembers, self._k(cid, f"open-{kind}s")))
        if not ids:
            return []
        raws = self._call(self.r.mget, [self._k(cid, kind, i) for i in ids])
        return [from_dict(cls, json.loads(raw)) for raw in raws if raw]

    def list_open_orders(self, community_id: str) -> list[Order]:
        return self._list_open("order", Order, community_id)

    def list_open_jobs(self, community_id: str) -> list[Job]:
        return self._list_open("job", Job, community_id)

    def get_plan(self, community_id: str) -> Plan | None:
        raw = self._call(self.r.get, self._k(community_id, "plan"))
        return from_dict(Plan, json.loads(raw)) if raw else None

    def write(
        self,
        community_id: str,
        *,
        orders: Sequence[Order] = (),
        jobs: Sequence[Job] = (),
        events: Sequence[NewEvent] = (),
        expect: Mapping[str, int] | None = None,
        plan: Plan | None = None,
        expect_plan: int | None = None,
        idempotency: IdempotencyRecord | None = None,
    ) -> list[Event]:
        """One Lua script: every check, then every change (see the module docstring)."""
        cid = community_id
        strays = [o.id for o in orders if o.community_id != cid]
        strays += [j.id for j in jobs if j.community_id != cid]
        if strays or (plan is not None and plan.community_id != cid):
            raise ValueError(f"write for community {cid} holds records of another: {strays}")
        keys = _Keys(self._g("seq"), self._g("events"), self._k(cid, "plan"))
        rows = [(o.id, "order", to_dict(o), o.state in ORDER_TERMINAL) for o in orders]
        rows += [(j.id, "job", to_dict(j), j.state in JOB_TERMINAL) for j in jobs]
        records = [
            [
                keys(self._k(cid, kind, rid)),
                dumps(data),
                keys(self._g("index", kind)),
                rid,
                keys(self._k(cid, f"open-{kind}s")),
                1 if terminal else 0,
            ]
            for rid, kind, data, terminal in rows
        ]
        kinds = {rid: kind for rid, kind, _, _ in rows}
        checks: list[list[int]] = []
        for entity_id, version in (expect or {}).items():
            if entity_id in kinds:
                checks.append([keys(self._k(cid, kinds[entity_id], entity_id)), 0, int(version)])
            else:  # an entity read but not rewritten: order or job, whichever exists
                order_key = keys(self._k(cid, "order", entity_id))
                checks.append([order_key, keys(self._k(cid, "job", entity_id)), int(version)])
        idem: list[Any] = []
        if idempotency is not None:
            value = {
                "body_hash": idempotency.body_hash,
                "entity_id": idempotency.entity_id,
                "expires_at": idempotency.expires_at,
            }
            idem_key = self._g("idem", idempotency.scope, idempotency.key)
            idem = [keys(idem_key), dumps(value), self._idem_ttl_ms]
        payload = {
            "expect": checks,
            "expect_plan": -1 if expect_plan is None else int(expect_plan),
            "idem": idem,
            "records": records,
            "plan": dumps(to_dict(plan)) if plan is not None else "",
            "community": cid,
            "events": [
                [keys(self._k(e.community_id, "events")), self._event_json(e)] for e in events
            ],
        }
        status, detail = self._call(self._write, keys=keys.keys, args=[dumps(payload)])
        if status == "conflict":
            raise Conflict(f"concurrent change in community {cid}: {detail}")
        return [self._event(e, int(detail) + i) for i, e in enumerate(events)]

    @staticmethod
    def _event_json(e: NewEvent) -> str:
        """The event as JSON without its seq (the script prepends it)."""
        return dumps(
            {
                "ts": e.ts,
                "community_id": e.community_id,
                "type": e.type,
                "entity_id": e.entity_id,
                "data": dict(e.data),
            }
        )

    @staticmethod
    def _event(e: NewEvent, seq: int) -> Event:
        return Event(seq, e.ts, e.community_id, e.type, e.entity_id, dict(e.data))

    # ---- events -------------------------------------------------------------------

    def append_events(self, events: Sequence[NewEvent]) -> list[Event]:
        if not events:
            return []
        keys = _Keys(self._g("seq"), self._g("events"))
        args: list[Any] = []
        for e in events:
            args += [keys(self._k(e.community_id, "events")), self._event_json(e)]
        first = int(self._call(self._append, keys=keys.keys, args=args))
        return [self._event(e, first + i) for i, e in enumerate(events)]

    def events_after(
        self, seq: int, limit: int = 1000, community_id: str | None = None
    ) -> list[Event]:
        """One ZRANGEBYSCORE on the community's feed, or on the global one."""
        if limit <= 0:
            return []
        feed = self._g("events") if community_id is None else self._k(community_id, "events")
        raws = self._call(
            self.r.zrangebyscore, feed, f"({int(seq)}", "+inf", start=0, num=int(limit)
        )
        out = []
        for raw in raws:
            d = json.loads(raw)
            data = d.get("data") or {}
            out.append(
                Event(int(d["seq"]), d["ts"], d["community_id"], d["type"], d["entity_id"], data)
            )
        return out

    def last_seq(self) -> int:
        raw = self._call(self.r.get, self._g("seq"))
        return int(raw) if raw else 0

    # ---- idempotency, leases -------------------------------------------------------------

    def get_idempotency(self, scope: str, key: str, now: float) -> IdempotencyRecord | None:
        name = self._g("idem", scope, key)
        raw = self._call(self.r.get, name)
        if not raw:
            return None
        d = json.loads(raw)
        if float(d["expires_at"]) <= now:  # expired by the caller's clock: clear it
            self._call(self._delete_if, keys=[name], args=[raw])
            return None
        return IdempotencyRecord(scope, key, d["body_hash"], d["entity_id"], d["expires_at"])

    def acquire_lease(self, community_id: str, owner: str, ttl_s: float, now: float) -> bool:
        """Take or renew; the expiry is ``now + ttl_s`` by the caller's clock."""
        px = max(1, math.ceil(ttl_s * 1000))
        args = [owner, repr(float(now)), repr(float(now + ttl_s)), px]
        return bool(self._call(self._lease, keys=[self._k(community_id, "lease")], args=args))

    def release_lease(self, community_id: str, owner: str) -> None:
        self._call(self._release, keys=[self._k(community_id, "lease")], args=[owner])

    # ---- surge --------------------------------------------------------------------

    def get_rules(self) -> dict[str, Any] | None:
        raw, version = self._call(self.r.mget, [self._g("rules"), self._g("rules-version")])
        if not raw:
            return None
        return {**json.loads(raw), "version": int(version)}

    def put_rules(self, data: Mapping[str, Any]) -> int:
        """The rule set and its new version are stored in one step."""
        body = dumps({k: v for k, v in data.items() if k != "version"})
        keys = [self._g("rules-version"), self._g("rules")]
        return int(self._call(self._put_rules, keys=keys, args=[body]))

    def get_surge_state(self, community_id: str) -> dict[str, Any] | None:
        raw = self._call(self.r.get, self._k(community_id, "surge"))
        return json.loads(raw) if raw else None

    def put_surge_state(self, community_id: str, data: Mapping[str, Any]) -> None:
        self._call(self.r.set, self._k(community_id, "surge"), dumps(dict(data)))
