"""The embed's HTTP contract, over ASGI on a real store: sizes, caching, the server-rendered box.

Chromium's side of the same feature is in tests/browser.
"""

from __future__ import annotations

import gzip
import json
import re

import httpx

from aggregator.rollup import run_pass
from api.display import LABELS, READ_AFTER_PAGEVIEW, ROWS
from counter.clock import FakeClock
from counter.figures.adjustments import adjust_total
from counter.sites import Site, make_site
from counter.storage.store import Store

GZIP = {"Accept-Encoding": "gzip"}


async def test_tracker_js_is_at_most_2_kb_gzipped_as_served(client: httpx.AsyncClient) -> None:
    # httpx decodes the body; the bytes on the wire are what Content-Length says.
    answer = await client.get("/tracker.js", headers=GZIP)
    assert answer.status_code == 200
    assert answer.headers["content-encoding"] == "gzip"
    assert int(answer.headers["content-length"]) <= 2048
    plain = await client.get("/tracker.js", headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers
    assert len(gzip.compress(plain.content, 9)) <= 2048
    assert plain.content == answer.content
    assert plain.headers["content-type"] == "text/javascript; charset=utf-8"


async def test_scripts_are_served_with_the_labels_and_periods_of_the_server(
    client: httpx.AsyncClient,
) -> None:
    widget = (await client.get("/widget.js")).text
    tracker = (await client.get("/tracker.js")).text
    assert "__" not in re.sub(r"__proto__", "", widget + tracker)  # every placeholder filled
    assert json.dumps(LABELS, ensure_ascii=False) in widget
    assert json.dumps(list(ROWS)) in widget
    assert json.dumps(list(READ_AFTER_PAGEVIEW)) in tracker


async def test_scripts_are_cacheable_and_revalidate_with_304(client: httpx.AsyncClient) -> None:
    for path in ("/tracker.js", "/widget.js"):
        first = await client.get(path, headers=GZIP)
        assert first.headers["cache-control"].startswith("public, max-age=3600")
        assert "Accept-Encoding" in first.headers["vary"]
        etag = first.headers["etag"]
        again = await client.get(path, headers={**GZIP, "If-None-Match": etag})
        assert again.status_code == 304
        assert again.content == b""
        # The identity tag of the same version is as good (a cache may hold either).
        other = etag.replace("-gz", "")
        assert (await client.get(path, headers={"If-None-Match": f"W/{other}"})).status_code == 304
        assert (await client.get(path, headers={"If-None-Match": '"stale"'})).status_code == 200
        version = etag.strip('"').removesuffix("-gz")
        pinned = await client.get(path, params={"v": version})
        assert pinned.headers["cache-control"] == "public, max-age=31536000, immutable"
        old = await client.get(path, params={"v": "0123456789abcdef"})
        assert old.headers["cache-control"].startswith("public, max-age=3600")


async def test_widget_js_carries_its_stylesheet(client: httpx.AsyncClient) -> None:
    body = (await client.get("/widget.js")).text
    assert "__WIDGET_CSS__" not in body
    assert "--vs-accent" in body and "Thống kê truy cập" in body
    assert not re.search(r"^\s*//", body, re.M), "comment lines are stripped"


async def _box_numbers(store: Store, clock: FakeClock, site: str) -> None:
    await adjust_total(store, site, 48_812_107, "carried over from the old counter")
    await run_pass(store, clock.now())


async def test_widget_page_shows_four_rows_in_vietnamese_with_dot_grouping(
    client: httpx.AsyncClient, store: Store, clock: FakeClock, site: Site
) -> None:
    await _box_numbers(store, clock, site.id)
    answer = await client.get(f"/widget/{site.id}")
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "text/html; charset=utf-8"
    assert answer.headers["cache-control"].startswith("public, max-age=5")
    assert "default-src 'none'" in answer.headers["content-security-policy"]
    page = answer.text
    assert '<html lang="vi">' in page
    assert '<h2 id="vs-title">Thống kê truy cập</h2>' in page
    rows = re.findall(r'<dt>([^<]+)</dt><dd data-key="(\w+)">([^<]+)</dd>', page)
    assert rows == [
        ("Đang online", "online", "0"),
        ("Hôm nay", "today", "0"),
        ("Trong tuần", "week", "0"),
        ("Tất cả", "total", "48.812.107"),
    ]
    assert 'aria-live="polite"' in page and "<script" not in page
    again = await client.get(
        f"/widget/{site.id}", headers={"If-None-Match": answer.headers["etag"]}
    )
    assert again.status_code == 304


async def test_widget_page_in_english_with_extra_rows_theme_and_the_sites_grouping(
    client: httpx.AsyncClient, store: Store, clock: FakeClock
) -> None:
    portal = make_site(id="news.example.vn", domains=["news.example.vn"], grouping=",")
    await store.registry.put(portal)
    await _box_numbers(store, clock, portal.id)
    answer = await client.get(
        f"/widget/{portal.id}",
        params={"lang": "en", "rows": "month,yesterday", "accent": "#0a7", "bg": "123456"},
    )
    assert answer.status_code == 200
    page = answer.text
    labels = re.findall(r"<dt>([^<]+)</dt>", page)
    assert labels == ["Online now", "Today", "Yesterday", "This week", "This month", "All time"]
    assert '<h2 id="vs-title">Visitor statistics</h2>' in page
    assert '<dd data-key="total">48,812,107</dd>' in page
    assert "--vs-bg: #123456; --vs-accent: #0a7;" in page


async def test_widget_page_refuses_unknown_sites_rows_and_colors(
    client: httpx.AsyncClient, site: Site
) -> None:
    unknown = await client.get("/widget/nowhere.example")
    assert unknown.status_code == 404
    assert "unknown site" in unknown.json()["detail"]
    bad_rows = await client.get(f"/widget/{site.id}", params={"rows": "month,visitors"})
    assert bad_rows.status_code == 400
    assert "visitors" in bad_rows.json()["detail"]
    injected = await client.get(f"/widget/{site.id}", params={"bg": "red;}body{display:none"})
    assert injected.status_code == 400
    assert (await client.get(f"/widget/{site.id}", params={"lang": "fr"})).status_code == 400


async def test_widget_page_prints_as_the_site_chose_unless_the_embed_asks_otherwise(
    client: httpx.AsyncClient, store: Store, clock: FakeClock
) -> None:
    english = make_site(id="en.example", domains=["en.example"], locale="en", grouping=",")
    await store.registry.put(english)
    await _box_numbers(store, clock, english.id)
    default = (await client.get(f"/widget/{english.id}")).text
    assert '<html lang="en">' in default
    assert '<h2 id="vs-title">Visitor statistics</h2>' in default
    assert '<dd data-key="total">48,812,107</dd>' in default
    # The same overrides as widget.js's data-lang and data-grouping, each on its own.
    asked = (await client.get(f"/widget/{english.id}", params={"lang": "vi"})).text
    assert '<h2 id="vs-title">Thống kê truy cập</h2>' in asked
    assert '<dd data-key="total">48,812,107</dd>' in asked
    dots = (await client.get(f"/widget/{english.id}", params={"grouping": "."})).text
    assert '<h2 id="vs-title">Visitor statistics</h2>' in dots
    assert '<dd data-key="total">48.812.107</dd>' in dots
    bad = await client.get(f"/widget/{english.id}", params={"grouping": "_"})
    assert bad.status_code == 400


async def test_widget_page_follows_the_display_that_api_stats_gives_widget_js(
    client: httpx.AsyncClient, store: Store, clock: FakeClock
) -> None:
    site = make_site(id="switch.example", domains=["switch.example"], locale="en", grouping=",")
    await store.registry.put(site)
    await _box_numbers(store, clock, site.id)
    # The site goes back to Vietnamese; until the next pass, /api/stats still says English.
    await store.registry.put(site.model_copy(update={"locale": "vi", "grouping": "."}))
    for display, title, total in (
        ({"locale": "en", "grouping": ","}, "Visitor statistics", "48,812,107"),
        ({"locale": "vi", "grouping": "."}, "Thống kê truy cập", "48.812.107"),
    ):
        stats = (await client.get("/api/stats", params={"site": site.id})).json()
        assert stats["display"] == display
        page = (await client.get(f"/widget/{site.id}")).text
        assert f'<html lang="{display["locale"]}">' in page
        assert f'<h2 id="vs-title">{title}</h2>' in page
        assert f'<dd data-key="total">{total}</dd>' in page
        await run_pass(store, clock.now())
        clock.advance(seconds=store.settings.stats_cache_s)  # past the worker's last read
