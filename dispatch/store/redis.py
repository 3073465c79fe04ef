"""Redis store: shared state for several API and dispatcher processes.

Key layout (``P`` is the prefix, default ``dispatch``):

* per community, all under the hash tag ``{cid}`` so they share one Cluster slot:
  ``P:{cid}:community``, ``P:{cid}:workers`` (hash id → JSON),
  ``P:{cid}:order:<id>`` / ``P:{cid}:job:<id>`` (JSON), ``P:{cid}:open-orders`` /
  ``P:{cid}:open-jobs`` (sets), ``P:{cid}:plan``, ``P:{cid}:lease``,
  ``P:{cid}:surge``;
* global: ``P:communities`` (set), ``P:index:worker`` / ``P:index:order`` /
  ``P:index:job`` (hash id → community), ``P:seq`` (event counter),
  ``P:events`` (sorted set of event JSON scored by seq), ``P:idem:<scope>:<key>``,
  ``P:rules``.

``write`` runs as one Lua script: it checks every expected version and the plan
version, then stores records, indexes, the idempotency record and the events
(numbered from ``P:seq``) — all or nothing. The script touches the global
event and index keys as well as the community's keys, so this layout needs a
single Redis primary (with replicas and AOF); on Redis Cluster the global
feed would move to per-community streams, which the key scheme already allows.
Lease expiry and idempotency expiry use the caller's ``now`` (stored in the
value) plus a Redis TTL as a safety net, so tests with a manual clock work.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence
from typing import Any, cast

import redis

from dispatch.errors import Conflict, StoreUnavailable
from dispatch.model import (
    JOB_TERMINAL,
    ORDER_TERMINAL,
    Community,
    Event,
    Job,
    LatLng,
    Order,
    Plan,
    Worker,
    WorkerStatus,
    from_dict,
    to_dict,
    worker_from_dict,
    worker_to_dict,
)
from dispatch.store.base import IdempotencyRecord, NewEvent, PositionState

_WRITE = """
-- KEYS: 1 seq, 2 events, 3 plan key, 4 idem key (or ''), then record keys
-- ARGV: 1 json payload
local p = cjson.decode(ARGV[1])
for i, e in ipairs(p.expect) do
  local raw = redis.call('GET', e[1])
  local have = 0
  if raw then have = cjson.decode(raw).version end
  if have ~= e[2] then return {'conflict', e[1] .. ' version ' .. have .. ' expected ' .. e[2]} end
end
if p.expect_plan >= 0 then
  local raw = redis.call('GET', KEYS[3])
  local have = 0
  if raw then have = cjson.decode(raw).version end
  if have ~= p.expect_plan then return {'conflict', 'plan version ' .. have} end
end
if p.idem_key ~= '' then
  if redis.call('EXISTS', p.idem_key) == 1 then return {'conflict', 'idempotency key in use'} end
  redis.call('SET', p.idem_key, p.idem_value, 'PX', p.idem_ttl_ms)
end
for i, r in ipairs(p.records) do
  redis.call('SET', r[1], r[2])
  redis.call('HSET', r[3], r[4], p.community)
  if r[6] == 1 then redis.call('SREM', r[5], r[4]) else redis.call('SADD', r[5], r[4]) end
end
if p.plan ~= '' then redis.call('SET', KEYS[3], p.plan) end
local seqs = {}
for i, ev in ipairs(p.events) do
  local seq = redis.call('INCR', KEYS[1])
  redis.call('ZADD', KEYS[2], seq, '{"seq":' .. seq .. ',' .. string.sub(ev, 2))
  table.insert(seqs, seq)
end
return {'ok', cjson.encode(seqs)}
"""

_APPEND = """
local seqs = {}
for i, raw in ipairs(ARGV) do
  local seq = redis.call('INCR', KEYS[1])
  redis.call('ZADD', KEYS[2], seq, '{"seq":' .. seq .. ',' .. string.sub(raw, 2))
  table.insert(seqs, seq)
end
return cjson.encode(seqs)
"""

_LEASE = """
local raw = redis.call('GET', KEYS[1])
if raw then
  local held = cjson.decode(raw)
  if held.owner ~= ARGV[1] and held.expires > tonumber(ARGV[2]) then return 0 end
end
redis.call('SET', KEYS[1], cjson.encode({owner=ARGV[1], expires=tonumber(ARGV[3])}),
           'PX', ARGV[4])
return 1
"""

_RELEASE = """
local raw = redis.call('GET', KEYS[1])
if raw and cjson.decode(raw).owner == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 1
"""


def _pos(
    lat: float | None, lng: float | None, ts: float | None, cell: int | None, status: str
) -> str:
    """A worker's fast-changing state as one short string (repr keeps floats exact)."""
    return "|".join(
        [
            "" if lat is None else repr(float(lat)),
            "" if lng is None else repr(float(lng)),
            "" if ts is None else repr(float(ts)),
            "" if cell is None else str(int(cell)),
            status,
        ]
    )


def _unpos(raw: str) -> tuple[float | None, float | None, float | None, int | None, str]:
    lat, lng, ts, cell, status = raw.split("|")
    return (
        float(lat) if lat else None,
        float(lng) if lng else None,
        float(ts) if ts else None,
        int(cell) if cell else None,
        status,
    )


def _merge(worker: Worker, pos: str | None) -> Worker:
    if not pos:
        return worker
    lat, lng, ts, cell, status = _unpos(pos)
    return dataclasses.replace(
        worker,
        position=None if lat is None or lng is None else LatLng(lat, lng),
        position_ts=ts,
        cell=cell,
        status=WorkerStatus(status),
    )


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


class RedisStore:
    """Redis implementation of ``dispatch.store.base.Store``."""

    def __init__(self, client: redis.Redis | str, *, prefix: str = "dispatch") -> None:
        self.r: redis.Redis = (
            redis.Redis.from_url(client, decode_responses=True)
            if isinstance(client, str)
            else client
        )
        self.p = prefix
        self._write = self.r.register_script(_WRITE)
        self._append_script = self.r.register_script(_APPEND)
        self._lease = self.r.register_script(_LEASE)
        self._release = self.r.register_script(_RELEASE)

    # ---- keys --------------------------------------------------------------------

    def _k(self, cid: str, *parts: str) -> str:
        return ":".join([self.p, "{" + cid + "}", *parts])

    def _g(self, *parts: str) -> str:
        return ":".join([self.p, *parts])

    def _call(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except redis.ConnectionError as exc:
            raise StoreUnavailable(f"Redis is unreachable: {exc}") from exc

    # ---- communities and workers -----------------------------------------------------

    def put_community(self, community: Community) -> None:
        pipe = self.r.pipeline()
        pipe.set(self._k(community.id, "community"), _dumps(to_dict(community)))
        pipe.sadd(self._g("communities"), community.id)
        self._call(pipe.execute)

    def get_community(self, community_id: str) -> Community | None:
        raw = self._call(self.r.get, self._k(community_id, "community"))
        return from_dict(Community, json.loads(raw)) if raw else None

    def list_communities(self) -> list[Community]:
        ids = sorted(self._call(self.r.smembers, self._g("communities")))
        out = [self.get_community(i) for i in ids]
        return [c for c in out if c is not None]

    def put_worker(self, worker: Worker) -> None:
        self.put_workers([worker])

    def put_workers(self, workers: Sequence[Worker]) -> None:
        """Two round trips for a batch: the index read, then one pipeline."""
        if not workers:
            return
        index = self._g("index", "worker")
        olds = self._call(self.r.hmget, index, [w.id for w in workers])
        pipe = self.r.pipeline(transaction=False)
        records: dict[str, dict[str, str]] = {}
        positions: dict[str, dict[str, str]] = {}
        moved: dict[str, str] = {}
        for w, old_cid in zip(workers, olds, strict=True):
            if old_cid is not None and old_cid != w.community_id:
                pipe.hdel(self._k(old_cid, "workers"), w.id)
                pipe.hdel(self._k(old_cid, "pos"), w.id)
            if old_cid != w.community_id:
                moved[w.id] = w.community_id
            records.setdefault(w.community_id, {})[w.id] = _dumps(worker_to_dict(w))
            positions.setdefault(w.community_id, {})[w.id] = _pos(
                w.position.lat if w.position else None,
                w.position.lng if w.position else None,
                w.position_ts,
                w.cell,
                w.status.value,
            )
        for cid, mapping in records.items():
            pipe.hset(self._k(cid, "workers"), mapping=cast(Any, mapping))
            pipe.hset(self._k(cid, "pos"), mapping=cast(Any, positions[cid]))
        if moved:
            pipe.hset(index, mapping=cast(Any, moved))
        self._call(pipe.execute)

    def get_worker(self, worker_id: str) -> Worker | None:
        return self.get_workers([worker_id])[0]

    def _grouped(self, ids: list[str]) -> dict[str, list[int]]:
        cids = self._call(self.r.hmget, self._g("index", "worker"), ids)
        groups: dict[str, list[int]] = {}
        for i, cid in enumerate(cids):
            if cid is not None:
                groups.setdefault(cid, []).append(i)
        return groups

    def get_workers(self, worker_ids: Sequence[str]) -> list[Worker | None]:
        """Two round trips: the index, then records and positions per community."""
        ids = list(worker_ids)
        out: list[Worker | None] = [None] * len(ids)
        groups = self._grouped(ids) if ids else {}
        if not groups:
            return out
        pipe = self.r.pipeline(transaction=False)
        order = list(groups.items())
        for cid, positions in order:
            names = [ids[i] for i in positions]
            pipe.hmget(self._k(cid, "workers"), names)
            pipe.hmget(self._k(cid, "pos"), names)
        replies = self._call(pipe.execute)
        for k, (_, positions) in enumerate(order):
            raws, poss = replies[2 * k], replies[2 * k + 1]
            for i, raw, pos in zip(positions, raws, poss, strict=True):
                if raw:
                    out[i] = _merge(worker_from_dict(json.loads(raw)), pos)
        return out

    def get_positions(self, worker_ids: Sequence[str]) -> list[PositionState | None]:
        ids = list(worker_ids)
        out: list[PositionState | None] = [None] * len(ids)
        groups = self._grouped(ids) if ids else {}
        if not groups:
            return out
        pipe = self.r.pipeline(transaction=False)
        order = list(groups.items())
        for cid, positions in order:
            pipe.hmget(self._k(cid, "pos"), [ids[i] for i in positions])
        for (cid, positions), poss in zip(order, self._call(pipe.execute), strict=True):
            for i, pos in zip(positions, poss, strict=True):
                if pos:
                    lat, lng, ts, cell, status = _unpos(pos)
                    out[i] = PositionState(ids[i], cid, lat, lng, ts, cell, status)
        return out

    def put_positions(self, states: Sequence[PositionState]) -> None:
        """One pipelined round trip: only the compact position strings change."""
        if not states:
            return
        groups: dict[str, dict[str, str]] = {}
        for st in states:
            groups.setdefault(st.community_id, {})[st.worker_id] = _pos(
                st.lat, st.lng, st.ts, st.cell, st.status
            )
        pipe = self.r.pipeline(transaction=False)
        for cid, mapping in groups.items():
            pipe.hset(self._k(cid, "pos"), mapping=cast(Any, mapping))
        self._call(pipe.execute)

    def list_workers(self, community_id: str) -> list[Worker]:
        pipe = self.r.pipeline(transaction=False)
        pipe.hgetall(self._k(community_id, "workers"))
        pipe.hgetall(self._k(community_id, "pos"))
        raws, poss = self._call(pipe.execute)
        return [_merge(worker_from_dict(json.loads(raws[k])), poss.get(k)) for k in sorted(raws)]

    # ---- orders, jobs, plans -------------------------------------------------------

    def _get_entity(self, kind: str, cls: type[Any], entity_id: str) -> Any:
        cid = self._call(self.r.hget, self._g("index", kind), entity_id)
        if cid is None:
            return None
        raw = self._call(self.r.get, self._k(cid, kind, entity_id))
        return from_dict(cls, json.loads(raw)) if raw else None

    def get_order(self, order_id: str) -> Order | None:
        return self._get_entity("order", Order, order_id)  # type: ignore[no-any-return]

    def get_job(self, job_id: str) -> Job | None:
        return self._get_entity("job", Job, job_id)  # type: ignore[no-any-return]

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
        cid = community_id
        kinds = {o.id: "order" for o in orders} | {j.id: "job" for j in jobs}
        records = []
        for o in orders:
            records.append(
                [
                    self._k(cid, "order", o.id),
                    _dumps(to_dict(o)),
                    self._g("index", "order"),
                    o.id,
                    self._k(cid, "open-orders"),
                    1 if o.state in ORDER_TERMINAL else 0,
                ]
            )
        for j in jobs:
            records.append(
                [
                    self._k(cid, "job", j.id),
                    _dumps(to_dict(j)),
                    self._g("index", "job"),
                    j.id,
                    self._k(cid, "open-jobs"),
                    1 if j.state in JOB_TERMINAL else 0,
                ]
            )
        expect_list = []
        for entity_id, version in (expect or {}).items():
            kind = kinds.get(entity_id) or self._kind_of(entity_id)
            expect_list.append([self._k(cid, kind, entity_id), int(version)])
        idem_key = ""
        idem_value = ""
        idem_ttl = 1
        if idempotency is not None:
            idem_key = self._g("idem", idempotency.scope, idempotency.key)
            idem_value = _dumps(
                {
                    "body_hash": idempotency.body_hash,
                    "entity_id": idempotency.entity_id,
                    "expires_at": idempotency.expires_at,
                }
            )
            idem_ttl = 7 * 24 * 3600 * 1000
        payload: dict[str, Any] = {
            "community": cid,
            "expect": expect_list or {},
            "expect_plan": -1 if expect_plan is None else int(expect_plan),
            "idem_key": idem_key,
            "idem_value": idem_value,
            "idem_ttl_ms": idem_ttl,
            "records": records or {},
            "plan": _dumps(to_dict(plan)) if plan is not None else "",
            "events": [_dumps(self._event_json(e)) for e in events] or {},
        }
        keys = [self._g("seq"), self._g("events"), self._k(cid, "plan")]
        status, detail = self._call(self._write, keys=keys, args=[_dumps(payload)])
        if status == "conflict":
            raise Conflict(f"concurrent change in community {cid}: {detail}")
        seqs = json.loads(detail) if detail not in ("{}", "") else []
        return [self._event(e, s) for e, s in zip(events, seqs, strict=True)]

    def _kind_of(self, entity_id: str) -> str:
        if self._call(self.r.hexists, self._g("index", "job"), entity_id):
            return "job"
        return "order"

    @staticmethod
    def _event_json(e: NewEvent) -> dict[str, Any]:
        return {
            "ts": e.ts,
            "community_id": e.community_id,
            "type": e.type,
            "entity_id": e.entity_id,
            "data": dict(e.data),
        }

    @staticmethod
    def _event(e: NewEvent, seq: int) -> Event:
        return Event(int(seq), e.ts, e.community_id, e.type, e.entity_id, dict(e.data))

    # ---- events -------------------------------------------------------------------

    def append_events(self, events: Sequence[NewEvent]) -> list[Event]:
        if not events:
            return []
        raw = self._call(
            self._append_script,
            keys=[self._g("seq"), self._g("events")],
            args=[_dumps(self._event_json(e)) for e in events],
        )
        return [self._event(e, s) for e, s in zip(events, json.loads(raw), strict=True)]

    def events_after(
        self, seq: int, limit: int = 1000, community_id: str | None = None
    ) -> list[Event]:
        out: list[Event] = []
        cursor = seq
        while len(out) < limit:
            raws = self._call(
                self.r.zrangebyscore,
                self._g("events"),
                f"({cursor}",
                "+inf",
                start=0,
                num=max(limit, 100),
            )
            if not raws:
                break
            for raw in raws:
                d = json.loads(raw)
                cursor = int(d["seq"])
                data = d.get("data") or {}
                ev = Event(cursor, d["ts"], d["community_id"], d["type"], d["entity_id"], data)
                if community_id is None or ev.community_id == community_id:
                    out.append(ev)
                    if len(out) >= limit:
                        break
        return out

    def last_seq(self) -> int:
        raw = self._call(self.r.get, self._g("seq"))
        return int(raw) if raw else 0

    # ---- idempotency, leases -------------------------------------------------------------

    def get_idempotency(self, scope: str, key: str, now: float) -> IdempotencyRecord | None:
        raw = self._call(self.r.get, self._g("idem", scope, key))
        if not raw:
            return None
        d = json.loads(raw)
        if float(d["expires_at"]) <= now:
            self._call(self.r.delete, self._g("idem", scope, key))
            return None
        return IdempotencyRecord(scope, key, d["body_hash"], d["entity_id"], d["expires_at"])

    def acquire_lease(self, community_id: str, owner: str, ttl_s: float, now: float) -> bool:
        ok = self._call(
            self._lease,
            keys=[self._k(community_id, "lease")],
            args=[owner, repr(float(now)), repr(float(now + ttl_s)), int(ttl_s * 1000) + 1],
        )
        return bool(ok)

    def release_lease(self, community_id: str, owner: str) -> None:
        self._call(self._release, keys=[self._k(community_id, "lease")], args=[owner])

    # ---- surge --------------------------------------------------------------------

    def get_rules(self) -> dict[str, Any] | None:
        raw = self._call(self.r.get, self._g("rules"))
        return json.loads(raw) if raw else None

    def put_rules(self, data: Mapping[str, Any]) -> int:
        version = int(self._call(self.r.incr, self._g("rules-version")))
        self._call(self.r.set, self._g("rules"), _dumps({**dict(data), "version": version}))
        return version

    def get_surge_state(self, community_id: str) -> dict[str, Any] | None:
        raw = self._call(self.r.get, self._k(community_id, "surge"))
        return json.loads(raw) if raw else None

    def put_surge_state(self, community_id: str, data: Mapping[str, Any]) -> None:
        self._call(self.r.set, self._k(community_id, "surge"), _dumps(dict(data)))

    def ping(self) -> bool:
        try:
            return bool(self.r.ping())
        except redis.ConnectionError:
            return False
