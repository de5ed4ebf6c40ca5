"""busuanzi.js in Chromium, on a page written the way blog themes write it for the original
Busuanzi script (hidden busuanzi_container_* wrappers around busuanzi_value_* spans): the
script counts the pageview, fills the spans and shows the wrappers, and an article's views
carried over from the old counter go on from where they were."""

from __future__ import annotations

import httpx
import pytest
from playwright.sync_api import BrowserContext, Page

from tests.browser.conftest import PortalServer, stats, watch
from tests.system.conftest import Service

pytestmark = pytest.mark.system  # starts `visitor-stats serve` and Chromium

# As NexT, Butterfly, Fluid and many other Hexo/Hugo themes write it (the <script> tag pointed
# at us instead of busuanzi.ibruce.info).
THEME = """<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">
<title>Hello</title>
<script async src="{api}/busuanzi.js" data-site="{site}"></script>
</head><body><article><h1>Hello</h1>
<span id="busuanzi_container_page_pv" style="display:none">
  本文总阅读量<span id="busuanzi_value_page_pv"></span>次</span>
</article><footer>
<span id="busuanzi_container_site_pv" style="display:none">
  本站总访问量<span id="busuanzi_value_site_pv"></span>次</span>
<span id="busuanzi_container_site_uv" style="display:none">
  本站访客数<span id="busuanzi_value_site_uv"></span>人次</span>
</footer></body></html>"""

FILLED = "() => /^[0-9]+$/.test(document.getElementById('busuanzi_value_page_pv').textContent)"


def value(page: Page, key: str) -> str:
    text: str = page.inner_text(f"#busuanzi_value_{key}")
    return text


def test_the_theme_spans_are_filled_and_shown_and_the_old_views_go_on(
    api: Service, portal: PortalServer, context: BrowserContext, site: str, paths: str
) -> None:
    url = portal.publish(f"{paths}/posts/hello/", THEME.format(api=api.base, site=site))
    carried = api.cli(
        "pages", "set", site, f"{paths}/posts/hello/", "--views", "2638", "--reason", "busuanzi"
    )
    assert carried.returncode == 0, carried.stderr
    tab = watch(tab_page := context.new_page())

    with tab_page.expect_response(lambda r: "/busuanzi?" in r.url) as answered:
        tab_page.goto(url)
    assert answered.value.status == 200
    tab_page.wait_for_function(FILLED)
    assert value(tab_page, "page_pv") == "2639"
    assert value(tab_page, "site_pv") == "1", answered.value.text()
    for key in ("page_pv", "site_pv", "site_uv"):
        assert tab_page.is_visible(f"#busuanzi_container_{key}")
    assert tab.errors == []
    # The pageview counted as any other: the stats see it.
    assert stats(api, site, url)["page_views"] == 2639

    tab_page.reload()
    tab_page.wait_for_function(
        "() => document.getElementById('busuanzi_value_page_pv').textContent == '2640'"
    )
    body = api.wait_for(site, lambda s: s["pageviews"]["total"] == 2)
    assert body["visitors"]["today"] == 1


def test_a_failing_api_leaves_the_page_alone(
    api: Service, portal: PortalServer, context: BrowserContext, site: str, paths: str
) -> None:
    # Our script, its JSONP pointed (data-api) at an endpoint that answers 500: the wrappers
    # stay hidden, the callback is cleaned up, nothing throws into the page.
    script = httpx.get(f"{api.base}/busuanzi.js", timeout=5).text
    portal.publish(f"{paths}/busuanzi.js", script, "text/javascript")
    page = THEME.format(api=portal.origin + paths, site=site).replace(
        'data-site="', f'data-api="{portal.origin}/error" data-site="'
    )
    url = portal.publish(f"{paths}/broken.html", page)
    tab = watch(context.new_page())
    with tab.page.expect_response(lambda r: "/error/busuanzi?" in r.url) as failed:
        tab.page.goto(url)
    assert failed.value.status == 500
    tab.settle()
    assert not tab.page.is_visible("#busuanzi_container_site_pv")
    assert (
        tab.page.evaluate(
            "() => Object.keys(window).filter(k => k.startsWith('BusuanziCallback_')).length"
        )
        == 0
    )
    assert tab.errors == []
