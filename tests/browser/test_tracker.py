"""tracker.js in Chromium, on a portal served from another origin than the API."""

from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import BrowserContext, Page

from tests.browser.conftest import (
    SPANS,
    PortalServer,
    carry_over,
    page_html,
    snippet,
    stats,
    watch,
)
from tests.servers import free_port
from tests.system.conftest import Service

pytestmark = pytest.mark.system  # starts `visitor-stats serve` and Chromium

FILLED = """() => [...document.querySelectorAll('[data-visitor-stats]')]
    .every(e => /^[0-9.]+$/.test(e.textContent))"""
YESTERDAY = '<p>Hôm qua: <span data-visitor-stats="yesterday"></span></p>'


def shown(page: Page) -> dict[str, int]:
    """The numbers the page shows, by data-visitor-stats name ("48.812.107" -> 48812107)."""
    texts: dict[str, str] = page.eval_on_selector_all(
        "[data-visitor-stats]",
        "els => Object.fromEntries(els.map(e => [e.dataset.visitorStats, e.textContent]))",
    )
    return {name: int(text.replace(".", "")) for name, text in texts.items()}


def is_hit(response: object) -> bool:
    return str(getattr(response, "url", "")).endswith("/api/hit")


def test_one_pageview_per_navigation_and_the_spans_show_the_api_numbers(
    api: Service, portal: PortalServer, context: BrowserContext, site: str, paths: str
) -> None:
    head = snippet(api, site)
    first = portal.publish(f"{paths}/a.html", page_html(head, SPANS))
    second = portal.publish(f"{paths}/b.html", page_html(head, SPANS))
    tab = watch(context.new_page())

    with tab.page.expect_response(is_hit) as hit:
        tab.page.goto(first)
    assert hit.value.status == 200
    tab.page.wait_for_function(FILLED)
    api.wait_for(site, lambda s: s["pageviews"]["today"] == 1)

    with tab.page.expect_response(is_hit):
        tab.page.goto(second)
    tab.page.wait_for_function(FILLED)
    assert tab.pageviews() == [first, second]

    tab.settle()
    assert tab.reads == []  # the pageview's answer has every figure of SPANS, month too
    summary = api.wait_for(site, lambda s: s["pageviews"]["today"] == 2)
    numbers = shown(tab.page)
    assert numbers == {
        "page_views": stats(api, site, second)["page_views"],
        "today": summary["today"],
        "online": summary["online"],
        "week": summary["week"],
        "month": summary["month"],
        "total": summary["total"],
    }
    assert numbers["page_views"] == 1 and numbers["today"] == 1
    assert tab.errors == []


def test_the_pageview_answer_fills_month_and_only_a_figure_it_lacks_costs_a_read(
    api: Service, portal: PortalServer, context: BrowserContext, site: str, paths: str
) -> None:
    month = portal.publish(f"{paths}/month.html", page_html(snippet(api, site), SPANS))
    yesterday = portal.publish(
        f"{paths}/yesterday.html", page_html(snippet(api, site), SPANS + YESTERDAY)
    )
    tab = watch(context.new_page())

    with tab.page.expect_response(is_hit) as hit:
        tab.page.goto(month)
    assert hit.value.status == 200
    answer = hit.value.json()
    assert answer["month"] == 1  # this visit, folded in before any aggregation pass
    tab.page.wait_for_function(FILLED)
    tab.settle()
    assert tab.reads == []
    assert shown(tab.page)["month"] == 1

    # "yesterday" is not in the answer: one read, for it alone (not the page's views).
    with tab.page.expect_response(is_hit) as hit:
        tab.page.goto(yesterday)
    assert hit.value.status == 200
    tab.page.wait_for_function(FILLED)
    tab.settle()
    assert len(tab.reads) == 1
    assert "url=" not in tab.reads[0]
    numbers = shown(tab.page)
    assert numbers["yesterday"] == 0
    assert numbers["month"] == hit.value.json()["month"] == 1  # the same visit
    summary = api.wait_for(site, lambda s: s["pageviews"]["today"] == 2)
    assert summary["month"] == 1
    assert tab.errors == []


def test_without_data_grouping_the_numbers_are_grouped_as_the_site_chose(
    api: Service, portal: PortalServer, context: BrowserContext, english_site: str, paths: str
) -> None:
    site = english_site
    carry_over(api, site)
    body = '<b data-visitor-stats="total"></b>'
    # A page with a figure the pageview's answer lacks reads /api/stats, whose display says
    # how the site prints; the browser keeps it for the pages that need no read.
    first = portal.publish(f"{paths}/first.html", page_html(snippet(api, site), body + YESTERDAY))
    second = portal.publish(f"{paths}/second.html", page_html(snippet(api, site), body))
    tab = watch(context.new_page())
    with tab.page.expect_response(lambda r: "/api/stats?" in r.url) as read:
        tab.page.goto(first)
    assert read.value.status == 200
    tab.page.wait_for_function("document.querySelector('b').textContent.includes(',')")
    assert tab.page.text_content("b") == "48,812,108"
    # Forget the number but not the grouping, so the next page prints the answer's own.
    kept = tab.page.evaluate(
        """key => {
            const c = JSON.parse(localStorage.getItem(key));
            delete c.total;
            localStorage.setItem(key, JSON.stringify(c));
            return c.g;
        }""",
        f"vs:{site}",
    )
    assert kept == ","
    with tab.page.expect_response(is_hit) as hit:
        tab.page.goto(second)
    assert hit.value.status == 200
    tab.page.wait_for_function("/\\d/.test(document.querySelector('b').textContent)")
    assert tab.page.text_content("b") == "48,812,108"
    tab.settle()
    assert len(tab.pageviews()) == 2
    assert len(tab.reads) == 1  # the first page's
    assert tab.errors == []


def test_numbers_are_grouped_as_the_snippet_asks(
    api: Service, portal: PortalServer, context: BrowserContext, site: str, paths: str
) -> None:
    carry_over(api, site)
    body = '<b data-visitor-stats="total"></b>'
    dots = portal.publish(f"{paths}/vi.html", page_html(snippet(api, site), body))
    commas = portal.publish(
        f"{paths}/en.html", page_html(snippet(api, site, 'data-grouping=","'), body)
    )
    page = context.new_page()
    page.goto(dots)
    page.wait_for_function("document.querySelector('b').textContent.length > 5")
    assert page.text_content("b") == "48.812.108"
    page.goto(commas)
    page.wait_for_function("document.querySelector('b').textContent.includes(',')")
    assert page.text_content("b") == "48,812,108"  # the same visit: the total counts visits


def test_single_page_app_counts_one_pageview_per_route_change(
    api: Service, portal: PortalServer, context: BrowserContext, site: str, paths: str
) -> None:
    url = portal.publish(f"{paths}/app/", page_html(snippet(api, site), SPANS))
    tab = watch(context.new_page())
    with tab.page.expect_response(is_hit):
        tab.page.goto(url)
    origin = portal.origin
    steps = [
        "history.pushState({}, '', '/spa/a')",
        "history.pushState({n: 2}, '', '/spa/a')",  # the same URL again: not a new page
        "history.replaceState({n: 3}, '', '/spa/a')",  # state only
        "history.pushState({}, '', '/spa/a#comments')",  # a fragment: the same page
        "history.replaceState({}, '', '/spa/b?page=2')",
    ]
    for step in steps:
        tab.page.evaluate(step)
    with tab.page.expect_response(is_hit):
        tab.page.go_back()  # popstate back to /spa/a
    with tab.page.expect_response(is_hit):
        tab.page.evaluate("history.pushState({}, '', '/spa/end')")  # the last one: a barrier
    assert tab.pageviews() == [
        url,
        f"{origin}/spa/a",
        f"{origin}/spa/b?page=2",
        f"{origin}/spa/a",  # back: the #comments entry was replaced by /spa/b
        f"{origin}/spa/end",
    ]
    # Each route change tells where the visitor came from: the route before it.
    assert tab.hits[2]["referrer"] == f"{origin}/spa/a"
    api.wait_for(site, lambda s: s["pageviews"]["today"] == 5)
    assert stats(api, site, f"{origin}/spa/a")["page_views"] == 2
    assert stats(api, site, f"{origin}/spa/b")["page_views"] == 1
    assert tab.errors == []


def test_pasted_twice_it_counts_once_and_adds_one_namespaced_global(
    api: Service, portal: PortalServer, context: BrowserContext, site: str, paths: str
) -> None:
    bare = portal.publish(f"{paths}/bare.html", page_html(""))
    twice = portal.publish(
        f"{paths}/twice.html", page_html(snippet(api, site) + snippet(api, site), SPANS)
    )
    tab = watch(context.new_page())
    tab.page.goto(bare)
    before = set(tab.page.evaluate("Object.keys(window)"))
    with tab.page.expect_response(is_hit):
        tab.page.goto(twice)
    tab.page.wait_for_function(FILLED)
    assert set(tab.page.evaluate("Object.keys(window)")) - before == {"visitorStats"}
    assert len(tab.pageviews()) == 1
    assert stats(api, site, twice)["page_views"] == 1


@pytest.mark.parametrize("failure", ["script unreachable", "api refuses", "api slow", "api errs"])
def test_an_api_that_is_down_slow_or_failing_changes_nothing_in_the_page_load(
    api: Service,
    portal: PortalServer,
    context: BrowserContext,
    site: str,
    paths: str,
    failure: str,
) -> None:
    # A copy of the real tracker on the portal, so the script runs while its API fails.
    tracker = context.request.get(f"{api.base}/tracker.js").body()
    portal.publish(f"{paths}/tracker.js", tracker, "text/javascript")
    closed = f"http://127.0.0.1:{free_port()}"
    scripts = {
        "script unreachable": f'<script defer src="{closed}/tracker.js" data-site="{site}"></script>',
        "api refuses": f'<script defer src="{paths}/tracker.js" data-site="{site}" data-api="{closed}"></script>',
        "api slow": f'<script defer src="{paths}/tracker.js" data-site="{site}" data-api="http://127.0.0.1:{portal.port}/slow"></script>',
        "api errs": f'<script defer src="{paths}/tracker.js" data-site="{site}" data-api="http://127.0.0.1:{portal.port}/error"></script>',
    }
    working = portal.publish(f"{paths}/ok.html", page_html(snippet(api, site), SPANS))
    broken = portal.publish(f"{paths}/down.html", page_html(scripts[failure], SPANS))
    tab = watch(context.new_page())

    # A first visit while the API works leaves the numbers in the browser's cache...
    tab.page.goto(working)
    tab.page.wait_for_function(FILLED)
    before = shown(tab.page)
    # ...and a visit while it fails loads as fast, throws nothing, and shows them again.
    started = time.monotonic()
    tab.page.goto(broken, wait_until="load", timeout=5000)
    loaded_s = time.monotonic() - started
    assert loaded_s < 1.0, f"load took {loaded_s:.2f} s"
    if failure == "script unreachable":
        placeholder = tab.page.eval_on_selector_all(
            "[data-visitor-stats]", "els => els.map(e => e.textContent)"
        )
        assert placeholder == [""] * 6  # nothing ran: the page is as its author wrote it
    else:
        tab.page.wait_for_function(
            "() => document.querySelector('[data-visitor-stats=page_views]').textContent == '–'"
        )
        # The page's own views belong to the other page; every site figure is the cached one.
        assert {k: v for k, v in shown_or_dash(tab.page).items() if k != "page_views"} == {
            k: v for k, v in before.items() if k != "page_views"
        }
    stand_in = {"api slow": "/slow/api/hit", "api errs": "/error/api/hit"}.get(failure)
    if stand_in:
        portal.wait_for(lambda r: r.path == stand_in)
    assert tab.errors == []


def shown_or_dash(page: Page) -> dict[str, int | str]:
    texts: dict[str, str] = page.eval_on_selector_all(
        "[data-visitor-stats]",
        "els => Object.fromEntries(els.map(e => [e.dataset.visitorStats, e.textContent]))",
    )
    return {
        k: int(v.replace(".", "")) if re.fullmatch(r"[0-9.]+", v) else v for k, v in texts.items()
    }
