"""Reaching the store: a client with a time budget, in the mode the settings name, and the
embedded server when no URL is given."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urlsplit

from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster
from redis.asyncio.retry import Retry
from redis.asyncio.sentinel import Sentinel
from redis.backoff import EqualJitterBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from counter.clock import Clock
from counter.settings import RedisMode, Settings
from counter.storage.embedded import EmbeddedRedis
from counter.storage.store import Store

log = logging.getLogger("visitor_stats.store")


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
        # redis-py's pool refuses the 101st connection in use (MaxConnectionsError, which
        # spools the hit): a worker serves up to max_connections_per_worker requests at once,
        # each holding at most one, beside its background tasks (replay, journal, reads).
        "max_connections": settings.max_connections_per_worker + 16,
    }
    if settings.redis_mode is RedisMode.cluster:
        return RedisCluster.from_url(url, **options)  # type: ignore[return-value]
    if settings.redis_mode is RedisMode.sentinel:
        # Typed from redis 8.2 on; untyped in 8.1, which the range still allows.
        sentinel = Sentinel([_host_port(url)], **options)  # type: ignore[no-untyped-call,unused-ignore]
        master: Redis = sentinel.master_for(settings.redis_sentinel_master, **options)
        return master
    return Redis.from_url(url, **options)


def _host_port(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    return parts.hostname or "127.0.0.1", parts.port or 26379


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


async def rewrite_append_only_file(redis: Redis) -> bool:
    """Ask the store to rewrite its append-only file; True when a rewrite was started.

    An expired salt leaves memory at once, but the AOF still holds the ``SET`` that wrote it
    until the file is rewritten: the aggregator calls this every 6 hours, so a salt (which
    lives at most 26 hours) is gone from disk too within 32 hours.
    """
    try:
        await redis.bgrewriteaof()
    except ResponseError as exc:
        # "already in progress" (or scheduled): a rewrite is happening anyway.
        if "progress" in str(exc) or "scheduled" in str(exc):
            return False
        raise
    return True
