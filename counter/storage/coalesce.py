"""Hits that arrive together share one round trip to the store, packed once.

Every hit is one ``record_hit.lua`` call. Under load, many hits of one worker wait for the
store at the same moment; each paying its own round trip (a connection taken from the pool,
a write, a wake-up on the reply, the client's retry and timeout wrappers) costs more Python
than the script itself. The calls queued while the event loop runs one turn go out together
as one pipeline (no MULTI: each script is atomic on its own), and each caller gets its own
reply or error. An idle worker sends a lone hit at once: it waits no timer.

A call is about fifty keys and arguments, and most of them are the same for every hit of a
site in one minute (its keys, the caps, the expiries). A :class:`Template` packs those once
into the wire format (RESP), and each hit packs only its own few values: redis-py's
per-argument packing was the largest single cost of a hit (bench/hits.py, py-spy). The
pipeline's replies are read under one time budget, not one timer per reply.

On a Redis Cluster, where redis-py refuses EVALSHA inside pipelines, each call goes alone,
through redis-py, which routes it to its slot.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Sequence
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster
from redis.asyncio.connection import Connection
from redis.commands.core import AsyncScript
from redis.exceptions import NoScriptError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

# Calls in one pipeline at most: after a stall, one timeout must not fail thousands of hits.
MAX_BATCH = 256

Value = bytes | str | int


class Slot:
    """Where a :class:`Template` takes a value of its own from each call."""

    def __repr__(self) -> str:
        return "SLOT"


SLOT = Slot()


def bulk(value: Value) -> bytes:
    """One RESP bulk string, as redis-py's encoder would send ``value`` (UTF-8, ints in
    decimal). Anything else (a float, a bool, None) is a mistake, refused as redis-py does."""
    if isinstance(value, str):
        data = value.encode()
    elif isinstance(value, bytes):
        data = value
    elif isinstance(value, int) and not isinstance(value, bool):
        data = b"%d" % value
    else:
        raise TypeError(f"cannot send {type(value).__name__} {value!r} to the store")
    return b"$%d\r\n%s\r\n" % (len(data), data)


class Template:
    """One script call whose constant keys and arguments are packed once; each :meth:`pack`
    packs only the values given for its slots (in their order)."""

    def __init__(self, script: AsyncScript, keys: Sequence[str], args: Sequence[Value | Slot]):
        self.keys = tuple(keys)
        self.args = tuple(args)
        head = [b"*%d\r\n" % (3 + len(self.keys) + len(self.args))]
        head += [bulk(b"EVALSHA"), bulk(script.sha), bulk(len(self.keys))]
        head += [bulk(k) for k in self.keys]
        chunks: list[bytes] = []
        for arg in self.args:
            if isinstance(arg, Slot):
                chunks.append(b"".join(head))
                head = []
            else:
                head.append(bulk(arg))
        chunks.append(b"".join(head))
        self._first, self._rest = chunks[0], chunks[1:]

    def pack(self, values: Sequence[Value]) -> bytes:
        if len(values) != len(self._rest):
            raise ValueError(f"{len(self._rest)} values wanted, {len(values)} given")
        out = [self._first]
        for value, chunk in zip(values, self._rest, strict=True):
            out.append(bulk(value))
            out.append(chunk)
        return b"".join(out)

    def arguments(self, values: Sequence[Value]) -> list[Value]:
        """The call's arguments with the slots filled, for redis-py (a Cluster)."""
        given = iter(values)
        return [next(given) if isinstance(arg, Slot) else arg for arg in self.args]


Call = tuple[bytes, "asyncio.Future[Any]"]


class Coalescer:
    """Runs one Lua script for many callers, one pipeline per event-loop turn."""

    def __init__(self, redis: Redis, script: AsyncScript) -> None:
        self._redis = redis
        self._script = script
        self._alone = isinstance(redis, RedisCluster)
        self._pending: list[Call] = []
        self._sending: set[asyncio.Task[None]] = set()

    def template(self, keys: Sequence[str], args: Sequence[Value | Slot]) -> Template:
        return Template(self._script, keys, args)

    async def __call__(self, template: Template, values: Sequence[Value]) -> Any:
        if self._alone:
            return await self._script(keys=template.keys, args=template.arguments(values))
        loop = asyncio.get_running_loop()
        if not self._pending:
            loop.call_soon(self._flush)
        future: asyncio.Future[Any] = loop.create_future()
        self._pending.append((template.pack(values), future))
        return await future

    def _flush(self) -> None:
        # A caller whose budget ran out while it waited for this turn has spooled its hit:
        # sending it too would only make the replay a duplicate.
        waiting = [call for call in self._pending if not call[1].done()]
        self._pending = []
        for start in range(0, len(waiting), MAX_BATCH):
            task = asyncio.ensure_future(self._send(waiting[start : start + MAX_BATCH]))
            # Held until done: the loop keeps only weak references to tasks.
            self._sending.add(task)
            task.add_done_callback(self._sending.discard)

    async def _send(self, batch: list[Call]) -> None:
        try:
            replies = await self._pipeline(batch)
            _settle(batch, replies, skip=NoScriptError)
            missing = [
                call
                for call, reply in zip(batch, replies, strict=True)
                if isinstance(reply, NoScriptError)
            ]
            if missing:
                # The server lost its script cache (a restart, SCRIPT FLUSH): those calls did
                # not run, so they are sent again once the script is loaded.
                await self._redis.script_load(self._script.script)
                _settle(missing, await self._pipeline(missing))
        except asyncio.CancelledError:
            for _, future in batch:
                future.cancel()
            raise
        except Exception as exc:  # noqa: BLE001 - handed to every caller, who spools its hit
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)

    async def _pipeline(self, batch: list[Call]) -> list[Any]:
        """The calls' replies (an error reply as its exception), as redis-py's pipeline
        would give them: on one pooled connection, retried as the client's retry policy says
        (each call's hit id makes a call that ran twice count once)."""
        pool = self._redis.connection_pool
        connection: Connection = await pool.get_connection()  # type: ignore[no-untyped-call]
        try:
            packed = b"".join(command for command, _ in batch)
            return await connection.retry.call_with_retry(
                lambda: _exchange(connection, packed, len(batch)),
                lambda _error: connection.disconnect(),
            )
        finally:
            await pool.release(connection)


async def _exchange(connection: Connection, packed: bytes, count: int) -> list[Any]:
    await connection.send_packed_command(packed)
    replies: list[Any] = []
    # One budget for all the replies: each read under its own timer cost a timer per call.
    # A budget that runs out mid-read leaves the connection closed (read_response closes it
    # on any interruption), never out of step.
    try:
        async with asyncio.timeout(connection.socket_timeout):
            for _ in range(count):
                try:
                    replies.append(await connection.read_response(timeout=math.inf))
                except ResponseError as error:
                    replies.append(error)
    except TimeoutError:
        # As redis-py names it: the store's metrics and retry policy know this one.
        raise RedisTimeoutError("Timeout reading from the store") from None
    return replies


def _settle(batch: list[Call], replies: list[Any], skip: type[Exception] | None = None) -> None:
    """Hand each caller its reply (an error reply as its exception), but a ``skip`` error."""
    for (_, future), reply in zip(batch, replies, strict=True):
        if future.done() or (skip is not None and isinstance(reply, skip)):
            continue  # its caller gave up (the hit's time budget), or it is sent again
        if isinstance(reply, Exception):
            future.set_exception(reply)
        else:
            future.set_result(reply)
