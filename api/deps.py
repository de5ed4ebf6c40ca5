"""Dependencies: the process's Store and Settings, made in the lifespan, read per request."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from counter.settings import Settings
from counter.store import Store


# async on purpose: FastAPI runs a plain `def` dependency in a worker thread, which cost more
# than the whole hit (a thread hand-off per dependency per request).
async def get_store(request: Request) -> Store:
    store: Store = request.app.state.store
    return store


async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


StoreDep = Annotated[Store, Depends(get_store)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
