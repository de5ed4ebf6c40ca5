"""Commands and script calls sent together: one round trip for a whole aggregation phase."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster
from redis.commands.core import AsyncScript


class Batch:
    """Commands sent together: one pipelined round trip on a single server. On a Cluster,
    where redis-py refuses EVALSHA inside pipelines, concurrent calls each routed to its
    slot's node (still one network wait, not one per command)."""

    CONCURRENCY = 64

    def __init__(self, redis: Redis) -> None:
        self._redis = redis
        self._calls: list[tuple[AsyncScript | str, Sequence[Any], dict[str, Any]]] = []

    def command(self, name: str, *args: Any, **kwargs: Any) -> None:
        self._calls.append((name, args, kwargs))

    def script(self, script: AsyncScript, keys: Sequence[Any], args: Sequence[Any]) -> None:
        self._calls.append((script, keys, {"args": args}))

    def __len__(self) -> int:
        return len(self._calls)

    async def execute(self) -> list[Any]:
        if not self._calls:
            return []
        if isinstance(self._redis, RedisCluster):
            return await self._concurrently()
        async with self._redis.pipeline(transaction=False) as pipe:
            for target, args, kwargs in self._calls:
                if isinstance(target, str):
                    getattr(pipe, target)(*args, **kwargs)
                else:
                    await target(keys=args, args=kwargs["args"], client=pipe)
            return list(await pipe.execute())

    async def _concurrently(self) -> list[Any]:
        limit = asyncio.Semaphore(self.CONCURRENCY)

        async def one(
            target: AsyncScript | str, args: Sequence[Any], kwargs: dict[str, Any]
        ) -> Any:
            async with limit:
                if isinstance(target, str):
                    return await getattr(self._redis, target)(*args, **kwargs)
                return await target(keys=args, args=kwargs["args"])

        return list(await asyncio.gather(*(one(*call) for call in self._calls)))
