"""The store goes away under the app: hits are acknowledged, spooled and counted once."""

from __future__ import annotations

import os
import signal
import subprocess

import httpx
import redis.asyncio

from counter.clock import FakeClock
from counter.record.recorder import Recorder
from counter.record.replay import tick
from tests.helpers import BROWSER_A
from tests.servers import StoreProcess


async def send(http: httpx.AsyncClient, n: int, url: str | None = None) -> httpx.Response:
    return await http.post(
        "/api/hit",
        json={"site": "demo.local", "url": url or f"/p{n % 3}"},
        headers={
            "Origin": "https://demo.local",
            "User-Agent": BROWSER_A,
            "X-Forwarded-For": f"198.51.100.{n}",
        },
    )


async def counted(recorder: Recorder) -> int:
    store = recorder.store
    return int(await store.redis.hget(store.keys.site("demo.local").totals, "pageviews") or 0)


async def test_hits_while_the_store_is_down_are_spooled_and_counted_once_it_is_back(
    own_store: StoreProcess, app_client: tuple[httpx.AsyncClient, Recorder]
) -> None:
    http, recorder = app_client
    assert [(await send(http, n)).status_code for n in range(3)] == [200] * 3
    own_store.stop()
    answers = [await send(http, n) for n in range(3, 10)]
    assert [a.status_code for a in answers] == [202] * 7
    assert answers[0].json() == {"accepted": True, "spooled": True}
    assert recorder.spool is not None
    assert recorder.spool.pending == 7
    ready = (await http.get("/readyz")).json()
    assert (ready["status"], ready["spooled"]) == ("degraded", 7)
    stats = await http.get("/api/stats", params={"site": "demo.local"})
    assert stats.status_code in (200, 503)  # the last answer if this process gave one
    spool_files = list((recorder.store.settings.data_dir / "spool").glob("*.jsonl"))
    assert spool_files
    text = b"".join(p.read_bytes() for p in spool_files)
    assert b"198.51.100" not in text
    assert BROWSER_A.encode() not in text

    own_store.start()  # same port, same AOF: the first three are still there
    await tick(recorder)
    assert await counted(recorder) == 10
    assert recorder.spool.pending == 0
    scrape = (await http.get("/metrics")).text
    assert "visitor_stats_spool_replayed_total 7.0" in scrape
    assert "visitor_stats_spool_hits 0.0" in scrape
    await tick(recorder)  # nothing left; a second round changes nothing
    assert await counted(recorder) == 10


async def test_a_replay_repeated_after_a_crash_counts_nothing_twice(
    own_store: StoreProcess, app_client: tuple[httpx.AsyncClient, Recorder]
) -> None:
    http, recorder = app_client
    own_store.stop()
    for n in range(5):
        assert (await send(http, n)).status_code == 202
    assert recorder.spool is not None
    own_store.start()
    [path] = recorder.spool.claim()
    gone = subprocess.run(["sh", "-c", "echo $$"], capture_output=True, text=True, check=True)  # noqa: ASYNC221
    # A process that has exited "left" a copy of the same file.
    copy = path.with_name(f"spool-{int(gone.stdout)}-copy.jsonl")
    copy.write_bytes(path.read_bytes())
    await tick(recorder)
    assert await counted(recorder) == 5
    assert not list(path.parent.glob("*.jsonl"))


async def test_stats_keep_answering_stale_while_the_store_is_frozen(
    own_store: StoreProcess, app_client: tuple[httpx.AsyncClient, Recorder]
) -> None:
    http, recorder = app_client
    await send(http, 1)
    fresh = await http.get("/api/stats", params={"site": "demo.local"})
    assert fresh.status_code == 200
    assert own_store.process is not None
    os.kill(own_store.process.pid, signal.SIGSTOP)
    try:
        frozen = await http.get("/api/stats", params={"site": "demo.local"})
        hit = await send(http, 2)
    finally:
        os.kill(own_store.process.pid, signal.SIGCONT)
    assert frozen.status_code == 200
    assert frozen.json()["stale"] is True
    assert frozen.json()["pageviews"] == fresh.json()["pageviews"]
    assert hit.status_code == 202
    await tick(recorder)
    assert await counted(recorder) == 2


async def test_a_page_past_its_window_answers_its_copy_stale_while_the_store_is_frozen(
    own_store: StoreProcess, app_client: tuple[httpx.AsyncClient, Recorder], clock: FakeClock
) -> None:
    """A page's copy in its stale window with no box of the site at hand: the box read fails,
    and the page's copy is answered, marked stale, as the store's outage is."""
    http, recorder = app_client
    await send(http, 1)
    page = {"site": "demo.local", "url": "/p1"}
    fresh = await http.get("/api/stats", params=page)
    clock.advance(seconds=recorder.store.settings.stats_cache_s)
    assert own_store.process is not None
    os.kill(own_store.process.pid, signal.SIGSTOP)
    try:
        frozen = await http.get("/api/stats", params=page)
    finally:
        os.kill(own_store.process.pid, signal.SIGCONT)
    assert frozen.status_code == 200
    assert frozen.json() == {**fresh.json(), "stale": True}


async def test_the_spool_keeps_only_the_path_that_would_be_stored(
    own_store: StoreProcess, app_client: tuple[httpx.AsyncClient, Recorder]
) -> None:
    http, recorder = app_client
    await send(http, 1)  # the site's config is now known to this process
    own_store.stop()
    secret = "https://demo.local/p1/index.html?email=a%40b.vn&token=s3cr3t#top"
    assert (await send(http, 2, secret)).status_code == 202
    foreign = await send(http, 3, "https://elsewhere.example/p1")
    assert foreign.status_code == 400  # judged as it would be live: not one of the site's hosts
    text = b"".join(p.read_bytes() for p in (recorder.store.settings.data_dir / "spool").glob("*"))
    assert b"s3cr3t" not in text and b"email" not in text and b"#top" not in text
    assert b'"url":"/p1/"' in text
    own_store.start()
    await tick(recorder)
    assert await counted(recorder) == 2


async def test_the_owned_store_is_the_server_the_run_is_on(
    own_store: StoreProcess, redis_url: str
) -> None:
    """Under scripts/with-redis the fault tests kill and flush a redis-server too, not Valkey."""

    async def server_of(url: str) -> tuple[object, object]:
        client = redis.asyncio.Redis.from_url(url)
        try:
            info = await client.info("server")
        finally:
            await client.aclose()
        return info.get("server_name", "redis"), str(info["redis_version"]).split(".")[0]

    assert await server_of(own_store.url) == await server_of(redis_url)
