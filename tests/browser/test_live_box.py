"""The live box in Chromium: with data-live, an open page follows GET /api/stats/stream.

The page's timers run on Playwright's clock. Paused, it proves an update came by the stream
(the 30 s poll cannot fire); advanced, it fires the poll that stands in where EventSource is
missing or the stream is refused.
"""

from __future__ import annotations

import httpx
import pytest
from playwright.sync_api import BrowserContext, Page, Route

from tests.browser.conftest import (
    DESKTOP_UA,
    PortalServer,
    Tab,
    page_html,
    snippet,
    watch,
)
from tests.system.conftest import Service

pytestmark = pytest.mark.system  # starts `visitor-stats serve` and Chromium

POLL_MS = 30_000
# A real aggregation pass (every 0.2 s here) and a stream event on a busy machine.
DEADLINE_MS = 20_000


def visitors(api: Service, site: str, url: str, count: int) -> None:
    """``count`` new visitors' pageviews, as their browsers send them."""
    for n in range(count):
        answer = httpx.post(
            f"{api.base}/api/hit",
            json={"site": site, "url": url},
            headers={"Origin": "http://portal.test", "User-Agent": f"{DESKTOP_UA} live{n}"},
            timeout=5,
        )
        assert answer.status_code == 200, answer.text


def box_total(box_id: str) -> str:
    return (
        f"document.querySelector('#{box_id}').shadowRoot.querySelector('[data-key=total]')"
        ".textContent"
    )


def wait_for_text(page: Page, expression: str, text: str) -> None:
    page.wait_for_function(f"{expression} == {text!r}", timeout=DEADLINE_MS)


def pause(page: Page) -> None:
    page.clock.install()
    page.clock.pause_at(1_900_000_000_000)


def streams_of(tab: Tab) -> list[str]:
    streams: list[str] = []
    tab.page.on(
        "request", lambda r: streams.append(r.url) if "/api/stats/stream" in r.url else None
    )
    return streams


def test_an_open_page_follows_the_stream_without_a_reload_on_one_stream(
    api: Service, portal: PortalServer, context: BrowserContext, site: str, paths: str
) -> None:
    body = (
        f'<div id="a" data-visitor-stats-widget data-site="{site}" data-live></div>'
        f'<div id="b" data-visitor-stats-widget data-site="{site}" data-lang="en" data-live></div>'
        '<p>Hôm nay: <span id="today" data-visitor-stats="today" data-live></span></p>'
        '<p>Tất cả: <span id="total" data-visitor-stats="total"></span></p>'
    )
    scripts = snippet(api, site) + f'<script defer src="{api.base}/widget.js"></script>'
    url = portal.publish(f"{paths}/live.html", page_html(scripts, body))
    tab = watch(context.new_page())
    streams = streams_of(tab)
    # The page's timers stand still: no poll can fire, so what moves came by the stream.
    pause(tab.page)

    tab.page.goto(url)
    # The page's own pageview: its answer, then the passes that take it in.
    wait_for_text(tab.page, box_total("a"), "1")
    api.wait_for(site, lambda s: s["total"] == 1)
    tab.page.evaluate("window.loadedOnce = true")
    tab.settle()
    reads = len(tab.reads)

    visitors(api, site, f"http://portal.test{paths}/tin-tuc/1", 3)

    wait_for_text(tab.page, box_total("a"), "4")
    wait_for_text(tab.page, box_total("b"), "4")
    # The snippet's spans follow too (one of them asked), through widget.js's stream.
    wait_for_text(tab.page, "document.querySelector('#today').textContent", "4")
    wait_for_text(tab.page, "document.querySelector('#total').textContent", "4")
    assert tab.page.evaluate("window.loadedOnce") is True  # no reload
    tab.settle()
    assert len(tab.reads) == reads  # not polled
    assert len(streams) == 1, streams
    assert tab.errors == []


@pytest.mark.parametrize("stream", ["missing", "refused"])
def test_without_a_stream_the_live_box_polls_every_30_seconds(
    api: Service, portal: PortalServer, context: BrowserContext, site: str, paths: str, stream: str
) -> None:
    body = f'<div id="box" data-visitor-stats-widget data-site="{site}" data-live></div>'
    scripts = snippet(api, site) + f'<script defer src="{api.base}/widget.js"></script>'
    url = portal.publish(f"{paths}/poll.html", page_html(scripts, body))
    tab = watch(context.new_page())
    streams = streams_of(tab)
    refused: list[str] = []
    if stream == "missing":
        tab.page.add_init_script("delete window.EventSource")
    else:
        # A worker at its stream limit: EventSource gives up (readyState CLOSED).
        def refuse(route: Route) -> None:
            refused.append(route.request.url)
            route.fulfill(
                status=503,
                headers={"Access-Control-Allow-Origin": "*", "Retry-After": "5"},
                content_type="application/json",
                body='{"detail": "too many streams"}',
            )

        tab.page.route("**/api/stats/stream*", refuse)
    # Paused, and advanced by the test only: the poll fires when the test says.
    pause(tab.page)

    if stream == "missing":
        tab.page.goto(url)
    else:
        with tab.page.expect_response(lambda r: "/api/stats/stream" in r.url):
            tab.page.goto(url)
        assert refused
    wait_for_text(tab.page, box_total("box"), "1")
    visitors(api, site, f"http://portal.test{paths}/tin-tuc/2", 2)
    api.wait_for(site, lambda s: s["total"] == 3)
    tab.settle()
    reads = len(tab.reads)
    assert tab.page.evaluate(box_total("box")) == "1"  # nothing moves before the poll

    tab.page.clock.run_for(POLL_MS)

    wait_for_text(tab.page, box_total("box"), "3")
    tab.settle()
    assert len(tab.reads) == reads + 1  # one poll in 30 s
    if stream == "missing":
        assert streams == []
    else:
        assert len(streams) == 1, streams
    assert tab.errors == []
