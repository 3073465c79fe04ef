"""One pipelined asyncio connection to a single Redis server, for the request hot path.

An API process serves requests on one event loop; a blocking Redis call there must
hop to a thread, and under load that hop costs more CPU than the request's own
work (the GIL changes hands twice per call). This connection lets the loop await
Redis instead: requests write their commands to one socket in turn and a reader
task hands the replies back in order (Redis answers a connection's commands in the
order they arrived), so concurrent requests share the connection without a lock.

Replies come back as ``hiredis`` parses them with UTF-8 decoding, the same shapes
as a ``decode_responses=True`` redis-py client; an error reply comes back as a
``hiredis.ReplyError`` value (not raised), so one failed command of a pipeline
does not hide the others. A lost or unreachable server, or no answer within
``timeout_s``, raises ``StoreUnavailable``; the next call connects again.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from typing import Any
from urllib.parse import unquote, urlparse

import hiredis

from dispatch.errors import StoreUnavailable
from dispatch.store.resp import Arg, pack_commands

__all__ = ["AsyncRedisPipe", "ReplyError"]

ReplyError = hiredis.ReplyError


class _Waiter:
    """The replies one call waits for."""

    __slots__ = ("future", "replies", "wanted")

    def __init__(self, future: asyncio.Future[list[Any]], wanted: int) -> None:
        self.future = future
        self.wanted = wanted
        self.replies: list[Any] = []


class AsyncRedisPipe:
    """A pipelined connection bound to the event loop that uses it (another loop may
    take it over once that one has closed, as tests running one loop per call do).

    ``url``: ``redis://[:password@]host:port/db`` (``rediss`` is refused: the hot
    path speaks plain TCP; such deployments keep the thread path).
    """

    def __init__(self, url: str, timeout_s: float | None = 5.0) -> None:
        parts = urlparse(url)
        if parts.scheme != "redis":
            raise ValueError(f"the async pipe speaks redis:// only, not {parts.scheme}://")
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 6379
        self.db = int(parts.path.lstrip("/") or 0)
        self.username = unquote(parts.username) if parts.username else None
        self.password = unquote(parts.password) if parts.password else None
        self.timeout_s = timeout_s
        self._loop: asyncio.AbstractEventLoop | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._reader_task: asyncio.Task[None] | None = None
        self._waiting: deque[_Waiter] = deque()
        self._connecting: asyncio.Lock | None = None
        self.calls = 0  # calls made (a count tests and benchmarks read)

    async def execute(self, commands: list[list[Arg]]) -> list[Any]:
        """Send ``commands`` in one write and return their replies, in order."""
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            if self._loop is not None and not self._loop.is_closed():
                raise RuntimeError("an AsyncRedisPipe serves one running event loop at a time")
            self._bind(loop)  # first use, or its loop has closed (and its connection with it)
        self.calls += 1
        payload = pack_commands(commands)
        try:
            async with asyncio.timeout(self.timeout_s):
                writer = await self._connected()
                waiter = _Waiter(loop.create_future(), len(commands))
                self._waiting.append(waiter)
                writer.write(payload)
                return await asyncio.shield(waiter.future)
        except TimeoutError as exc:
            raise StoreUnavailable(f"Redis did not answer within {self.timeout_s} s") from exc
        except (OSError, ConnectionError, EOFError) as exc:
            raise StoreUnavailable(f"Redis is unavailable: {exc}") from exc

    def _bind(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._connecting = asyncio.Lock()
        self._writer = None
        self._reader_task = None
        self._waiting = deque()

    async def _connected(self) -> asyncio.StreamWriter:
        if self._writer is not None and not self._writer.is_closing():
            return self._writer
        assert self._connecting is not None
        async with self._connecting:
            if self._writer is not None and not self._writer.is_closing():
                return self._writer
            reader, writer = await asyncio.open_connection(self.host, self.port)
            parser = hiredis.Reader(encoding="utf-8")
            hello: list[list[Arg]] = []
            if self.password is not None:
                auth: list[Arg] = ["AUTH", self.password]
                if self.username is not None:
                    auth = ["AUTH", self.username, self.password]
                hello.append(auth)
            if self.db:
                hello.append(["SELECT", self.db])
            if hello:
                writer.write(pack_commands(hello))
                for _ in hello:
                    reply = await _read_one(reader, parser)
                    if isinstance(reply, ReplyError):
                        writer.close()
                        raise ConnectionError(f"Redis refused the connection set-up: {reply}")
            self._writer = writer
            self._waiting = deque()  # this connection's own: a lost one fails only its own
            self._reader_task = asyncio.get_running_loop().create_task(
                self._read_replies(reader, parser, writer, self._waiting)
            )
            return writer

    async def _read_replies(
        self,
        reader: asyncio.StreamReader,
        parser: Any,
        writer: asyncio.StreamWriter,
        waiting: deque[_Waiter],
    ) -> None:
        """Hand each reply to the oldest waiter; on a lost connection fail them all."""
        failure: BaseException = ConnectionError("Redis closed the connection")
        try:
            while True:
                data = await reader.read(65536)
                if not data:
                    break
                parser.feed(data)
                while (reply := parser.gets()) is not False:
                    waiter = waiting[0]
                    waiter.replies.append(reply)
                    if len(waiter.replies) == waiter.wanted:
                        waiting.popleft()
                        if not waiter.future.done():
                            waiter.future.set_result(waiter.replies)
        except (OSError, ConnectionError, hiredis.ProtocolError, IndexError) as exc:
            failure = exc
        finally:
            if self._writer is writer:
                self._writer = None
            writer.close()
            while waiting:
                waiter = waiting.popleft()
                if not waiter.future.done():
                    waiter.future.set_exception(ConnectionError(str(failure)))

    async def close(self) -> None:
        """Close the connection (waiters still queued fail as unavailable)."""
        writer, task = self._writer, self._reader_task
        self._writer = None
        if writer is not None:
            writer.close()
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task


async def _read_one(reader: asyncio.StreamReader, parser: Any) -> Any:
    while (reply := parser.gets()) is False:
        data = await reader.read(65536)
        if not data:
            raise ConnectionError("Redis closed the connection")
        parser.feed(data)
    return reply
