"""``GET /api/stats/stream`` over real HTTP: uvicorn on a loopback port, in the test's event
loop (httpx's ASGITransport gives a response only once its body is whole), on the real store.

The aggregation interval is an hour, so the hub's watchers read only when a stream opens;
``hub.poll(site)`` stands for an interval passing.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import orjson
import pytest
import uvicorn

from aggregator.rollup import run_pass
from api.app import create_app
from api.hotpath import HotPath
from api.limits import uvicorn_options
from counter.clock import FakeClock
from counter.figures.stream import StatsHub
from counter.record.recorder import Recorder
from counter.settings import Settings
from counter.sites import Site
from counter.storage.store import Store
from tests.helpers import hit
from tests.servers import free_port

GUARD_S = 10  # a hang fails the test instead of holding the suite; nothing waits for it


@pytest.fixture
def stream_settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={"aggregate_interval_s": 3600, "stats_cache_s": 0, "streams_per_worker": 3}
    )


@pytest.fixture
def quiet_sigterm() -> Iterator[None]:
    """uvicorn raises a SIGTERM it caught again once it stopped; let that one do nothing."""
    previous = signal.signal(signal.SIGTERM, lambda *_: None)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@dataclass
class Live:
    server: uvicorn.Server
    task: asyncio.Task[None]
    app: HotPath
    http: httpx.AsyncClient

    @property
    def hub(self) -> StatsHub:
        hub: StatsHub = self.app.fastapi.state.streams
        return hub


@pytest.fixture
async def live(
    stream_settings: Settings, clock: FakeClock, store: Store, quiet_sigterm: None
) -> AsyncIterator[Live]:
    app = create_app(stream_settings, clock)
    port = free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", **uvicorn_options(stream_settings)
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    await _until(lambda: server.started)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=GUARD_S) as http:
        yield Live(server, task, app, http)
    server.should_exit = True
    if not task.done():
        await app.fastapi.state.streams.aclose()  # the lifespan's end, for what is still open
    async with asyncio.timeout(GUARD_S):
        await task


class Events:
    """The blocks of one open event stream, comments and the retry block included."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self.lines = response.aiter_lines()

    async def block(self) -> list[str] | None:
        block: list[str] = []
        async with asyncio.timeout(GUARD_S):
            async for line in self.lines:
                if line == "":
                    if block:
                        return block
                    continue
                block.append(line)
        return None  # the stream ended

    async def stats(self) -> dict[str, Any]:
        """The next ``stats`` event's data, passing over comments and ``retry:``."""
        while True:
            block = await self.block()
            assert block is not None, "the stream ended"
            if block[0] == "event: stats":
                assert block[1].startswith("data: ")
                data: dict[str, Any] = orjson.loads(block[1][len("data: ") :])
                return data


@asynccontextmanager
async def opened(http: httpx.AsyncClient, site: str = "demo.local") -> AsyncIterator[Events]:
    headers = {"Accept": "text/event-stream", "Origin": "https://demo.local"}
    async with http.stream("GET", "/api/stats/stream", params={"site": site}, headers=headers) as r:
        assert r.status_code == 200
        yield Events(r)


async def new_summary(recorder: Recorder, store: Store, clock: FakeClock, ip: str) -> None:
    """A visit recorded, then the pass that writes the summary, as the aggregator runs it."""
    await hit(recorder, "/a", ip=ip)
    await run_pass(store, clock.now())


async def test_the_first_event_carries_what_api_stats_answers(
    live: Live, site: Site, recorder: Recorder, store: Store, clock: FakeClock
) -> None:
    await new_summary(recorder, store, clock, "198.51.100.1")
    stats = (await live.http.get("/api/stats", params={"site": site.id})).json()
    async with opened(live.http) as events:
        headers = events.response.headers
        assert headers["content-type"].startswith("text/event-stream")
        assert headers["cache-control"] == "no-store"
        assert headers["x-accel-buffering"] == "no"
        assert headers["access-control-allow-origin"] == "*"
        assert await events.block() == ["retry: 3000"]
        first = await events.stats()
    assert first == stats
    assert first["today"] == 1


async def test_a_new_summary_gives_one_new_event_and_none_while_nothing_changed(
    live: Live, site: Site, recorder: Recorder, store: Store, clock: FakeClock
) -> None:
    await run_pass(store, clock.now())
    async with opened(live.http) as events:
        first = await events.stats()
        await live.hub.poll(site.id)  # an interval with no pass: nothing to tell
        clock.advance(seconds=5)
        await run_pass(store, clock.now())  # a later pass over the same figures: nor that
        await live.hub.poll(site.id)
        await new_summary(recorder, store, clock, "198.51.100.2")
        await live.hub.poll(site.id)
        second = await events.stats()  # the next event is the changed one, no repeat before
    assert first["today"] == 0
    assert second["today"] == 1


async def test_many_listeners_of_a_site_cost_one_store_read_per_interval(
    live: Live, site: Site, store: Store
) -> None:
    live.hub.max_listeners = 20
    firsts: list[dict[str, Any]] = []
    all_heard, done = asyncio.Event(), asyncio.Event()

    async def listen() -> None:
        async with opened(live.http) as events:
            firsts.append(await events.stats())
            if len(firsts) == 20:
                all_heard.set()
            await done.wait()

    async with asyncio.TaskGroup() as group:
        for _ in range(20):
            group.create_task(listen())
        async with asyncio.timeout(GUARD_S):
            await all_heard.wait()
        before = await store.redis.info("commandstats")
        await live.hub.poll(site.id)  # two intervals
        await live.hub.poll(site.id)
        after = await store.redis.info("commandstats")
        done.set()
    # The read when the site was first watched, then one per interval, for all 20.
    assert live.hub.reads == 3
    # On the server itself: the two intervals were two GETs of the summary, nothing more.
    assert after["cmdstat_get"]["calls"] - before["cmdstat_get"]["calls"] == 2


async def _until(predicate: Any) -> None:
    """Wait for what uvicorn and the hub announce by no event (listening; a slot freed)."""
    async with asyncio.timeout(GUARD_S):
        while not predicate():  # noqa: ASYNC110 - no event to wait on; a condition, not time
            await asyncio.sleep(0.01)


async def test_a_stream_beyond_the_cap_gets_503_and_a_disconnect_frees_its_slot(
    live: Live, site: Site
) -> None:
    async with opened(live.http) as a, opened(live.http) as b, opened(live.http) as c:
        for events in (a, b, c):
            await events.stats()
        refused = await live.http.get("/api/stats/stream", params={"site": site.id})
        assert refused.status_code == 503
        assert "3 live streams" in refused.json()["detail"]
        assert refused.headers["retry-after"] == "5"
    await _until(lambda: live.hub.open_streams == 0)  # the three left when their clients did
    async with opened(live.http) as events:
        assert (await events.stats())["site"] == site.id


async def test_unknown_site_is_404_and_a_bad_id_400_before_any_stream(
    live: Live, site: Site
) -> None:
    unknown = await live.http.get("/api/stats/stream", params={"site": "nowhere.example"})
    assert unknown.status_code == 404
    assert "unknown site" in unknown.json()["detail"]
    bad = await live.http.get("/api/stats/stream", params={"site": "a{b}"})
    assert bad.status_code == 400
    assert bad.json()["detail"]
    assert live.hub.open_streams == 0


async def test_an_idle_stream_gets_keep_alive_comments(live: Live, site: Site) -> None:
    live.hub.keep_alive_s = 0.05
    async with opened(live.http) as events:
        await events.stats()
        assert await events.block() == [": keep-alive"]


async def test_a_shutdown_signal_ends_every_stream_and_the_server_stops(
    live: Live, site: Site
) -> None:
    async with opened(live.http) as a, opened(live.http) as b:
        await a.stats()
        await b.stats()
        signal.raise_signal(signal.SIGTERM)  # uvicorn's handler, and the hub's chained to it
        assert await a.block() is None
        assert await b.block() is None
    async with asyncio.timeout(GUARD_S):
        await live.task  # uvicorn waited for no open response
    assert live.hub.open_streams == 0


async def test_the_route_is_in_the_openapi_as_an_event_stream(live: Live) -> None:
    schema = (await live.http.get("/openapi.json")).json()
    answers = schema["paths"]["/api/stats/stream"]["get"]["responses"]
    assert "text/event-stream" in answers["200"]["content"]
    assert {"400", "404", "503"} <= set(answers)
