"""Rough edges of issue 13: HEAD on the GET routes, and the history's default range."""

from __future__ import annotations

from datetime import date, timedelta

import httpx

from counter.sites import Site
from counter.storage.store import Store
from tests.helpers import BROWSER_A, post_hit


async def test_head_answers_like_get_without_the_body(
    client: httpx.AsyncClient, site: Site
) -> None:
    assert (await post_hit(client)).status_code == 200
    for path, params in (
        ("/api/stats", {"site": site.id}),  # the hot path
        ("/api/stats/pages", {"site": site.id, "url": "/a"}),
        ("/api/stats/history", {"site": site.id}),  # FastAPI's routes
        (f"/counter/{site.id}.svg", {}),
        ("/tracker.js", {}),
        ("/healthz", {}),
    ):
        got = await client.get(path, params=params)
        head = await client.head(path, params=params)
        assert got.status_code == 200, (path, got.text)
        assert head.status_code == 200, path
        assert head.content == b"", path
        assert int(head.headers["content-length"]) > 0, path  # the GET's length, on the wire
        for name in ("content-length", "content-encoding", "content-type", "etag", "cache-control"):
            assert head.headers.get(name) == got.headers.get(name), (path, name)
    unknown = await client.head("/api/stats", params={"site": "nowhere.example"})
    assert unknown.status_code == 404  # errors too, as GET answers them
    assert unknown.content == b""
    post_only = await client.head("/api/hit")
    assert post_only.status_code == 405
    assert post_only.headers["allow"] == "POST"


async def test_head_on_a_get_that_counts_is_405_and_counts_nothing(
    client: httpx.AsyncClient, store: Store, site: Site
) -> None:
    headers = {"Origin": "https://demo.local", "Referer": "https://demo.local/a"}
    for path, params in (
        ("/api/hit.gif", {"site": site.id, "url": "/a"}),
        ("/busuanzi", {"site": site.id, "url": "/a", "jsonpCallback": "cb"}),
    ):
        answer = await client.head(
            path, params=params, headers={**headers, "User-Agent": BROWSER_A}
        )
        assert answer.status_code == 405, path
    assert await store.redis.hget(store.keys.site(site.id).totals, "pageviews") is None


async def test_history_without_from_and_to_is_the_last_30_days(
    client: httpx.AsyncClient, site: Site
) -> None:
    today = date(2026, 11, 25)  # the fake clock's day in the site's timezone
    both = await client.get("/api/stats/history", params={"site": site.id})
    assert both.status_code == 200, both.text
    days = [row["date"] for row in both.json()["rows"]]
    assert days[0] == (today - timedelta(days=30)).isoformat()
    assert days[-1] == today.isoformat()
    assert len(days) == 31  # as `visitor-stats export` reads it

    to_only = await client.get("/api/stats/history", params={"site": site.id, "to": "2026-10-31"})
    to_days = [row["date"] for row in to_only.json()["rows"]]
    assert (to_days[0], to_days[-1]) == ("2026-10-01", "2026-10-31")
    from_only = await client.get(
        "/api/stats/history", params={"site": site.id, "from": "2026-11-20"}
    )
    from_days = [row["date"] for row in from_only.json()["rows"]]
    assert (from_days[0], from_days[-1]) == ("2026-11-20", today.isoformat())

    for params, detail in (
        ({"site": site.id, "from": "2026-12-01"}, "from must not be after to"),
        ({"site": site.id, "to": "yesterday"}, "to must be a date"),
        ({"site": "nowhere.example"}, "unknown site"),
    ):
        answer = await client.get("/api/stats/history", params=params)
        assert 400 <= answer.status_code < 500, params
        assert detail in answer.json()["detail"]
