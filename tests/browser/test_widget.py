"""The "Thống kê truy cập" box in Chromium: the iframe page and widget.js, on a portal page."""

from __future__ import annotations

import pytest
from playwright.sync_api import BrowserContext

from tests.browser.conftest import PortalServer, carry_over, page_html, snippet, stats, watch
from tests.system.conftest import Service

pytestmark = pytest.mark.system  # starts `visitor-stats serve` and Chromium

VI_ROWS = ["Đang online", "Hôm nay", "Trong tuần", "Tất cả"]


def test_the_iframe_box_and_widget_js_show_the_four_rows_with_the_api_numbers(
    api: Service, portal: PortalServer, context: BrowserContext, site: str, paths: str
) -> None:
    carry_over(api, site)
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
    # data-lang changes the words only: the digits stay the site's, as /widget/SITE?lang=en.
    tab.page.wait_for_function(
        "document.querySelector('#en').shadowRoot.querySelector('[data-key=total]')"
        ".textContent == '48.812.108'"
    )
    # The month row is the pageview's too (its answer carries month): this visit.
    assert english.locator("dd[data-key=month]").inner_text() == "1"
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


# What a box says: widget.js's (given its host div) or the iframe's (given its <html>).
BOX_TEXT = """node => {
    const root = node.shadowRoot || node.ownerDocument;
    return {
        lang: root.querySelector('section').lang || node.lang,
        title: root.querySelector('h2').textContent,
        rows: [...root.querySelectorAll('dt')].map(e => e.textContent),
        numbers: [...root.querySelectorAll('dd')].map(e => e.textContent),
    };
}"""


def test_widget_js_prints_as_the_site_chose_and_agrees_with_the_iframe(
    api: Service, portal: PortalServer, context: BrowserContext, english_site: str, paths: str
) -> None:
    site = english_site  # `sites add --locale en --grouping ,`
    carry_over(api, site)
    assert stats(api, site)["display"] == {"locale": "en", "grouping": ","}
    frame = f"{api.base}/widget/{site}"
    body = (
        # The site's choice, and both attributes overriding it; each beside its iframe twin.
        f'<div id="site" data-visitor-stats-widget data-site="{site}" data-rows="month"></div>'
        f'<iframe id="site-frame" src="{frame}?rows=month"></iframe>'
        f'<div id="asked" data-visitor-stats-widget data-site="{site}" data-rows="month"'
        ' data-lang="vi" data-grouping="."></div>'
        f'<iframe id="asked-frame" src="{frame}?rows=month&amp;lang=vi&amp;grouping=."></iframe>'
    )
    # widget.js alone: both boxes show the same summary, with no pageview in between.
    url = portal.publish(
        f"{paths}/en.html", page_html(f'<script defer src="{api.base}/widget.js"></script>', body)
    )
    tab = watch(context.new_page())
    tab.page.goto(url)
    for box in ("#site", "#asked"):
        tab.page.wait_for_function(
            f"/\\d/.test(document.querySelector('{box}').shadowRoot"
            ".querySelector('[data-key=total]').textContent)"
        )
    site_box = tab.page.locator("#site").evaluate(BOX_TEXT)
    assert site_box == {
        "lang": "en",
        "title": "Visitor statistics",
        "rows": ["Online now", "Today", "This week", "This month", "All time"],
        "numbers": ["0", "0", "0", "0", "48,812,107"],
    }
    assert tab.page.frame_locator("#site-frame").locator("html").evaluate(BOX_TEXT) == site_box
    asked_box = tab.page.locator("#asked").evaluate(BOX_TEXT)
    assert asked_box["lang"] == "vi"
    assert asked_box["title"] == "Thống kê truy cập"
    assert asked_box["numbers"][-1] == "48.812.107"
    assert tab.page.frame_locator("#asked-frame").locator("html").evaluate(BOX_TEXT) == asked_box
    assert len(tab.reads) == 2  # one per box
    assert tab.hits == []

    # The next page starts in the site's words before (here: without) an answer: the display
    # is remembered. Its API fails, so all it has is what the browser kept.
    failing = portal.publish(
        f"{paths}/failing.html",
        page_html(
            f'<script defer src="{api.base}/widget.js"'
            f' data-api="http://127.0.0.1:{portal.port}/error"></script>',
            f'<div id="kept" data-visitor-stats-widget data-site="{site}"></div>',
        ),
    )
    with tab.page.expect_response(lambda r: "/error/api/stats" in r.url) as failed:
        tab.page.goto(failing)
    assert failed.value.status == 500
    tab.settle()
    kept = tab.page.locator("#kept").evaluate(BOX_TEXT)
    assert kept["lang"] == "en" and kept["title"] == "Visitor statistics"
    assert kept["rows"] == ["Online now", "Today", "This week", "All time"]
    assert tab.errors == []
