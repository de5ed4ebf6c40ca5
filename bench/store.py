"""The store the in-process benchmarks measure: on the embedded server, with a fake clock."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from counter.clock import FakeClock
from counter.settings import Settings
from counter.storage.connection import open_store
from counter.storage.store import Store

STARTS = datetime(2026, 11, 25, 10, 0, tzinfo=ZoneInfo("Asia/Ho_Chi_Minh"))


@asynccontextmanager
async def bench_store(data_dir: Path, key_prefix: str) -> AsyncIterator[tuple[Store, FakeClock]]:
    """A store under ``key_prefix`` on the server of ``data_dir`` (EmbeddedRedis), its clock
    at :data:`STARTS`."""
    settings = Settings(data_dir=data_dir, key_prefix=key_prefix)
    clock = FakeClock(STARTS)
    async with open_store(settings, clock, settings.redis_batch_timeout_s) as store:
        yield store, clock
