"""Heartbeats in real tabs and windows: only while visible, one stream per browser and site.

Time is Playwright's clock (one minute at a time, so every tab sees each minute); the
browser's visibility is real: a tab behind another tab, a minimised window.
"""

from __future__ import annotations

import json

import pytest
from playwright.sync_api import Request

from tests.browser.conftest import (
    PortalServer,
    Tab,
    Windowed,
    page_html,
    snippet,
    watch,
)
from tests.system.conftest import Service

pytestmark = pytest.mark.system  # starts `visitor-stats serve` and Chromium


def is_heartbeat(request: Request) -> bool:
    body = request.post_data or ""
    return request.url.endswith("/api/hit") and '"heartbeat"' in body and "/barrier" not in body


def minutes(windowed: Windowed, count: int) -> None:
    for _ in range(count):
        windowed.context.clock.run_for("01:00")


def settle(tab: Tab, api: Service, site: str) -> None:
    """Wait until the page's earlier beacons are seen: send one more and wait for it."""
    barrier = json.dumps({"site": site, "url": "http://portal.test/barrier", "event": "heartbeat"})
    with tab.page.expect_request(lambda r: "/barrier" in (r.post_data or "")):
        tab.page.evaluate(
            "([u, b]) => navigator.sendBeacon(u, b)", [f"{api.base}/api/hit", barrier]
        )


def beats(tab: Tab) -> int:
    return sum(1 for h in tab.hits if h.get("event") == "heartbeat" and "/barrier" not in h["url"])


def open_tab(windowed: Windowed, url: str, *, new_window: bool) -> Tab:
    page = windowed.new_window("about:blank") if new_window else windowed.context.new_page()
    tab = watch(page)
    with page.expect_response(lambda r: r.url.endswith("/api/hit")):
        page.goto(url)
    return tab


def test_a_hidden_tab_sends_no_heartbeat_until_it_is_shown_again(
    api: Service, portal: PortalServer, windowed: Windowed, site: str, paths: str
) -> None:
    url = portal.publish(f"{paths}/article.html", page_html(snippet(api, site)))
    windowed.context.clock.install()
    tab = open_tab(windowed, url, new_window=False)
    assert tab.page.evaluate("document.visibilityState") == "visible"

    # Another tab in the same window: the article's tab goes to the background.
    windowed.context.new_page().goto("about:blank")
    tab.page.wait_for_function("document.visibilityState == 'hidden'")
    minutes(windowed, 5)
    settle(tab, api, site)
    assert beats(tab) == 0

    # Shown again: it says so at once, then once a minute.
    with tab.page.expect_request(is_heartbeat):
        tab.page.bring_to_front()
    minutes(windowed, 2)
    settle(tab, api, site)
    assert beats(tab) == 3
    assert tab.errors == []


def test_two_open_windows_of_one_site_send_one_heartbeat_stream(
    api: Service, portal: PortalServer, windowed: Windowed, site: str, paths: str
) -> None:
    first_url = portal.publish(f"{paths}/one.html", page_html(snippet(api, site)))
    second_url = portal.publish(f"{paths}/two.html", page_html(snippet(api, site)))
    windowed.context.clock.install()
    first = open_tab(windowed, first_url, new_window=True)
    second = open_tab(windowed, second_url, new_window=True)
    for tab in (first, second):
        assert tab.page.evaluate("document.visibilityState") == "visible"

    minutes(windowed, 5)
    settle(first, api, site)
    settle(second, api, site)
    assert (beats(first), beats(second)) == (5, 0)  # the first tab holds the lease

    # The beating window is minimised: the other one takes over, still one stream.
    windowed.set_window_state(first.page, "minimized")
    first.page.wait_for_function("document.visibilityState == 'hidden'")
    minutes(windowed, 3)
    settle(first, api, site)
    settle(second, api, site)
    assert (beats(first), beats(second)) == (5, 3)

    # Restored, the first window finds the lease taken and stays quiet.
    windowed.set_window_state(first.page, "normal")
    first.page.wait_for_function("document.visibilityState == 'visible'")
    minutes(windowed, 2)
    settle(first, api, site)
    settle(second, api, site)
    assert (beats(first), beats(second)) == (5, 5)
    assert first.errors == second.errors == []
