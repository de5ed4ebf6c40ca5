"""A category page in Chromium: the "Lượt xem" beside each item, filled by ONE read."""

from __future__ import annotations

import httpx
import pytest
from playwright.sync_api import BrowserContext

from tests.browser.conftest import DESKTOP_UA, PortalServer, page_html, snippet, watch
from tests.system.conftest import Service

pytestmark = pytest.mark.system  # starts `visitor-stats serve` and Chromium

ITEMS = 20


def count_views(api: Service, site: str, url: str, views: int) -> None:
    """``views`` pageviews of ``url``, from as many visitors, as their browsers send them."""
    for n in range(views):
        answer = httpx.post(
            f"{api.base}/api/hit",
            json={"site": site, "url": url},
            headers={"Origin": "http://portal.test", "User-Agent": f"{DESKTOP_UA} v{n}"},
            timeout=5,
        )
        assert answer.status_code == 200, answer.text


def test_a_list_page_of_20_items_is_filled_by_one_read_and_reading_never_counts(
    api: Service, portal: PortalServer, context: BrowserContext, site: str, paths: str
) -> None:
    # Item i has been read i % 4 times; item 3's span names it by its full URL.
    articles = [f"{paths}/tin-tuc/{i}" for i in range(ITEMS)]
    for i, article in enumerate(articles):
        count_views(api, site, f"http://portal.test{article}", i % 4)
    spans = "".join(
        f'<li>Bài {i}: <span data-visitor-stats="page_views" '
        f'data-url="{"http://portal.test" if i == 3 else ""}{article}"></span></li>'
        for i, article in enumerate(articles)
    )
    own = '<p>Trang này: <span id="own" data-visitor-stats="page_views"></span></p>'
    listing = portal.publish(f"{paths}/danh-muc.html", page_html(snippet(api, site), own + spans))
    tab = watch(context.new_page())
    reads: list[str] = []
    tab.page.on("request", lambda r: reads.append(r.url) if "/api/stats/pages" in r.url else None)

    tab.page.goto(listing)
    tab.page.wait_for_function(
        """() => [...document.querySelectorAll('[data-url]')].every(e => /^\\d+$/.test(e.textContent))
            && /^\\d+$/.test(document.getElementById('own').textContent)"""
    )
    tab.settle()

    assert len(reads) == 1
    assert reads[0].count("url=") == ITEMS
    shown = tab.page.eval_on_selector_all("[data-url]", "els => els.map(e => +e.textContent)")
    assert shown == [i % 4 for i in range(ITEMS)]
    assert tab.page.text_content("#own") == "1"  # the listing's own pageview
    assert tab.pageviews() == [listing]  # the 20 items were read, not counted
    assert tab.errors == []

    again = httpx.get(
        f"{api.base}/api/stats/pages",
        params={"site": site, "url": articles},
        timeout=5,
    ).json()
    assert list(again["page_views"].values()) == [i % 4 for i in range(ITEMS)]
