"""Redis store: shared state for several API and dispatcher processes, on one
Redis server or on Redis Cluster (``RedisStore(url, cluster=True)``).

Key layout (``P`` is the prefix, default ``dispatch``); every key is in one of two
kinds of hash slot, so no command or script ever spans two slots:

* per community, under the hash tag ``{cid}``: ``P:{cid}:community``,
  ``P:{cid}:workers`` (hash id → JSON), ``P:{cid}:pos`` (hash id → compact
  position string, the location hot path), ``P:{cid}:order:<id>`` /
  ``P:{cid}:job:<id>`` (JSON), ``P:{cid}:open-orders`` / ``P:{cid}:open-jobs``
  (sets), ``P:{cid}:plan``, ``P:{cid}:lease`` + ``P:{cid}:lease-token`` (the
  fencing token counter), ``P:{cid}:surge``,
  ``P:{cid}:idem:<scope>:<key>`` (idempotency records), ``P:{cid}:outbox`` (events
  committed but not yet numbered), ``P:{cid}:event-counter`` and
  ``P:{cid}:quote:<id>`` + ``P:{cid}:quote-use:<id>`` (held quotes, with a TTL),
  ``P:{cid}:by-time:order|job`` (every order or job by ``time_key``: a sorted set
  read by lexical range) and ``P:{cid}:history:<id>`` (an order's or job's own
  events as their outbox entries);
* global, under the hash tag ``{~}`` (no community id can be ``~``):
  ``P:{~}:communities`` (set), ``P:{~}:index:worker|order|job`` (hash id →
  community), ``P:{~}:idem-claim:<scope>:<key>`` (key → the community holding it),
  ``P:{~}:seq`` (event counter), ``P:{~}:events`` (the global feed),
  ``P:{~}:events:<cid>`` (a community's feed), ``P:{~}:published`` and
  ``P:{~}:seq-of:<cid>`` (publishing bookkeeping), the surge rule sets
  (``dispatch.store._redis_rules``; a community's own set lives in its slot),
  ``P:{~}:by-time:order|job`` (the listing index of all communities).

Writes: ``write`` is one Lua script in the community's slot
(``_redis_scripts.WRITE``): it checks every expected entity version, the plan
version and the idempotency record, and only then stores records, open sets,
the plan, the idempotency record and the events — all or nothing. Before it,
new ids are entered in the global indexes (an entry without a record reads as
"not found") and the idempotency key is claimed for the community (the same key
for another community is a ``Conflict``).

Events (a transactional outbox): the commit appends its events to the
community's outbox, numbered by the community's own counter, and answers the
whole outbox. The writer then publishes it with one script in the global slot
(``PUBLISH``): each entry not yet published gets the next global seq and joins
the global and the community's feed (sorted sets scored by seq, members hold
the JSON with its seq), and the community's published mark moves on. The
writer remembers the mark, and its next commit to that community drops the
published head of the outbox inside the same script (lease renewals trim it
too), so on Cluster a commit costs three round trips: index, commit, publish
(four with an idempotency claim). On a single server, where one script may touch
both slots, the claim, the commit and the publishing run as one script
(``WRITE_PUBLISH``) pipelined behind the index entries: one round trip. Publishing
is idempotent, so concurrent or repeated
publishers number every event exactly once, in commit order within a community,
and a reader can never see seq ``n + 1`` before ``n``. If a writer dies between
commit and publish, its events are published by the next write to that
community or the next lease renewal of its dispatcher; until then they are
committed but not yet in the feed.
``events_after(seq)`` is ``ZRANGEBYSCORE (seq +inf LIMIT 0 limit`` on the
community's feed when a community is given, else on the global one.

Redis Cluster: one community's state lives on one shard and its commit is
atomic there; the global slot holds the feeds, indexes and counters, so the
event feed's throughput is bounded by one shard (the location hot path never
touches it). Durability needs replicas and AOF ``appendfsync always`` either way.

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
from dataclasses import dataclass
from typing import Any, cast

import redis
from redis.exceptions import NoScriptError

from dispatch.errors import Conflict, LeaseLost
from dispatch.model import JOB_TERMINAL, ORDER_TERMINAL, Event, Job, Order, Plan, from_dict, to_dict
from dispatch.store import _redis_scripts as scripts
from dispatch.store._redis_base import dumps
from dispatch.store._redis_quotes import RedisQuotes
from dispatch.store._redis_retention import RedisRetention
from dispatch.store._redis_rules import RedisRules
from dispatch.store.base import HISTORY_LIMIT, Fence, IdempotencyRecord, NewEvent, time_key
from dispatch.store.blocking import WouldBlock
from dispatch.store.redis_async import ReplyError
from dispatch.store.resp import Arg

_CLAIMED = "idempotency key already used (by another community)"

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


@dataclass(frozen=True, slots=True)
class _Write:
    """One write, ready to send: index commands first, then the script's keys and payload."""

    cid: str
    n_events: int
    events: list[NewEvent]
    index: list[list[Arg]]
    keys: list[str]
    payload: str


def _no_script(reply: Any) -> bool:
    return isinstance(reply, ReplyError) and str(reply).startswith("NOSCRIPT")


def _reply_error(reply: Any) -> Exception:
    """An error reply of the async pipe as redis-py would raise it."""
    return redis.ResponseError(str(reply))


class RedisStore(RedisQuotes, RedisRetention, RedisRules):
    """Redis implementation of ``dispatch.store.base.Store`` (see the module docstring).

    ``client`` is a URL (``cluster=True`` for Redis Cluster), a ``redis.Redis`` or a
    ``redis.RedisCluster`` made with ``decode_responses=True``; every key starts with
    ``prefix`` so several deployments (or tests) share a server.
    ``idempotency_safety_ttl_s`` is the server-side lifetime of idempotency records.
    """

    def __init__(
        self,
        client: redis.Redis | redis.RedisCluster | str,
        *,
        prefix: str = "dispatch",
        cluster: bool = False,
        idempotency_safety_ttl_s: float = _WEEK_S,
        socket_timeout_s: float | None = 5.0,
    ) -> None:
        super().__init__(client, prefix=prefix, cluster=cluster, socket_timeout_s=socket_timeout_s)
        self._idem_ttl_ms = max(1, int(idempotency_safety_ttl_s * 1000))
        self._published: dict[str, int] = {}  # community → last outbox number seen published
        self._write = self.r.register_script(scripts.WRITE)
        self._stage = self.r.register_script(scripts.STAGE)
        self._publish = self.r.register_script(scripts.PUBLISH)
        self._trim = self.r.register_script(scripts.TRIM)
        self._claim = self.r.register_script(scripts.CLAIM)
        self._write_publish = self.r.register_script(scripts.WRITE_PUBLISH)
        self._lease = self.r.register_script(scripts.LEASE)
        self._release = self.r.register_script(scripts.RELEASE)
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
        fence: Fence | None = None,
    ) -> list[Event]:
        """One round trip on a single server (index, then ``WRITE_PUBLISH``); on Cluster
        claim, index, the community's ``WRITE``, publish (module docstring)."""
        one_trip = not self.cluster
        if idempotency is not None and not one_trip:
            claim = self._g("idem-claim", idempotency.scope, idempotency.key)
            if not self._call(self._claim, keys=[claim], args=[community_id, self._idem_ttl_ms]):
                raise Conflict(_CLAIMED)
        w = self._prepare_write(
            community_id, orders, jobs, events, expect, plan, expect_plan, idempotency, fence
        )
        if one_trip:
            reply = self._write_in_one_trip(w)
        else:
            if w.index:
                self._commands(w.index)
            reply = self._call(self._write, keys=w.keys, args=[w.payload])
        return self._finish_write(w, reply)

    async def write_async(
        self,
        community_id: str,
        *,
        orders: Sequence[Order] = (),
        jobs: Sequence[Job] = (),
        events: Sequence[NewEvent] = (),
        expect: Mapping[str, int] | None = None,
        idempotency: IdempotencyRecord | None = None,
    ) -> list[Event]:
        """``write`` awaited on the event loop (one round trip on the async pipe, no
        thread): new orders and jobs only. ``WouldBlock`` where that cannot be (Redis
        Cluster, a server without a ``redis://`` URL): the caller takes ``write``."""
        pipe = self.async_pipe()
        if pipe is None:
            raise WouldBlock("no async pipe for this store")
        w = self._prepare_write(
            community_id, orders, jobs, events, expect, None, None, idempotency, None
        )
        script = self._write_publish
        call: list[Arg] = ["EVALSHA", script.sha, len(w.keys), *w.keys, w.payload]
        for attempt in (1, 2):
            replies = await pipe.execute([*w.index, call])
            if _no_script(replies[-1]) and attempt == 1:
                loaded = (await pipe.execute([["SCRIPT", "LOAD", script.script]]))[0]
                if isinstance(loaded, ReplyError):
                    raise _reply_error(loaded)
                continue
            failed = next((r for r in replies if isinstance(r, ReplyError)), None)
            if failed is not None:
                raise _reply_error(failed)
            return self._finish_write(w, cast(list[Any], replies[-1]))
        raise AssertionError("unreachable: the second attempt returns or raises")

    def _prepare_write(
        self,
        cid: str,
        orders: Sequence[Order],
        jobs: Sequence[Job],
        events: Sequence[NewEvent],
        expect: Mapping[str, int] | None,
        plan: Plan | None,
        expect_plan: int | None,
        idempotency: IdempotencyRecord | None,
        fence: Fence | None,
    ) -> _Write:
        """The index commands and the script's keys and payload of one write."""
        strays = [o.id for o in orders if o.community_id != cid]
        strays += [j.id for j in jobs if j.community_id != cid]
        strays += [e.entity_id for e in events if e.community_id != cid]
        if strays or (plan is not None and plan.community_id != cid):
            raise ValueError(f"write for community {cid} holds records of another: {strays}")
        one_trip = not self.cluster
        rows = [(o.id, "order", to_dict(o), o.state in ORDER_TERMINAL) for o in orders]
        rows += [(j.id, "job", to_dict(j), j.state in JOB_TERMINAL) for j in jobs]
        news = [(o.id, "order", o.created_at) for o in orders]
        news += [(j.id, "job", j.created_at) for j in jobs]
        keys = _Keys(self._k(cid, "event-counter"), self._k(cid, "outbox"), self._k(cid, "plan"))
        records = [
            [
                keys(self._k(cid, kind, rid)),
                dumps(data),
                keys(self._k(cid, f"open-{kind}s")),
                rid,
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
            idem_key = self._k(cid, "idem", idempotency.scope, idempotency.key)
            idem = [keys(idem_key), dumps(value), self._idem_ttl_ms]
        payload: dict[str, Any] = {
            "expect": checks,
            "expect_plan": -1 if expect_plan is None else int(expect_plan),
            "idem": idem,
            "records": records,
            "plan": dumps(to_dict(plan)) if plan is not None else "",
            "events": [self._event_json(e) for e in events],
            "history": [
                [i, keys(self._k(cid, "history", e.entity_id))]
                for i, e in enumerate(events, start=1)
                if e.entity_id in kinds
            ],
            "history_limit": HISTORY_LIMIT,
            "history_ttl_ms": self._idem_ttl_ms,
            "trim_to": self._published.get(cid, 0),
            "fence": []
            if fence is None
            else [keys(self._k(cid, "lease")), fence.owner, int(fence.token)],
        }
        if one_trip:
            claim = None
            if idempotency is not None:
                claim = self._g("idem-claim", idempotency.scope, idempotency.key)
            payload["claim"] = [] if claim is None else [keys(claim), cid, self._idem_ttl_ms]
            payload["pub"] = [keys(k) for k in self._publish_keys(cid)]
            payload["cid"] = cid
        index = self._index_commands(cid, news, expect or {})
        return _Write(cid, len(events), list(events), index, keys.keys, dumps(payload))

    def _finish_write(self, w: _Write, reply: list[Any]) -> list[Event]:
        """The script's answer: an error, or the events numbered (published on one trip,
        published now on Cluster)."""
        cid = w.cid
        status, detail, *rest = reply
        if status == "fenced":
            raise LeaseLost(f"write to community {cid} fenced off: {detail}")
        if status == "conflict":
            raise Conflict(f"concurrent change in community {cid}: {detail}")
        if status == "claimed":
            raise Conflict(_CLAIMED)
        if not self.cluster:
            mark, seqs = int(rest[0]), [int(x) for x in rest[1:]]
            if mark > self._published.get(cid, 0):
                self._published[cid] = mark
        else:
            seqs = self._publish_entries(cid, int(detail), w.n_events, rest)
        return [self._event(e, seq) for e, seq in zip(w.events, seqs, strict=True)]

    def _write_in_one_trip(self, w: _Write) -> list[Any]:
        """The index entries and ``WRITE_PUBLISH`` in one pipeline (one round trip). A
        server that lost its scripts (restarted, flushed) gets the script again and the
        pipeline runs once more: index entries are idempotent, and a script that was not
        found changed nothing."""
        script = self._write_publish
        call: list[Arg] = ["EVALSHA", script.sha, len(w.keys), *w.keys, w.payload]
        for attempt in (1, 2):
            try:
                return cast(list[Any], self._raw([*w.index, call])[-1])
            except NoScriptError:
                if attempt == 2:
                    raise
                self._call(self.r.script_load, script.script)
        raise AssertionError("unreachable: the second attempt returns or raises")

    def _index_commands(
        self, cid: str, rows: Sequence[tuple[str, str, float]], expect: Mapping[str, int]
    ) -> list[list[Arg]]:
        """Point new ids at their community, and list them, before the records exist
        (the commands to send first; none when there is nothing new).

        An entry whose write then fails points at a key that does not exist, which
        reads as "no such entity" (listings skip it); an entry written after would
        leave a moment in which a stored record cannot be found.
        """
        new: dict[str, list[Arg]] = {}
        listed: dict[str, list[Arg]] = {}
        for rid, kind, created_at in rows:
            if expect.get(rid, 0) == 0:
                new.setdefault(kind, []).extend((rid, cid))
                listed.setdefault(kind, []).extend(("0", time_key(created_at, rid)))
        commands: list[list[Arg]] = []
        for kind, pairs in new.items():
            commands.append(["HSET", self._g("index", kind), *pairs])
        for kind, members in listed.items():
            commands.append(["ZADD", self._k(cid, "by-time", kind), *members])
            commands.append(["ZADD", self._g("by-time", kind), *members])
        return commands

    # ---- listing -------------------------------------------------------------------

    def _scan(
        self, kind: str, cls: type[Any], cid: str | None, after: str, n: int
    ) -> list[tuple[str, Any]]:
        """Index keys after ``after`` in ``time_key`` order with their records (None
        where a write failed after indexing)."""
        if n <= 0:
            return []
        index = self._g("by-time", kind) if cid is None else self._k(cid, "by-time", kind)
        low = f"({after}" if after else "-"
        members = self._call(self.r.zrangebylex, index, low, "+", start=0, num=int(n))
        ids = [m.partition("|")[2] for m in members]
        if not ids:
            return []
        homes = self._call(self.r.hmget, self._g("index", kind), ids) if cid is None else None
        pipe = self.r.pipeline(transaction=False)
        for i, rid in enumerate(ids):
            home = cid if homes is None else homes[i]
            pipe.get(self._k(home or "~", kind, rid))
        raws = self._call(pipe.execute)
        return [
            (m, from_dict(cls, json.loads(raw)) if raw else None)
            for m, raw in zip(members, raws, strict=True)
        ]

    def scan_orders(
        self, community_id: str | None, after: str, limit: int
    ) -> list[tuple[str, Order | None]]:
        return self._scan("order", Order, community_id, after, limit)

    def scan_jobs(
        self, community_id: str | None, after: str, limit: int
    ) -> list[tuple[str, Job | None]]:
        return self._scan("job", Job, community_id, after, limit)

    def entity_history(self, entity_id: str, limit: int = 1000) -> list[Event]:
        """The entity's outbox entries, each with the global seq publishing gave it;
        entries not yet published (or whose numbering has aged out) are left out."""
        cid = self._call(self.r.hget, self._g("index", "order"), entity_id)
        cid = cid or self._call(self.r.hget, self._g("index", "job"), entity_id)
        if cid is None or limit <= 0:
            return []
        entries = self._call(self.r.lrange, self._k(cid, "history", entity_id), 0, limit - 1)
        if not entries:
            return []
        numbered = [(int(e.partition("|")[0]), e.partition("|")[2]) for e in entries]
        pipe = self.r.pipeline(transaction=False)
        for num, _ in numbered:
            pipe.zrangebyscore(self._g("seq-of", cid), num, num)
        found = self._call(pipe.execute)
        out = []
        for (_, raw), seqs in zip(numbered, found, strict=True):
            if seqs:
                d = json.loads(raw)
                data = d.get("data") or {}
                seq = int(seqs[0])
                out.append(Event(seq, d["ts"], d["community_id"], d["type"], d["entity_id"], data))
        return out

    def _publish_keys(self, cid: str) -> list[str]:
        """The ``KEYS`` of ``PUBLISH`` for one community (all in the global slot)."""
        return [
            self._g("seq"),
            self._g("events"),
            self._g("events", cid),
            self._g("published"),
            self._g("seq-of", cid),
        ]

    def _publish_outbox(self, cid: str, first: int, count: int) -> list[int]:
        """Number the community's staged events globally; the seqs of ``first``'s batch.

        Every writer publishes its community's whole outbox, so events a crashed
        writer staged go out with the next write; publishing twice is harmless.
        """
        outbox = self._k(cid, "outbox")
        entries = self._call(self.r.lrange, outbox, 0, -1)
        seqs = self._publish_entries(cid, first, count, entries)
        if entries:
            self._call(self._trim, keys=[outbox], args=[self._published.get(cid, 0)])
        return seqs

    def _publish_entries(self, cid: str, first: int, count: int, entries: list[str]) -> list[int]:
        """Publish outbox ``entries`` as read; the seqs of ``first``'s batch of ``count``.

        The published mark is remembered, and the community's next ``write`` drops
        those entries from the outbox inside its own script (no trim round trip).
        """
        if not entries and count == 0:
            return []
        keys = self._publish_keys(cid)
        lo, hi = (first, first + count - 1) if count else (0, 0)
        reply = self._call(self._publish, keys=keys, args=[cid, lo, hi, *entries])
        mark, seqs = int(reply[0]), [int(x) for x in reply[1:]]
        if mark > self._published.get(cid, 0):
            self._published[cid] = mark
        return seqs

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
        """Staged and published per community, in the order given within each."""
        by_community: dict[str, list[int]] = {}
        for i, e in enumerate(events):
            by_community.setdefault(e.community_id, []).append(i)
        seqs = [0] * len(events)
        for cid, positions in by_community.items():
            keys = [self._k(cid, "event-counter"), self._k(cid, "outbox")]
            args = [self._event_json(events[i]) for i in positions]
            first = int(self._call(self._stage, keys=keys, args=args))
            for i, seq in zip(positions, self._publish_outbox(cid, first, len(args)), strict=True):
                seqs[i] = seq
        return [self._event(e, seq) for e, seq in zip(events, seqs, strict=True)]

    def events_after(
        self, seq: int, limit: int = 1000, community_id: str | None = None
    ) -> list[Event]:
        """One ZRANGEBYSCORE on the community's feed, or on the global one."""
        if limit <= 0:
            return []
        feed = self._g("events") if community_id is None else self._g("events", community_id)
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
        """The claim names the community; the record lives in that community's slot."""
        claim = self._g("idem-claim", scope, key)
        cid = self._call(self.r.get, claim)
        if cid is None:
            return None
        name = self._k(cid, "idem", scope, key)
        raw = self._call(self.r.get, name)
        if not raw:
            return None
        d = json.loads(raw)
        if float(d["expires_at"]) <= now:  # expired by the caller's clock: clear it
            self._call(self._delete_if, keys=[name], args=[raw])
            self._call(self._delete_if, keys=[claim], args=[cid])
            return None
        return IdempotencyRecord(scope, key, d["body_hash"], d["entity_id"], d["expires_at"])

    def acquire_lease(self, community_id: str, owner: str, ttl_s: float, now: float) -> int | None:
        """Take or renew; the expiry is ``now + ttl_s`` by the caller's clock.

        The holder also publishes events a crashed writer left in the outbox, so they
        reach the feed within one lease renewal even if the community sees no write.
        """
        px = max(1, math.ceil(ttl_s * 1000))
        args = [owner, repr(float(now)), repr(float(now + ttl_s)), px]
        keys = [self._k(community_id, "lease"), self._k(community_id, "lease-token")]
        token = int(self._call(self._lease, keys=keys, args=args))
        if token and self._call(self.r.llen, self._k(community_id, "outbox")):
            self._publish_outbox(community_id, 0, 0)
        return token or None

    def release_lease(self, community_id: str, owner: str) -> None:
        self._call(self._release, keys=[self._k(community_id, "lease")], args=[owner])

    # ---- surge --------------------------------------------------------------------

    def get_surge_state(self, community_id: str) -> dict[str, Any] | None:
        raw = self._call(self.r.get, self._k(community_id, "surge"))
        return json.loads(raw) if raw else None

    def put_surge_state(self, community_id: str, data: Mapping[str, Any]) -> None:
        self._call(self.r.set, self._k(community_id, "surge"), dumps(dict(data)))
