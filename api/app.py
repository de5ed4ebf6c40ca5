"""The ASGI application. Resources are opened and closed by the lifespan, never at import."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from redis.exceptions import RedisError
from starlette.middleware.cors import CORSMiddleware

from api import errors
from api.heap import settled_heap
from api.hotpath import HotPath
from api.limits import RequestLimits
from api.metrics import ApiMetrics, HttpMetricsMiddleware
from api.openapi import OPENAPI_PATHS
from api.responses import CORS_POLICY, RenderedAnswers
from api.routes import (
    admin,
    busuanzi,
    counter_image,
    dashboard,
    embed,
    health,
    hits,
    stats,
    stream,
)
from api.routes import metrics as metrics_route
from api.routes.stream import live_streams
from counter.access import KeyRing
from counter.clock import Clock, SystemClock
from counter.figures.stats import LAST_ANSWERS, StatsReader
from counter.record.bots import prepare as prepare_bot_filter
from counter.record.journal import Journal
from counter.record.recorder import Recorder
from counter.record.replay import run_replayer
from counter.record.replay import tick as replay_tick
from counter.record.spool import Spool
from counter.settings import Settings
from counter.storage.connection import open_store

log = logging.getLogger("visitor_stats.api")


def create_app(settings: Settings, clock: Clock | None = None) -> HotPath:
    """The whole ASGI application: the hot path in front of the FastAPI app (``.fastapi``)."""
    clock = clock or SystemClock()
    metrics = ApiMetrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        prepare_bot_filter()  # compile the bot patterns now, not on the first hit
        async with metrics.publishing(), open_store(settings, clock) as store:
            metrics.instrument(store.redis)
            try:
                await store.redis.ping()  # sets visitor_stats_redis_up from the start
            except RedisError as exc:
                log.warning("store not reachable at start: %s", type(exc).__name__)
            await store.sites.check_epoch()  # a loss later is then told from a new store
            spool = Spool(settings.data_dir / "spool", settings.spool_max_bytes)
            journal = Journal(settings.data_dir / "journal", settings.journal_max_entries)
            journal.adopt()  # what stopped workers acknowledged and no snapshot holds yet
            recorder = Recorder(
                store,
                spool,
                on_outcome=metrics.observe_hit,
                on_spool=metrics.spool_hits.set,
                journal=journal,
            )
            app.state.store = store
            app.state.settings = settings
            app.state.recorder = recorder
            app.state.stats = StatsReader(store)
            app.state.rendered = RenderedAnswers(LAST_ANSWERS)  # each answer encoded once
            app.state.access = KeyRing(store.redis, store.keys, clock)  # site keys, read tokens
            stop = asyncio.Event()
            replayer = asyncio.create_task(run_replayer(recorder, stop))
            try:
                # Streams end first: on the shutdown signal, and here at the latest.
                async with live_streams(app.state.stats, settings) as app.state.streams:
                    with settled_heap():  # all that start-up made, out of the collector's way
                        yield
            finally:
                stop.set()  # the tick under way ends within the store's time budget
                await replayer
                await app.state.stats.drain()  # the stats reads under way, before the store
                # Shutting down: hand what was spooled to the store if it answers, and make
                # what stays durable for the next process to replay.
                await replay_tick(recorder)
                spool.close()
                journal.close()
                metrics.mark_dead()

    app = FastAPI(
        title="visitor-stats",
        summary="Visitor counter for the 'Thống kê truy cập' box",
        version="0.1.0",
        lifespan=lifespan,
    )
    app.add_middleware(CORSMiddleware, **CORS_POLICY)
    app.state.metrics = metrics
    app.state.admin_guard = admin.AdminGuard(settings, clock)
    # Before anything reads a body: the admin token, the header and body caps, the deadline.
    app.add_middleware(RequestLimits, settings=settings, admin=app.state.admin_guard)
    # It times what the CORS and limits middleware answer (preflights, refusals) too.
    app.add_middleware(HttpMetricsMiddleware, metrics=metrics)
    errors.install(app, OPENAPI_PATHS)
    routes = (
        hits,
        stats,
        health,
        admin,
        metrics_route,
        embed,
        dashboard,
        busuanzi,
        counter_image,
        stream,
    )
    for module in routes:
        app.include_router(module.router)
    # Outermost, outside FastAPI itself: the hit and stats routes answer before any of its
    # layers, which cost more per request than the rest of a hit (see api/hotpath.py).
    return HotPath(app, settings)


def app_from_environment() -> HotPath:
    """The factory uvicorn's workers call: each worker process reads the same environment."""
    return create_app(Settings())
