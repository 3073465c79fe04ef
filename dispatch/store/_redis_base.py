"""Redis store, part one: connection, key naming, communities, workers and positions.

Positions live apart from the worker records (``P:{cid}:pos``, one compact
string per worker) so a location batch rewrites only those strings in one
pipelined round trip. ``RedisStore`` in ``dispatch.store.redis`` adds the rest.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from typing import Any, cast

import redis

from dispatch.errors import StoreUnavailable
from dispatch.model import (
    Community,
    LatLng,
    Worker,
    WorkerStatus,
    from_dict,
    to_dict,
    worker_from_dict,
    worker_to_dict,
)
from dispatch.store.base import PositionState
from dispatch.store.blocking import check_blocking_allowed
from dispatch.store.redis_async import AsyncRedisPipe
from dispatch.store.resp import Arg, pack_commands

GLOBAL_TAG = "{~}"

UNAVAILABLE = (redis.ConnectionError, redis.TimeoutError, redis.exceptions.ReadOnlyError)


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
        # retiring is final: a position written in a race cannot bring the worker back
        status=worker.status if worker.status == WorkerStatus.RETIRED else WorkerStatus(status),
    )


def dumps(value: Any) -> str:
    """Compact JSON (floats keep every digit: ``json`` writes their repr)."""
    return json.dumps(value, separators=(",", ":"))


class RedisBase:
    """Connection, key naming and the worker side of the Redis store.

    ``client`` is a URL, a ``redis.Redis`` or a ``redis.RedisCluster`` made with
    ``decode_responses=True``; with a URL, ``cluster=True`` connects to Redis Cluster
    (any node's address). Every key starts with ``prefix`` so several deployments
    (or tests) share a server. ``socket_timeout_s`` bounds each command, so a
    stalled server surfaces as ``StoreUnavailable`` instead of a hang.
    """

    def __init__(
        self,
        client: redis.Redis | redis.RedisCluster | str,
        *,
        prefix: str = "dispatch",
        cluster: bool = False,
        socket_timeout_s: float | None = 5.0,
    ) -> None:
        if not prefix or "{" in prefix or "}" in prefix:
            raise ValueError("prefix must be non-empty and contain no braces")
        self.r: Any
        if isinstance(client, str):
            timeouts = {
                "socket_timeout": socket_timeout_s,
                "socket_connect_timeout": socket_timeout_s,
            }
            if cluster:
                self.r = redis.RedisCluster.from_url(client, decode_responses=True, **timeouts)
            else:
                self.r = redis.Redis.from_url(client, decode_responses=True, **timeouts)
            self._owned = True
            self.url: str | None = client  # for companions that share the server (rate limits)
        else:
            self.url = None
            if isinstance(client, redis.RedisCluster):
                kwargs = client.get_connection_kwargs()
            else:
                kwargs = client.connection_pool.connection_kwargs
            if not kwargs.get("decode_responses"):
                raise ValueError("RedisStore needs a client made with decode_responses=True")
            self.r = client
            self._owned = False
        self.cluster = isinstance(self.r, redis.RedisCluster)
        self.p = prefix
        self._socket_timeout_s = socket_timeout_s
        self._async_pipe: AsyncRedisPipe | None = None

    def close(self) -> None:
        """Close the connection pool when this store created it from a URL."""
        if self._owned:
            self.r.close()

    # ---- keys --------------------------------------------------------------------

    def _k(self, cid: str, *parts: str) -> str:
        """A key of one community: the id is the Cluster hash tag."""
        return ":".join([self.p, "{" + cid + "}", *parts])

    def _g(self, *parts: str) -> str:
        """A global key: all share the hash tag ``{~}`` (no community id holds ``~``)."""
        return ":".join([self.p, GLOBAL_TAG, *parts])

    def global_key(self, *parts: str) -> str:
        """A key in the global slot for a component that shares this store's Redis."""
        return self._g(*parts)

    def call(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        """Run a Redis call; an unreachable server becomes ``StoreUnavailable``."""
        return self._call(fn, *args, **kwargs)

    def _call(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        check_blocking_allowed()
        try:
            return fn(*args, **kwargs)
        except UNAVAILABLE as exc:
            raise StoreUnavailable(f"Redis is unavailable: {exc}") from exc

    async def close_async_pipe(self) -> None:
        """Close the event loop's connection, if one was made (a later call makes another)."""
        pipe, self._async_pipe = self._async_pipe, None
        if pipe is not None:
            await pipe.close()

    @property
    def awaits_writes(self) -> bool:
        """Whether request writes can be awaited on the event loop (``async_pipe``)."""
        return self.async_pipe() is not None

    def async_pipe(self) -> AsyncRedisPipe | None:
        """The hot path's pipelined asyncio connection (None on Cluster or without a
        ``redis://`` URL); made on first use."""
        if self.cluster or self.url is None or not self.url.startswith("redis://"):
            return None
        if self._async_pipe is None:
            self._async_pipe = AsyncRedisPipe(self.url, self._socket_timeout_s)
        return self._async_pipe

    def _raw(self, commands: list[list[Arg]]) -> list[Any]:
        """Commands sent as one hand-packed buffer on a pooled connection, their replies
        read in order (single server only: big batches skip redis-py's per-argument
        packing, which cost more than the rest of a location batch). An error reply
        is raised, as a pipeline would."""
        check_blocking_allowed()
        pool = self.r.connection_pool
        try:
            conn = pool.get_connection()
        except UNAVAILABLE as exc:
            raise StoreUnavailable(f"Redis is unavailable: {exc}") from exc
        try:
            conn.send_packed_command([pack_commands(commands)])
            replies: list[Any] = []
            failed: Exception | None = None
            for _ in commands:
                try:
                    replies.append(conn.read_response())
                except redis.ResponseError as exc:  # the connection stays in step
                    failed = failed or exc
                    replies.append(exc)
            if failed is not None:
                raise failed
            return replies
        except UNAVAILABLE as exc:
            conn.disconnect()
            raise StoreUnavailable(f"Redis is unavailable: {exc}") from exc
        except BaseException:
            conn.disconnect()
            raise
        finally:
            pool.release(conn)

    def _commands(self, commands: list[list[Arg]]) -> list[Any]:
        """Commands in one round trip: hand-packed on a single server, a pipeline on
        Cluster (which routes each command to its slot's node)."""
        if not self.cluster:
            return self._raw(commands)
        pipe = self.r.pipeline(transaction=False)
        for command in commands:
            pipe.execute_command(*command)
        return cast(list[Any], self._call(pipe.execute))

    def ping(self) -> bool:
        try:
            return bool(self.r.ping())
        except UNAVAILABLE:
            return False

    # ---- communities and workers -----------------------------------------------------

    def put_community(self, community: Community) -> None:
        """The record, then its id in the global set (two slots: not one transaction)."""
        if "{" in community.id or "}" in community.id or community.id == "~":
            raise ValueError(f"community id {community.id!r} cannot be a Redis hash tag")
        pipe = self.r.pipeline(transaction=False)
        pipe.set(self._k(community.id, "community"), dumps(to_dict(community)))
        pipe.sadd(self._g("communities"), community.id)
        self._call(pipe.execute)

    def get_community(self, community_id: str) -> Community | None:
        raw = self._call(self.r.get, self._k(community_id, "community"))
        return from_dict(Community, json.loads(raw)) if raw else None

    def list_communities(self) -> list[Community]:
        ids = sorted(self._call(self.r.smembers, self._g("communities")))
        if not ids:
            return []
        pipe = self.r.pipeline(transaction=False)  # one slot per community: no MGET
        for i in ids:
            pipe.get(self._k(i, "community"))
        raws = self._call(pipe.execute)
        return [from_dict(Community, json.loads(raw)) for raw in raws if raw]

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
            records.setdefault(w.community_id, {})[w.id] = dumps(worker_to_dict(w))
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
        """Positions in ``ids`` grouped by the worker's community (unknown ids left out)."""
        cids = self._commands([["HMGET", self._g("index", "worker"), *ids]])[0]
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
        """Two round trips whatever the batch size: the index, then one pipeline."""
        ids = list(worker_ids)
        out: list[PositionState | None] = [None] * len(ids)
        groups = self._grouped(ids) if ids else {}
        if not groups:
            return out
        order = list(groups.items())
        commands: list[list[Arg]] = [
            ["HMGET", self._k(cid, "pos"), *[ids[i] for i in positions]] for cid, positions in order
        ]
        for (cid, positions), poss in zip(order, self._commands(commands), strict=True):
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
        commands: list[list[Arg]] = []
        for cid, mapping in groups.items():
            command: list[Arg] = ["HSET", self._k(cid, "pos")]
            for pair in mapping.items():
                command.extend(pair)
            commands.append(command)
        self._commands(commands)

    def list_workers(self, community_id: str) -> list[Worker]:
        pipe = self.r.pipeline(transaction=False)
        pipe.hgetall(self._k(community_id, "workers"))
        pipe.hgetall(self._k(community_id, "pos"))
        raws, poss = self._call(pipe.execute)
        return [_merge(worker_from_dict(json.loads(raws[k])), poss.get(k)) for k in sorted(raws)]
