"""The "Thống kê truy cập" box in Chromium: the iframe page and widget.js, on a portal page."""

from __future__ import annotations

import pytest
from playwright.sync_api import BrowserContext

from tests.browser.conftest import PortalServer, page_html, snippet, stats, watch
from tests.system.conftest import Service

pytestmark = pytest.mark.system  # starts `visitor-stats serve` and Chromium

VI_ROWS = ["Đang online", "Hôm nay", "Trong tuần", "Tất cả"]


def test_the_iframe_box_and_widget_js_show_the_four_rows_with_the_api_numbers(
    api: Service, portal: PortalServer, context: BrowserContext, site: str, paths: str
) -> None:
    adjusted = api.cli("sites", "adjust", site, "--total", "48812107", "--reason", "old counter")
    assert adjusted.returncode == 0, adjusted.stderr
    iframe = portal.publish(
        f"{paths}/iframe.html",
        page_html(
            "",
            f'<iframe title="Thống kê truy cập" src="{api.base}/widget/{site}" width="300"'
            ' height="190" style="border:0"></iframe>',
        ),
    )
    body = (
        f'<div id="vi" data-visitor-stats-widget data-site="{site}"></div>'
        f'<div id="en" data-visitor-stats-widget data-site="{site}" data-lang="en"'
        ' data-rows="month" style="--vs-accent: rgb(0, 102, 51)"></div>'
        # The host page's own CSS must not reach into the box.
        "<style>dt, dd { display: none !important; color: red; }</style>"
    )
    url = portal.publish(
        f"{paths}/box.html",
        page_html(snippet(api, site) + f'<script defer src="{api.base}/widget.js"></script>', body),
    )
    tab = watch(context.new_page())
    tab.page.goto(iframe)
    frame = tab.page.frame_locator("iframe")
    assert frame.locator("h2").inner_text().casefold() == "thống kê truy cập"
    assert frame.locator("dt").all_inner_texts() == VI_ROWS
    assert frame.locator("dd[data-key=total]").inner_text() == "48.812.107"

    tab.page.goto(url)

    box = tab.page.locator("#vi")
    # The tracker's pageview answer reaches the box: its own visit is in the total.
    tab.page.wait_for_function(
        "document.querySelector('#vi').shadowRoot.querySelector('[data-key=total]')"
        ".textContent == '48.812.108'"
    )
    assert box.locator("h2").inner_text().casefold() == "thống kê truy cập"
    assert box.locator("dt").all_inner_texts() == VI_ROWS
    assert box.locator("dd").first.is_visible()
    assert box.get_by_role("heading", name="Thống kê truy cập").count() == 1
    assert box.locator("dl").get_attribute("aria-live") == "polite"

    english = tab.page.locator("#en")
    assert english.locator("dt").all_inner_texts() == [
        "Online now",
        "Today",
        "This week",
        "This month",
        "All time",
    ]
    tab.page.wait_for_function(
        "document.querySelector('#en').shadowRoot.querySelector('[data-key=total]')"
        ".textContent == '48,812,108'"
    )
    accent = english.locator("h2").evaluate("h => getComputedStyle(h).color")
    assert accent == "rgb(0, 102, 51)"

    summary = api.wait_for(site, lambda s: s["pageviews"]["today"] == 1)
    shown = box.locator("dd").evaluate_all(
        "dds => Object.fromEntries(dds.map(d => [d.dataset.key, d.textContent]))"
    )
    assert {k: int(v.replace(".", "")) for k, v in shown.items()} == {
        k: summary[k] for k in ("online", "today", "week", "total")
    }
    assert stats(api, site)["total"] == 48812108
    assert tab.errors == []
