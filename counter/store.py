"""The connection to the store and everything a process shares with it.

A :class:`Store` is made once per process (the API's lifespan, the aggregator's main, one CLI
command) and handed down; nothing here is created at import time.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster
from redis.asyncio.retry import Retry
from redis.asyncio.sentinel import Sentinel
from redis.backoff import EqualJitterBackoff
from redis.commands.core import AsyncScript
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from counter.clock import Clock
from counter.coalesce import Coalescer
from counter.embedded import EmbeddedRedis
from counter.errors import UnknownSite
from counter.keys import Keys, validate_site_id
from counter.scripts import Scripts
from counter.settings import RedisMode, Settings
from counter.sites import Site, SiteRegistry
from counter.spool import Outage, Spool
from counter.visitor import SaltBook

if TYPE_CHECKING:
    from counter.hits import HitMinute

log = logging.getLogger("visitor_stats.store")

SITE_CACHE_TTL = timedelta(seconds=5)
SITE_CACHE_SIZE = 10_000


def connect(settings: Settings, url: str, timeout_s: float | None = None) -> Redis:
    """A client with a time budget: explicit timeouts and one short, jittered retry.

    redis-py's defaults have no socket timeout, so a frozen server would hang a request for
    as long as the kernel keeps the connection. The hit path uses ``redis_timeout_s`` (a hit
    then waits at most about that long: a refused connection is retried once within 40 ms, a
    timed-out command never); batch work (aggregator, CLI) passes a longer ``timeout_s``
    because one pipeline carries hundreds of sites.
    """
    timeout = timeout_s or settings.redis_timeout_s
    options: dict[str, Any] = {
        "socket_timeout": timeout,
        "socket_connect_timeout": timeout,
        # Retry only what never reached the server (refused, reset): a timed-out command may
        # have run, and running a write twice would count twice.
        "retry": Retry(EqualJitterBackoff(cap=0.04, base=0.01), retries=1),
        "retry_on_error": [RedisConnectionError],
        "health_check_interval": 15,
    }
    if settings.redis_mode is RedisMode.cluster:
        return RedisCluster.from_url(url, **options)  # type: ignore[return-value]
    if settings.redis_mode is RedisMode.sentinel:
        sentinel = Sentinel([_host_port(url)], **options)  # type: ignore[no-untyped-call]
        master: Redis = sentinel.master_for(settings.redis_sentinel_master, **options)
        return master
    return Redis.from_url(url, **options)


def _host_port(url: str) -> tuple[str, int]:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    return parts.hostname or "127.0.0.1", parts.port or 26379


class SiteCache:
    """Site configs kept a few seconds per process, so a hit costs no extra round trip."""

    def __init__(self, registry: SiteRegistry, clock: Clock) -> None:
        self._registry = registry
        self._clock = clock
        self._entries: OrderedDict[str, tuple[datetime, Site | None]] = OrderedDict()

    def peek(self, site_id: str) -> Site | None:
        """The cached config, however old, without asking the store (the outage path)."""
        entry = self._entries.get(site_id)
        return entry[1] if entry is not None else None

    async def get(self, site_id: str) -> Site:
        site_id = validate_site_id(site_id)
        now = self._clock.now()
        entry = self._entries.get(site_id)
        if entry is None or now - entry[0] > SITE_CACHE_TTL:
            try:
                site: Site | None = await self._registry.get(site_id)
            except UnknownSite:
                site = None
            except RedisError:
                if entry is None:
                    raise
                site = entry[1]  # the store is down: the last known config still holds
            entry = (now, site)
            self._entries[site_id] = entry
            self._entries.move_to_end(site_id)
            while len(self._entries) > SITE_CACHE_SIZE:
                self._entries.popitem(last=False)
        if entry[1] is None:
            raise UnknownSite(site_id)
        return entry[1]

    def forget(self, site_id: str) -> None:
        self._entries.pop(site_id, None)


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


@dataclass
class Store:
    redis: Redis
    settings: Settings
    clock: Clock
    keys: Keys = field(init=False)
    scripts: Scripts = field(init=False)
    registry: SiteRegistry = field(init=False)
    sites: SiteCache = field(init=False)
    salts: SaltBook = field(init=False)
    # record_hit.lua, with the calls of one event-loop turn sent as one pipeline.
    record_hit: Coalescer = field(init=False)
    # Per site, what its hits of the current minute share (made once a minute).
    hit_minutes: dict[str, HitMinute] = field(init=False, default_factory=dict)
    # The last /api/stats answer per (site, page) and when it was read: given again for
    # ``stats_cache_s``, and served, marked stale, while the store is down.
    last_answers: OrderedDict[tuple[str, str | None], tuple[datetime, dict[str, Any]]] = field(
        init=False, default_factory=OrderedDict
    )
    # The outage spool (the API sets it up; without one, a store error reaches the caller).
    spool: Spool | None = None
    outage: Outage = field(init=False, default_factory=lambda: Outage())
    # Told how many hits wait in this process's spool, whenever that changes.
    on_spool: Callable[[int], None] | None = None
    # Told the outcome of every hit: (site id, or None when unknown, and outcome). The API
    # points it at its Prometheus counter; counter itself imports no metrics library.
    on_outcome: Callable[[str | None, str], None] | None = None

    def batch(self) -> Batch:
        return Batch(self.redis)

    def observe(self, site: str | None, outcome: str) -> None:
        if self.on_outcome is not None:
            self.on_outcome(site, outcome)

    def __post_init__(self) -> None:
        self.keys = Keys(self.settings.key_prefix)
        self.scripts = Scripts.register(self.redis)
        self.registry = SiteRegistry(self.redis, self.keys)
        self.sites = SiteCache(self.registry, self.clock)
        self.salts = SaltBook()
        self.record_hit = Coalescer(self.redis, self.scripts.record_hit)

    async def aclose(self) -> None:
        await self.redis.aclose()
        # A Sentinel-managed client does not close its connections to the sentinels.
        pool = getattr(self.redis, "connection_pool", None)
        manager = getattr(pool, "sentinel_manager", None)
        for sentinel in getattr(manager, "sentinels", ()):
            await sentinel.aclose()


@asynccontextmanager
async def open_store(
    settings: Settings, clock: Clock, timeout_s: float | None = None
) -> AsyncIterator[Store]:
    """The store of these settings: ``VISITOR_STATS_REDIS_URL``, or the embedded server of the
    data directory (attached to if running, else started here and stopped on the way out)."""
    embedded = None
    url = settings.redis_url
    if url is None:
        embedded = EmbeddedRedis(settings.data_dir).start()
        url = embedded.url
    store = Store(connect(settings, url, timeout_s), settings, clock)
    try:
        try:
            await store.scripts.load(store.redis)
        except (RedisConnectionError, RedisTimeoutError) as exc:
            # Start anyway (hits spool until the store is back); a single EVALSHA loads its
            # script on first use, and pipelines load theirs.
            log.warning("store unreachable at start (%s); scripts load later", type(exc).__name__)
        yield store
    finally:
        await store.aclose()
        if embedded is not None:
            embedded.stop()
