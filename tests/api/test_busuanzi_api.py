"""The Busuanzi JSONP endpoint over HTTP: the answer the original's callers expect, the page
counted as any other hit, a callback name that can only name a function, clear 4xx errors."""

from __future__ import annotations

import json
import re

import httpx
import pytest

from aggregator.rollup import run_pass
from counter.clock import FakeClock
from counter.figures.pages import set_pages
from counter.sites import Site, make_site
from counter.storage.store import Store
from tests.helpers import BROWSER_A

ANSWER = re.compile(r"^try\{(\w+)\((\{.*\})\);\}catch\(e\)\{\}$")


async def busuanzi(
    client: httpx.AsyncClient, callback: str = "BusuanziCallback_1", **params: str
) -> httpx.Response:
    return await client.get(
        "/busuanzi",
        params={"jsonpCallback": callback, "site": "demo.local", **params},
        headers={"Referer": "https://demo.local/posts/hello/", "User-Agent": BROWSER_A},
    )


def numbers(response: httpx.Response) -> dict[str, float]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/javascript")
    match = ANSWER.match(response.text)
    assert match, response.text
    assert match.group(1) == "BusuanziCallback_1"
    data: dict[str, float] = json.loads(match.group(2))
    return data


async def test_the_answer_calls_the_callback_with_site_pv_site_uv_page_pv(
    client: httpx.AsyncClient, store: Store, site: Site, clock: FakeClock
) -> None:
    await set_pages(store, "demo.local", [("/posts/hello/", 2638)], "old busuanzi")
    first = numbers(await busuanzi(client))
    assert first == {"site_pv": 1, "site_uv": 0, "page_pv": 2639, "version": 2.4}
    clock.advance(seconds=10)
    await run_pass(store, store.clock.now(), only=["demo.local"])
    clock.advance(seconds=1)
    second = numbers(await busuanzi(client))
    # The pass saw the first pageview and its visitor; the second is this one.
    assert second == {"site_pv": 2, "site_uv": 1, "page_pv": 2640, "version": 2.4}


async def test_count_0_reads_without_counting(
    client: httpx.AsyncClient, store: Store, site: Site
) -> None:
    assert numbers(await busuanzi(client, count="0"))["page_pv"] == 0
    assert numbers(await busuanzi(client, count="0", url="/posts/hello/"))["page_pv"] == 0
    assert numbers(await busuanzi(client))["page_pv"] == 1


@pytest.mark.parametrize(
    "callback", ["alert(1)//", "a.b", "x;y", "", "1abc", "a" * 65, "</script>", "a-b"]
)
async def test_a_callback_that_is_not_a_plain_identifier_is_refused(
    client: httpx.AsyncClient, site: Site, callback: str
) -> None:
    response = await busuanzi(client, callback)
    assert response.status_code == 400
    assert "jsonpCallback" in response.json()["detail"]


async def test_unknown_sites_foreign_pages_and_missing_fields_get_a_4xx_with_a_detail(
    client: httpx.AsyncClient, site: Site
) -> None:
    unknown = await busuanzi(client, site="nowhere.example")
    assert unknown.status_code == 404 and unknown.json()["detail"]
    foreign = await client.get(
        "/busuanzi",
        params={"jsonpCallback": "cb", "site": "demo.local"},
        headers={"Referer": "https://evil.example/", "User-Agent": BROWSER_A},
    )
    assert foreign.status_code == 403 and foreign.json()["detail"]
    bare = await client.get("/busuanzi", params={"jsonpCallback": "cb", "site": "demo.local"})
    assert bare.status_code == 400 and "url" in bare.json()["detail"]
    nameless = await client.get("/busuanzi", params={"site": "demo.local"})
    assert nameless.status_code == 400 and nameless.json()["detail"]


async def original_call(client: httpx.AsyncClient, referer: str | None) -> httpx.Response:
    """As the themes call the original: a callback name and the Referer, no site."""
    return await client.get(
        "/busuanzi",
        params={"jsonpCallback": "BusuanziCallback_1"},
        headers={"User-Agent": BROWSER_A, **({"Referer": referer} if referer else {})},
    )


async def test_the_original_call_without_site_counts_for_the_site_of_the_referers_host(
    client: httpx.AsyncClient, store: Store, site: Site
) -> None:
    await store.registry.put(make_site(id="blog.example", domains=["blog.example"]))
    await set_pages(store, "demo.local", [("/posts/hello/", 2638)], "old busuanzi")
    await set_pages(store, "blog.example", [("/posts/hello/", 7)], "old busuanzi")
    assert numbers(await original_call(client, "https://demo.local/posts/hello/"))["page_pv"] == (
        2639
    )
    # A subdomain, by the site's *.demo.local; the other site's page, by its own domain.
    www = numbers(await original_call(client, "https://www.demo.local/posts/hello/"))
    assert www["page_pv"] == 2640 and www["site_pv"] == 2
    blog = numbers(await original_call(client, "https://blog.example/posts/hello/"))
    assert blog["page_pv"] == 8 and blog["site_pv"] == 1


async def test_without_site_a_referer_of_no_site_or_none_at_all_is_a_4xx_with_a_detail(
    client: httpx.AsyncClient, store: Store, site: Site
) -> None:
    foreign = await original_call(client, "https://evil.example/posts/hello/")
    assert foreign.status_code == 400
    assert "no site has the domain 'evil.example'" in foreign.json()["detail"]
    bare = await original_call(client, None)
    assert bare.status_code == 400
    assert "Referer" in bare.json()["detail"] and "site" in bare.json()["detail"]
    pathless = await client.get(
        "/busuanzi",
        params={"jsonpCallback": "cb", "url": "/posts/hello/"},
        headers={"User-Agent": BROWSER_A},
    )
    assert pathless.status_code == 400 and "site is required" in pathless.json()["detail"]
    assert await store.redis.hlen(store.keys.site("demo.local").page_views) == 0


async def test_the_script_is_served_as_javascript(client: httpx.AsyncClient) -> None:
    response = await client.get("/busuanzi.js")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/javascript")
    assert "busuanzi_value_" in response.text and "jsonpCallback" in response.text
