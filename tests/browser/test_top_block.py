"""The most viewed block in Chromium: widget.js renders links, titles and counts."""

from __future__ import annotations

import time

import httpx
import pytest
from playwright.sync_api import BrowserContext

from tests.browser.conftest import DESKTOP_UA, PortalServer, page_html, snippet, watch
from tests.system.conftest import Service

pytestmark = pytest.mark.system  # starts `visitor-stats serve` and Chromium

# (path, title or None, views): a title with markup must show as text, never as HTML.
ARTICLES = [
    ("/tin-tuc/lu-lut", "Lũ lụt ở <b>miền Trung</b>", 1203),
    ("/tin-tuc/giao-thong", "Giao thông & đô thị", 5),
    ("/tin-tuc/khong-ten", None, 3),
]


def seed(api: Service, site: str, prefix: str) -> None:
    """Each article's views, sent by the site's server in one batch (with their titles)."""
    made = api.cli("sites", "keys", "add", site, "--name", "test")
    assert made.returncode == 0, made.stderr
    key = made.stdout.strip().splitlines()[-1]
    hits = [
        {
            "url": f"http://portal.test{prefix}{path}",
            "client_ip": f"198.51.100.{n % 250}",
            "user_agent": f"{DESKTOP_UA} v{n}",
            **({"title": title} if title else {}),
        }
        for path, title, views in ARTICLES
        for n in range(views)
    ]
    for start in range(0, len(hits), 100):
        answer = httpx.post(
            f"{api.base}/api/hits",
            json={"hits": hits[start : start + 100]},
            headers={"Authorization": f"Bearer {key}"},
            timeout=10,
        )
        assert answer.status_code == 200, answer.text
        # 202: on a busy machine a hit may outrun its store budget and wait in the spool,
        # which replays it within a second or so.
        assert {r.get("status", 200) for r in answer.json()["results"]} <= {200, 202}
    wanted = [views for _, _, views in ARTICLES]
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        top = httpx.get(
            f"{api.base}/api/stats/top", params={"site": site, "period": "week"}, timeout=5
        ).json()
        if [p["page_views"] for p in top["pages"]] == wanted:
            return
        time.sleep(0.1)
    raise AssertionError(f"the seeded views never showed: {top}")


def test_the_top_block_lists_the_most_viewed_pages_with_titles_and_counts(
    api: Service, portal: PortalServer, context: BrowserContext, site: str, paths: str
) -> None:
    seed(api, site, paths)
    block = '<div id="top" data-visitor-stats-top data-period="week" data-limit="3"></div>'
    scripts = snippet(api, site) + f'<script defer src="{api.base}/widget.js"></script>'
    listing = portal.publish(f"{paths}/index.html", page_html(scripts, block))
    tab = watch(context.new_page())

    tab.page.goto(listing)
    items = tab.page.locator("#top li")
    items.nth(2).wait_for()  # the shadow root is open: locators pierce it

    shown = [
        {
            "href": item.locator("a").get_attribute("href"),
            "text": item.locator("a").text_content(),
            "views": item.locator(".vs-views").text_content(),
        }
        for item in items.all()
    ]
    assert shown == [
        {
            "href": f"{paths}/tin-tuc/lu-lut",
            "text": "Lũ lụt ở <b>miền Trung</b>",
            "views": "1.203 lượt xem",
        },
        {
            "href": f"{paths}/tin-tuc/giao-thong",
            "text": "Giao thông & đô thị",
            "views": "5 lượt xem",
        },
        {
            "href": f"{paths}/tin-tuc/khong-ten",
            "text": f"{paths}/tin-tuc/khong-ten",
            "views": "3 lượt xem",
        },
    ]
    assert tab.page.locator("#top b").count() == 0  # the title's markup stayed text
    assert tab.page.locator("#top h2").text_content() == "Tin xem nhiều · Trong tuần"
    assert tab.page.locator("#top ol").count() == 1
    assert tab.errors == []
