"""The ASGI application. Resources are opened and closed by the lifespan, never at import."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from redis.exceptions import RedisError
from starlette.middleware.cors import CORSMiddleware

from api import errors, hotpath
from api.hotpath import HotPath
from api.metrics import ApiMetrics, HttpMetricsMiddleware
from api.routes import admin, embed, health, hits, stats
from api.routes import metrics as metrics_route
from counter.clock import Clock, SystemClock
from counter.replay import run_replayer
from counter.replay import tick as replay_tick
from counter.settings import Settings
from counter.spool import Spool
from counter.store import open_store

log = logging.getLogger("visitor_stats.api")


def create_app(settings: Settings, clock: Clock | None = None) -> HotPath:
    """The whole ASGI application: the hot path in front of the FastAPI app (``.fastapi``)."""
    clock = clock or SystemClock()
    metrics = ApiMetrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with open_store(settings, clock) as store:
            app.state.store = store
            app.state.settings = settings
            store.on_outcome = metrics.observe_hit
            metrics.instrument(store.redis)
            try:
                await store.redis.ping()  # sets visitor_stats_redis_up from the start
            except RedisError as exc:
                log.warning("store not reachable at start: %s", type(exc).__name__)
            store.spool = Spool(settings.data_dir / "spool", settings.spool_max_bytes)
            store.on_spool = metrics.spool_hits.set
            replayer = asyncio.create_task(run_replayer(store))
            try:
                yield
            finally:
                replayer.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await replayer
                # Shutting down: hand what was spooled to the store if it answers, and make
                # what stays durable for the next process to replay.
                await replay_tick(store)
                store.spool.close()
                metrics.mark_dead()

    app = FastAPI(
        title="visitor-stats",
        summary="Visitor counter for the 'Thống kê truy cập' box",
        version="0.1.0",
        lifespan=lifespan,
    )
    # The snippet calls from every tracked portal; no cookies cross, so any origin may read.
    # Whether a hit's origin belongs to its site is checked per hit, not here.
    app.add_middleware(
        CORSMiddleware,
        allow_origins=["*"],
        allow_methods=["GET", "POST"],
        allow_headers=["Content-Type"],
        max_age=86400,
    )
    app.state.metrics = metrics
    # It times what the CORS middleware answers (preflights) too.
    app.add_middleware(HttpMetricsMiddleware, metrics=metrics)
    errors.install(app, hotpath.OPENAPI_PATHS)
    for module in (hits, stats, health, admin, metrics_route, embed):
        app.include_router(module.router)
    # Outermost, outside FastAPI itself: the hit and stats routes answer before any of its
    # layers, which cost more per request than the rest of a hit (see api/hotpath.py).
    return HotPath(app)


def app_from_environment() -> HotPath:
    """The factory uvicorn's workers call: each worker process reads the same environment."""
    return create_app(Settings())
