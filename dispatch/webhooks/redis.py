"""Redis webhook store, on the Redis (or Redis Cluster) of a ``RedisStore``.

Every key is in the store's global hash slot (``global_key``), so the scripts
run unchanged on Cluster: ``wh:endpoints`` (hash id → JSON), ``wh:cursor``,
``wh:number``, ``wh:d:<id>`` (a delivery's JSON; final ones expire after the
retention), ``wh:idx:<endpoint>`` (sorted set number → id: the listing; past
``keep`` entries the oldest final deliveries are deleted),
``wh:q:<endpoint>:<order key>`` (list: the pending deliveries of one entity in
order) with ``wh:qs:<endpoint>`` (the order keys with a queue), ``wh:due``
(sorted set: queue heads by next attempt time, or by lease end while claimed)
and ``wh:claims`` (hash id → claim token).
"""

from __future__ import annotations

import dataclasses
import json
import math
import uuid
from collections.abc import Sequence
from typing import Any

from dispatch.store._redis_base import dumps
from dispatch.store.redis import RedisStore
from dispatch.webhooks import _redis_scripts as scripts
from dispatch.webhooks.model import (
    Delivery,
    DeliveryState,
    Endpoint,
    delivery_from_dict,
    endpoint_from_dict,
    record_to_dict,
)
from dispatch.webhooks.store import DELIVERIES_KEPT, DELIVERY_RETENTION_S

__all__ = ["RedisWebhookStore"]

INDEX_CAP = 1_000_000  # a hard bound on a listing, pending deliveries included
_BATCH = 500


def _score(t: float) -> str:
    return repr(float(t))


class RedisWebhookStore:
    """``WebhookStore`` on a ``RedisStore``'s client and prefix (module docstring)."""

    def __init__(
        self,
        store: RedisStore,
        *,
        retention_s: float = DELIVERY_RETENTION_S,
        keep: int = DELIVERIES_KEPT,
        index_cap: int = INDEX_CAP,
    ) -> None:
        self.s = store
        self.r = store.r
        self._ttl_ms = max(1, math.ceil(retention_s * 1000))
        self._cap = index_cap
        self.keep = keep
        self._add = self.r.register_script(scripts.ADD)
        self._claim = self.r.register_script(scripts.CLAIM)
        self._complete = self.r.register_script(scripts.COMPLETE)
        self._requeue = self.r.register_script(scripts.REQUEUE)
        self._fail_queue = self.r.register_script(scripts.FAIL_QUEUE)
        self._trim_script = self.r.register_script(scripts.TRIM)

    def _k(self, *parts: str) -> str:
        return self.s.global_key("wh", *parts)

    def _call(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        return self.s.call(fn, *args, **kwargs)

    # ---- endpoints ---------------------------------------------------------------

    def put_endpoint(self, endpoint: Endpoint) -> None:
        self._call(self.r.hset, self._k("endpoints"), endpoint.id, dumps(record_to_dict(endpoint)))

    def get_endpoint(self, endpoint_id: str) -> Endpoint | None:
        raw = self._call(self.r.hget, self._k("endpoints"), endpoint_id)
        return endpoint_from_dict(json.loads(raw)) if raw else None

    def list_endpoints(self) -> list[Endpoint]:
        raws = self._call(self.r.hgetall, self._k("endpoints"))
        return [endpoint_from_dict(json.loads(raws[k])) for k in sorted(raws)]

    def delete_endpoint(self, endpoint_id: str) -> bool:
        """The endpoint first (fan-out stops at once), then its deliveries in batches."""
        if not self._call(self.r.hdel, self._k("endpoints"), endpoint_id):
            return False
        index = self._k("idx", endpoint_id)
        ids = self._call(self.r.zrange, index, 0, -1)
        for start in range(0, len(ids), _BATCH):
            chunk = ids[start : start + _BATCH]
            pipe = self.r.pipeline(transaction=False)
            for i in chunk:  # Cluster pipelines delete one key per command
                pipe.delete(self._k("d", i))
            pipe.zrem(self._k("due"), *chunk)
            pipe.hdel(self._k("claims"), *chunk)
            self._call(pipe.execute)
        keys = self._call(self.r.smembers, self._k("qs", endpoint_id))
        pipe = self.r.pipeline(transaction=False)
        for okey in keys:
            pipe.delete(self._k("q", endpoint_id, okey))
        pipe.delete(self._k("qs", endpoint_id))
        pipe.delete(index)
        self._call(pipe.execute)
        return True

    # ---- fan-out -----------------------------------------------------------------

    def cursor(self) -> int:
        raw = self._call(self.r.get, self._k("cursor"))
        return int(raw) if raw else 0

    def reserve_numbers(self, count: int) -> int:
        last = int(self._call(self.r.incrby, self._k("number"), max(0, count)))
        return last - max(0, count) + 1

    def add(
        self,
        deliveries: Sequence[Delivery],
        now: float,
        *,
        expect_cursor: int | None = None,
        new_cursor: int | None = None,
    ) -> bool:
        keys = [self._k("cursor"), self._k("due"), self._k("endpoints")]
        args: list[Any] = [
            "" if expect_cursor is None else str(int(expect_cursor)),
            "" if new_cursor is None else str(int(new_cursor)),
            self._cap,
        ]
        for d in deliveries:
            keys += [
                self._k("d", d.id),
                self._k("idx", d.endpoint_id),
                self._k("q", d.endpoint_id, d.order_key),
                self._k("qs", d.endpoint_id),
            ]
            first = d.next_attempt_at if d.next_attempt_at is not None else now
            args += [
                d.id,
                d.endpoint_id,
                dumps(record_to_dict(d)),
                d.number,
                1 if d.final else 0,
                d.order_key,
                _score(first),
                self._ttl_ms,
            ]
        added = bool(self._call(self._add, keys=keys, args=args))
        if added and deliveries:
            self._trim({d.endpoint_id for d in deliveries})
        return added

    def _trim(self, endpoint_ids: set[str]) -> None:
        """Past ``keep`` listed deliveries, delete the oldest final ones (a batch a call)."""
        pipe = self.r.pipeline(transaction=False)
        order = sorted(endpoint_ids)
        for eid in order:
            pipe.zcard(self._k("idx", eid))
        for eid, size in zip(order, self._call(pipe.execute), strict=True):
            excess = min(int(size) - self.keep, _BATCH)
            if excess <= 0:
                continue
            index = self._k("idx", eid)
            ids = self._call(self.r.zrange, index, 0, excess - 1)
            if ids:
                keys = [index, *[self._k("d", i) for i in ids]]
                self._call(self._trim_script, keys=keys, args=ids)

    # ---- reading -----------------------------------------------------------------

    def get_delivery(self, delivery_id: str) -> Delivery | None:
        raw = self._call(self.r.get, self._k("d", delivery_id))
        return delivery_from_dict(json.loads(raw)) if raw else None

    def list_deliveries(
        self, endpoint_id: str, limit: int, before: int | None = None
    ) -> list[Delivery]:
        """Newest first; index entries whose record expired are dropped on the way."""
        index = self._k("idx", endpoint_id)
        top: str = "+inf" if before is None else f"({int(before)}"
        out: list[Delivery] = []
        while len(out) < limit:
            want = limit - len(out)
            rows = self._call(
                self.r.zrevrangebyscore, index, top, "-inf", start=0, num=want, withscores=True
            )
            if not rows:
                break
            raws = self._call(self.r.mget, [self._k("d", did) for did, _ in rows])
            gone = [did for (did, _), raw in zip(rows, raws, strict=True) if not raw]
            out += [delivery_from_dict(json.loads(raw)) for raw in raws if raw]
            if gone:
                self._call(self.r.zrem, index, *gone)
            top = f"({int(rows[-1][1])}"
            if len(rows) < want:
                break
        return out

    # ---- sending -----------------------------------------------------------------

    def claim_due(self, now: float, lease_until: float, limit: int) -> list[Delivery]:
        reply = self._call(
            self._claim,
            keys=[self._k("due"), self._k("claims")],
            args=[_score(now), _score(lease_until), int(limit), uuid.uuid4().hex + ":"],
        )
        pairs = list(zip(reply[0::2], reply[1::2], strict=True))
        if not pairs:
            return []
        raws = self._call(self.r.mget, [self._k("d", did) for did, _ in pairs])
        return [
            dataclasses.replace(delivery_from_dict(json.loads(raw)), claim=token)
            for (_, token), raw in zip(pairs, raws, strict=True)
            if raw
        ]

    def complete(self, delivery: Delivery, now: float) -> bool:
        if delivery.claim is None:
            return False
        record = dataclasses.replace(delivery, claim=None)
        d = record
        keys = [
            self._k("claims"),
            self._k("d", d.id),
            self._k("due"),
            self._k("q", d.endpoint_id, d.order_key),
            self._k("qs", d.endpoint_id),
        ]
        nxt = d.next_attempt_at if d.next_attempt_at is not None else now
        args = [
            d.id,
            delivery.claim,
            dumps(record_to_dict(record)),
            0 if d.final else 1,
            _score(nxt),
            _score(now),
            self._ttl_ms,
            d.order_key,
        ]
        return bool(self._call(self._complete, keys=keys, args=args))

    def requeue(self, delivery: Delivery, now: float) -> bool:
        if delivery.final:
            return False
        d = dataclasses.replace(delivery, claim=None)
        keys = [
            self._k("d", d.id),
            self._k("q", d.endpoint_id, d.order_key),
            self._k("qs", d.endpoint_id),
            self._k("due"),
        ]
        first = d.next_attempt_at if d.next_attempt_at is not None else now
        args = [d.id, dumps(record_to_dict(d)), d.order_key, _score(first)]
        return bool(self._call(self._requeue, keys=keys, args=args))

    def fail_pending(self, endpoint_id: str, now: float, note: str) -> int:
        """Each queue in one script, re-read and retried when it changed meanwhile."""
        failed = 0
        for okey in sorted(self._call(self.r.smembers, self._k("qs", endpoint_id))):
            queue = self._k("q", endpoint_id, okey)
            for _ in range(10):
                ids = self._call(self.r.lrange, queue, 0, -1)
                raws = self._call(self.r.mget, [self._k("d", i) for i in ids]) if ids else []
                records = [
                    dataclasses.replace(
                        delivery_from_dict(json.loads(raw)),
                        state=DeliveryState.FAILED,
                        next_attempt_at=None,
                        note=note,
                        claim=None,
                    )
                    for raw in raws
                    if raw
                ]
                if len(records) != len(ids):
                    continue
                keys = [queue, self._k("qs", endpoint_id), self._k("due"), self._k("claims")]
                keys += [self._k("d", i) for i in ids]
                args: list[Any] = [okey, self._ttl_ms, len(ids), *ids]
                args += [dumps(record_to_dict(r)) for r in records]
                if self._call(self._fail_queue, keys=keys, args=args):
                    failed += len(ids)
                    break
        return failed
