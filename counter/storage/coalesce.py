"""Hits that arrive together share one round trip to the store.

Every hit is one ``record_hit.lua`` call. Under load, many hits of one worker wait for the
store at the same moment; each paying its own round trip (a connection taken from the pool,
a write, a wake-up on the reply, the client's retry and timeout wrappers) costs more Python
than the script itself. The calls queued while the event loop runs one turn go out together
as one pipeline (no MULTI: each script is atomic on its own), and each caller gets its own
reply or error. An idle worker sends a lone hit at once: it waits no timer.

On a Redis Cluster, where redis-py refuses EVALSHA inside pipelines, each call goes alone.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster
from redis.commands.core import AsyncScript
from redis.exceptions import NoScriptError

Call = tuple[Sequence[Any], Sequence[Any], "asyncio.Future[Any]"]
# Calls in one pipeline at most: after a stall, one timeout must not fail thousands of hits.
MAX_BATCH = 256


class Coalescer:
    """Runs one Lua script for many callers, one pipeline per event-loop turn."""

    def __init__(self, redis: Redis, script: AsyncScript) -> None:
        self._redis = redis
        self._script = script
        self._alone = isinstance(redis, RedisCluster)
        self._pending: list[Call] = []
        self._sending: set[asyncio.Task[None]] = set()

    async def __call__(self, keys: Sequence[Any], args: Sequence[Any]) -> Any:
        if self._alone:
            return await self._script(keys=keys, args=args)
        loop = asyncio.get_running_loop()
        if not self._pending:
            loop.call_soon(self._flush)
        future: asyncio.Future[Any] = loop.create_future()
        self._pending.append((keys, args, future))
        return await future

    def _flush(self) -> None:
        # A caller whose budget ran out while it waited for this turn has spooled its hit:
        # sending it too would only make the replay a duplicate.
        waiting = [call for call in self._pending if not call[2].done()]
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
            for _, _, future in batch:
                future.cancel()
            raise
        except Exception as exc:  # noqa: BLE001 - handed to every caller, who spools its hit
            for _, _, future in batch:
                if not future.done():
                    future.set_exception(exc)

    async def _pipeline(self, batch: list[Call]) -> list[Any]:
        sha = self._script.sha
        async with self._redis.pipeline(transaction=False) as pipe:
            for keys, args, _ in batch:
                pipe.execute_command("EVALSHA", sha, len(keys), *keys, *args)
            return list(await pipe.execute(raise_on_error=False))


def _settle(batch: list[Call], replies: list[Any], skip: type[Exception] | None = None) -> None:
    """Hand each caller its reply (an error reply as its exception), but a ``skip`` error."""
    for (_, _, future), reply in zip(batch, replies, strict=True):
        if future.done() or (skip is not None and isinstance(reply, skip)):
            continue  # its caller gave up (the hit's time budget), or it is sent again
        if isinstance(reply, Exception):
            future.set_exception(reply)
        else:
            future.set_result(reply)
