"""The ASGI application. Resources are opened and closed by the lifespan, never at import."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.middleware.cors import CORSMiddleware

from api import errors
from api.routes import admin, health, hits, stats
from counter.clock import Clock, SystemClock
from counter.settings import Settings
from counter.store import open_store

log = logging.getLogger("visitor_stats.api")


def create_app(settings: Settings, clock: Clock | None = None) -> FastAPI:
    clock = clock or SystemClock()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with open_store(settings, clock) as store:
            app.state.store = store
            app.state.settings = settings
            yield

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
    errors.install(app)
    for module in (hits, stats, health, admin):
        app.include_router(module.router)
    return app


def app_from_environment() -> FastAPI:
    """The factory uvicorn's workers call: each worker process reads the same environment."""
    return create_app(Settings())
