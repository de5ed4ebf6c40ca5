"""Fixtures of the fault tests: a store of the test's own, and the app on it."""

from __future__ import annotations

import os
import secrets
import signal
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from api.app import create_app
from counter.clock import FakeClock
from counter.record.recorder import Recorder
from counter.settings import Settings
from counter.sites import make_site
from tests.servers import StoreProcess, own_store_process


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """The app's data directory (its spool); a test module may give its own."""
    return tmp_path / "var"


@pytest.fixture
async def own_store(tmp_path: Path) -> AsyncIterator[StoreProcess]:
    """A server of this test alone, so the test may stop, freeze, flush and restart it: a
    redis-server when the run is on one (``make test-redis``), the embedded Valkey otherwise."""
    server = own_store_process(tmp_path / "store").start()
    try:
        yield server
    finally:
        if server.process is not None:
            os.kill(server.process.pid, signal.SIGCONT)
        server.stop()


@pytest.fixture
async def app_client(
    own_store: StoreProcess, data_dir: Path, clock: FakeClock
) -> AsyncIterator[tuple[httpx.AsyncClient, Recorder]]:
    settings = Settings(
        redis_url=own_store.url, key_prefix=f"t{secrets.token_hex(6)}", data_dir=data_dir
    )
    app = create_app(settings, clock)
    async with app.fastapi.router.lifespan_context(app.fastapi):
        recorder: Recorder = app.fastapi.state.recorder
        await recorder.store.registry.put(make_site(id="demo.local", domains=["demo.local"]))
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
        async with httpx.AsyncClient(transport=transport, base_url="http://stats.test") as http:
            yield http, recorder
