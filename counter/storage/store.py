"""A process's handle on the store: the client, its scripts, its key names and the sites.

A :class:`Store` is made once per process (the API's lifespan, the aggregator's main, one CLI
command: :func:`counter.storage.connection.open_store`) and handed down; nothing here is
created at import time. What one process keeps for its hits or its reads belongs to the
object that uses it (``counter.record.recorder.Recorder``,
``counter.figures.stats.StatsReader``), not here.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from redis.asyncio import Redis

from counter.clock import Clock
from counter.keys import Keys
from counter.settings import Settings
from counter.sites import SiteCache, SiteRegistry
from counter.storage.batch import Batch
from counter.storage.scripts import Scripts


@dataclass(eq=False)
class Store:
    redis: Redis
    settings: Settings
    clock: Clock
    keys: Keys = field(init=False)
    scripts: Scripts = field(init=False)
    registry: SiteRegistry = field(init=False)
    sites: SiteCache = field(init=False)

    def __post_init__(self) -> None:
        self.keys = Keys(self.settings.key_prefix)
        self.scripts = Scripts.register(self.redis)
        self.registry = SiteRegistry(self.redis, self.keys)
        self.sites = SiteCache(self.registry, self.clock)

    def batch(self) -> Batch:
        return Batch(self.redis)

    async def aclose(self) -> None:
        await self.redis.aclose()
        # A Sentinel-managed client does not close its connections to the sentinels.
        pool = getattr(self.redis, "connection_pool", None)
        manager = getattr(pool, "sentinel_manager", None)
        for sentinel in getattr(manager, "sentinels", ()):
            await sentinel.aclose()
