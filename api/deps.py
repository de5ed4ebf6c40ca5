"""Dependencies: what the lifespan made for this process (the store, its settings, the
hit recorder, the stats reader), read per request."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from counter.figures.stats import StatsReader
from counter.record.recorder import Recorder
from counter.settings import Settings
from counter.storage.store import Store


# async on purpose: FastAPI runs a plain `def` dependency in a worker thread, which cost more
# than the whole hit (a thread hand-off per dependency per request).
async def get_store(request: Request) -> Store:
    store: Store = request.app.state.store
    return store


async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_recorder(request: Request) -> Recorder:
    recorder: Recorder = request.app.state.recorder
    return recorder


async def get_stats(request: Request) -> StatsReader:
    reader: StatsReader = request.app.state.stats
    return reader


StoreDep = Annotated[Store, Depends(get_store)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
RecorderDep = Annotated[Recorder, Depends(get_recorder)]
StatsDep = Annotated[StatsReader, Depends(get_stats)]
