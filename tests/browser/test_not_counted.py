"""What the tracker does not count: prerendered pages until opened, automation, local pages,
and visitors who ask not to be tracked (Do Not Track, Global Privacy Control). Those still
see the numbers. And the <noscript> pixel for browsers without JavaScript."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import BrowserContext, Playwright

from tests.browser.conftest import (
    BASE_ARGS,
    CHROMIUM,
    DESKTOP_UA,
    STEALTH_ARGS,
    PortalServer,
    carry_over,
    page_html,
    snippet,
    start_chromium,
    stats,
    stop_chromium,
    watch,
)
from tests.system.conftest import Service

pytestmark = pytest.mark.system  # starts `visitor-stats serve` and Chromium

BOX = '<b data-visitor-stats="total"></b><i data-visitor-stats="page_views"></i>'


def eventually(check: Any, timeout_s: float = 15) -> None:
    """Poll the real service until ``check()`` holds (its aggregator runs on its own)."""
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("the condition never held")
        time.sleep(0.1)


def shows_numbers_without_counting(api: Service, context: BrowserContext, url: str) -> None:
    tab = watch(context.new_page())
    with tab.page.expect_response(lambda r: "/api/stats?" in r.url) as answer:
        tab.page.goto(url)
    assert answer.value.status == 200
    tab.page.wait_for_function("document.querySelector('b').textContent == '48.812.107'")
    assert tab.page.text_content("i") == "0"
    assert tab.hits == []
    assert tab.errors == []


def test_a_prerendered_page_counts_only_when_the_visitor_opens_it(
    api: Service, portal: PortalServer, site: str, paths: str, tmp_path: Path
) -> None:
    # No DevTools here: Chromium does not prerender for pages a DevTools client is attached
    # to (crbug.com/1440085), so this test watches the portal's log and the API instead.
    article = portal.publish(
        f"{paths}/article.html",
        page_html(
            snippet(api, site) + f'<script defer src="{paths}/after-tracker.js"></script>'
            "<script>document.addEventListener('prerenderingchange', () =>"
            f" fetch('{paths}/activated'))</script>",
            BOX,
        ),
    )
    portal.publish(
        f"{paths}/after-tracker.js",
        f"fetch('{paths}/ran?prerendering=' + document.prerendering)",
        "text/javascript",
    )
    rules = {"prerender": [{"source": "list", "urls": [article]}]}
    start = portal.publish(
        f"{paths}/start.html",
        page_html(
            f'<script type="speculationrules">{json.dumps(rules)}</script>',
            f"<script>fetch('/gate/{site}').then(() => {{ location.href = '{article}' }})</script>",
        ),
    )
    chromium = start_chromium(tmp_path / "chromium", start)
    try:
        prerender = portal.wait_for(lambda r: r.path == f"{paths}/article.html", timeout_s=20)
        assert "prerender" in prerender.headers.get("Sec-Purpose", "")
        portal.wait_for(lambda r: r.path == f"{paths}/ran?prerendering=true", timeout_s=20)
        assert stats(api, site, article)["page_views"] == 0  # the tracker has run, and waits

        portal.gate(site).set()  # the visitor opens the page
        portal.wait_for(lambda r: r.path == f"{paths}/activated", timeout_s=20)
        eventually(lambda: stats(api, site, article)["page_views"] == 1)
        summary = api.wait_for(site, lambda s: s["pageviews"]["today"] == 1)
        assert summary["excluded"]["prefetch"] == 0
        # Activated, not loaded again.
        assert [r.path for r in portal.log].count(f"{paths}/article.html") == 1
    finally:
        stop_chromium(chromium)


def test_a_browser_driven_by_automation_is_not_counted(
    api: Service, portal: PortalServer, playwright: Playwright, site: str, paths: str
) -> None:
    carry_over(api, site)
    url = portal.publish(f"{paths}/page.html", page_html(snippet(api, site), BOX))
    # Playwright's defaults: --enable-automation, so navigator.webdriver is true.
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=BASE_ARGS)
    try:
        context = browser.new_context(user_agent=DESKTOP_UA)
        page = context.new_page()
        page.goto("about:blank")
        assert page.evaluate("navigator.webdriver") is True
        shows_numbers_without_counting(api, context, url)
    finally:
        browser.close()
    summary = api.wait_for(site, lambda s: s["total"] == 48812107)
    assert summary["pageviews"]["today"] == 0
    assert summary["excluded"]["bot"] == 0  # not even sent


def test_local_pages_are_not_counted_unless_the_snippet_allows_them(
    api: Service, portal: PortalServer, context: BrowserContext, site: str, paths: str
) -> None:
    carry_over(api, site)
    local = f"http://127.0.0.1:{portal.port}"
    portal.publish(f"{paths}/dev.html", page_html(snippet(api, site), BOX))
    shows_numbers_without_counting(api, context, f"{local}{paths}/dev.html")

    portal.publish(
        f"{paths}/allowed.html", page_html(snippet(api, site, "data-allow-localhost"), BOX)
    )
    tab = watch(context.new_page())
    with tab.page.expect_response(lambda r: r.url.endswith("/api/hit")) as hit:
        tab.page.goto(f"{local}{paths}/allowed.html")
    assert hit.value.status == 200
    assert tab.pageviews() == [f"{local}{paths}/allowed.html"]


@pytest.mark.parametrize("signal", ["do not track", "global privacy control"])
def test_visitors_who_ask_not_to_be_tracked_are_not_counted_but_see_the_numbers(
    api: Service,
    portal: PortalServer,
    playwright: Playwright,
    site: str,
    paths: str,
    tmp_path: Path,
    signal: str,
) -> None:
    carry_over(api, site)
    url = portal.publish(f"{paths}/page.html", page_html(snippet(api, site), BOX))
    profile = tmp_path / "profile"
    (profile / "Default").mkdir(parents=True)
    # Do Not Track: the browser's own setting. Chromium has no Global Privacy Control, so
    # that one is given the way Firefox and Brave expose it: navigator.globalPrivacyControl.
    preferences = {"enable_do_not_track": signal == "do not track"}
    (profile / "Default" / "Preferences").write_text(json.dumps(preferences))
    context = playwright.chromium.launch_persistent_context(
        profile,
        executable_path=CHROMIUM,
        args=[*BASE_ARGS, *STEALTH_ARGS],
        ignore_default_args=["--enable-automation"],
        user_agent=DESKTOP_UA,
    )
    try:
        if signal == "global privacy control":
            context.add_init_script(
                "Object.defineProperty(Navigator.prototype, 'globalPrivacyControl',"
                " {get: () => true, configurable: true})"
            )
        probe = context.new_page()
        probe.goto("about:blank")
        expected = ["1", None] if signal == "do not track" else [None, True]
        assert probe.evaluate("[navigator.doNotTrack, navigator.globalPrivacyControl]") == expected
        shows_numbers_without_counting(api, context, url)
    finally:
        context.close()
    summary = api.wait_for(site, lambda s: s["total"] == 48812107)
    assert summary["pageviews"]["today"] == 0


def test_the_noscript_pixel_counts_browsers_without_javascript_and_only_them(
    api: Service, portal: PortalServer, browser: Any, site: str, paths: str
) -> None:
    pixel = (
        f'<noscript><img src="{api.base}/api/hit.gif?site={site}" alt="" width="1" height="1">'
        "</noscript>"
    )
    url = portal.publish(f"{paths}/plain.html", page_html(snippet(api, site) + "", pixel))
    without_js = browser.new_context(user_agent=DESKTOP_UA, java_script_enabled=False)
    try:
        page = without_js.new_page()
        with page.expect_response(lambda r: "/api/hit.gif" in r.url) as gif:
            page.goto(url)
        assert gif.value.status == 200
    finally:
        without_js.close()
    with_js = browser.new_context(user_agent=DESKTOP_UA)
    try:
        tab = watch(with_js.new_page())
        gifs: list[str] = []
        tab.page.on("request", lambda r: gifs.append(r.url) if "hit.gif" in r.url else None)
        with tab.page.expect_response(lambda r: r.url.endswith("/api/hit")):
            tab.page.goto(url)
        assert gifs == []
    finally:
        with_js.close()
    # The pixel's page is its Referer: the portal's origin, under the default referrer policy.
    eventually(lambda: stats(api, site, f"{portal.origin}/")["page_views"] == 1)
    api.wait_for(site, lambda s: s["pageviews"]["today"] == 2)
