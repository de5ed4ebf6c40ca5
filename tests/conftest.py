"""Fixtures: a real store, an isolated key prefix per test, a fake clock, the app."""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
import redis.asyncio

from api.app import create_app
from counter.clock import FakeClock
from counter.figures.stats import StatsReader
from counter.record.recorder import Recorder
from counter.settings import Settings
from counter.sites import Site, make_site
from counter.storage.connection import connect
from counter.storage.store import Store
from tests.servers import ValkeyProcess

VN = ZoneInfo("Asia/Ho_Chi_Minh")
# Wednesday 25 November 2026, 10:00 in Hà Nội.
START = datetime(2026, 11, 25, 10, 0, tzinfo=VN)


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    given = os.environ.get("VISITOR_STATS_REDIS_URL")
    if given:
        yield given
        return
    server = ValkeyProcess(tmp_path_factory.mktemp("valkey")).start()
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture
def settings(redis_url: str, tmp_path: Path) -> Settings:
    return Settings(
        redis_url=redis_url,
        key_prefix=f"t{secrets.token_hex(6)}",
        data_dir=tmp_path / "var",
        admin_token="test-admin-token-0123456789",
        # In-process tests run the client and the app on one event loop, with bursts of a
        # hundred requests on a busy CI machine: loop lag, not the store, would overrun the
        # production budget and spool. The budget itself is tested in tests/faults and the
        # ledger test, with the production defaults.
        redis_timeout_s=2.0,
        hit_budget_s=3.0,
    )


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


async def _delete_prefix(url: str, prefix: str) -> None:
    """Delete this test's keys, and only them: the prefix is unique to the test."""
    assert prefix.startswith("t") and len(prefix) == 13, "refusing to delete keys we do not own"
    client = redis.asyncio.Redis.from_url(url)
    try:
        batch = [key async for key in client.scan_iter(match=f"{prefix}:*", count=1000)]
        for start in range(0, len(batch), 500):
            await client.delete(*batch[start : start + 500])
    finally:
        await client.aclose()


@pytest.fixture
async def store(settings: Settings, clock: FakeClock) -> AsyncIterator[Store]:
    assert settings.redis_url is not None
    store = Store(connect(settings, settings.redis_url), settings, clock)
    try:
        yield store
    finally:
        await store.aclose()
        await _delete_prefix(settings.redis_url, settings.key_prefix)


@pytest.fixture
def recorder(store: Store) -> Recorder:
    """The hit path of one process, without a spool (a store error reaches the caller)."""
    return Recorder(store)


@pytest.fixture
def reader(store: Store) -> StatsReader:
    """A worker's stats reads, with its short-lived copies of each answer."""
    return StatsReader(store)


@pytest.fixture
async def site(store: Store) -> Site:
    site = make_site(id="demo.local", domains=["demo.local", "*.demo.local"])
    await store.registry.put(site)
    return site


@pytest.fixture
async def client(
    settings: Settings, clock: FakeClock, store: Store
) -> AsyncIterator[httpx.AsyncClient]:
    """The real app over ASGI, its lifespan run, on the same store and clock as ``store``."""
    app = create_app(settings, clock)
    async with app.fastapi.router.lifespan_context(app.fastapi):
        transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 50000))
        async with httpx.AsyncClient(transport=transport, base_url="http://stats.test") as http:
            yield http
