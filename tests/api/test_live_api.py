"""Who reads what now: online per page, the pages being read (GET /api/stats/live), and
crawlers online counted apart (issue 13 §4)."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest

from aggregator.rollup import run_pass
from counter.clock import FakeClock
from counter.record.hit import Event, Hit
from counter.record.recorder import Recorder
from counter.sites import Site
from counter.storage.store import Store
from tests.helpers import BROWSER_A, GOOGLEBOT, hit

BINGBOT = "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)"


async def page_online(client: httpx.AsyncClient, url: str) -> int:
    answer = await client.get("/api/stats", params={"site": "demo.local", "url": url})
    assert answer.status_code == 200
    return int(answer.json()["page_online"])


async def test_a_visitor_online_counts_on_the_page_of_its_last_pageview_or_heartbeat(
    client: httpx.AsyncClient, store: Store, recorder: Recorder, site: Site, clock: FakeClock
) -> None:
    for n in range(3):
        await hit(recorder, "/a", ip=f"198.51.100.{n}")
    await hit(recorder, "/b", ip="198.51.100.9")
    clock.advance(timedelta(seconds=20))
    await hit(recorder, "/b", ip="198.51.100.0")  # moved on from /a
    await hit(recorder, "/c", ip="198.51.100.1", event=Event.heartbeat)  # reading /c now
    await run_pass(store, clock.now())
    assert [await page_online(client, url) for url in ("/a", "/b", "/c", "/d")] == [1, 2, 1, 0]
    stats = (await client.get("/api/stats", params={"site": "demo.local"})).json()
    assert stats["online"] == 4 and "page_online" not in stats  # the site's, without a url


async def test_an_older_replayed_hit_does_not_move_a_visitor_back_to_its_page(
    client: httpx.AsyncClient, store: Store, recorder: Recorder, site: Site, clock: FakeClock
) -> None:
    await hit(recorder, "/new", ip="198.51.100.1")
    clock.advance(timedelta(seconds=-30))  # a spooled hit of half a minute ago, replayed now
    await hit(recorder, "/old", ip="198.51.100.1")
    clock.advance(timedelta(seconds=30))
    await run_pass(store, clock.now())
    assert (await page_online(client, "/new"), await page_online(client, "/old")) == (1, 0)


async def test_the_pages_being_read_now_are_ranked_by_readers_with_their_titles(
    client: httpx.AsyncClient, store: Store, recorder: Recorder, site: Site, clock: FakeClock
) -> None:
    readers = {"/tin-tuc/1": 3, "/tin-tuc/2": 1, "/tin-tuc/3": 2}
    n = 0
    for url, count in readers.items():
        for _ in range(count):
            n += 1
            await recorder.record(
                Hit(
                    site="demo.local",
                    url=url,
                    client_ip=f"198.51.100.{n}",
                    user_agent=BROWSER_A,
                    origin="https://demo.local",
                    title=f"Tin {url[-1]}",
                )
            )
    await run_pass(store, clock.now())
    answer = await client.get("/api/stats/live", params={"site": "demo.local", "limit": 2})
    assert answer.status_code == 200
    assert answer.json() == {
        "site": "demo.local",
        "pages": [
            {"url": "/tin-tuc/1", "title": "Tin 1", "online": 3},
            {"url": "/tin-tuc/3", "title": "Tin 3", "online": 2},
        ],
    }
    # Past the online window nobody reads anything; past the session the pages are let go.
    clock.advance(timedelta(seconds=site.online_window_s + 1))
    await run_pass(store, clock.now())
    empty = await client.get("/api/stats/live", params={"site": "demo.local"})
    assert empty.json()["pages"] == []
    keys = store.keys.site(site.id)
    assert await store.redis.hlen(keys.reading) == 6
    clock.advance(timedelta(seconds=site.session_timeout_s))
    await run_pass(store, clock.now())
    assert await store.redis.hlen(keys.reading) == 0


@pytest.mark.parametrize(
    ("params", "status", "detail"),
    [
        ({"site": "nope.local"}, 404, "unknown site"),
        ({"site": "demo.local", "limit": "0"}, 400, "limit"),
        ({"site": "demo.local", "limit": "51"}, 400, "limit"),
        ({"site": "demo{x}"}, 400, "site id"),
        ({}, 400, "site"),
    ],
)
async def test_bad_live_reads_get_a_4xx_with_a_detail(
    client: httpx.AsyncClient, site: Site, params: dict[str, str], status: int, detail: str
) -> None:
    answer = await client.get("/api/stats/live", params=params)
    assert answer.status_code == status
    assert detail in answer.json()["detail"]


async def test_crawlers_online_are_counted_apart_and_never_as_visitors(
    client: httpx.AsyncClient, store: Store, recorder: Recorder, site: Site, clock: FakeClock
) -> None:
    await hit(recorder, "/a", ip="198.51.100.1")
    for n in range(3):  # one crawler from three addresses is one crawler
        await hit(recorder, "/a", ua=GOOGLEBOT, ip=f"66.249.66.{n}")
    await hit(recorder, "/b", ua=BINGBOT, ip="40.77.167.1")
    await run_pass(store, clock.now())
    stats = (await client.get("/api/stats", params={"site": "demo.local"})).json()
    assert (stats["online"], stats["online_bots"]) == (1, 2)
    assert stats["excluded"]["bot"] == 4
    # The box shows them on their own row when asked, as NukeViet's "Máy chủ tìm kiếm".
    box = await client.get("/widget/demo.local", params={"rows": "online_bots"})
    assert box.status_code == 200
    row = box.text.split("Máy chủ tìm kiếm", 1)[1]
    assert row.split("</dd>", 1)[0].endswith(">2")
    plain = await client.get("/widget/demo.local")
    assert "Máy chủ tìm kiếm" not in plain.text
    clock.advance(timedelta(seconds=site.online_window_s + 1))
    await run_pass(store, clock.now())
    stats = (await client.get("/api/stats", params={"site": "demo.local"})).json()
    assert (stats["online"], stats["online_bots"]) == (0, 0)
