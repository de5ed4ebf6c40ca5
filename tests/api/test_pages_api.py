"""``GET /api/stats/pages``: many pages' views in one read, as a list page needs them."""

from __future__ import annotations

import httpx

from counter.figures.page_views import MAX_PAGES
from counter.sites import Site
from counter.storage.store import Store
from tests.api.test_hit_api import store_calls
from tests.helpers import BROWSER_A, BROWSER_B, post_hit

PAGES = "/api/stats/pages"


async def test_each_url_as_given_gets_its_pages_views_in_one_round_trip(
    client: httpx.AsyncClient, store: Store, site: Site
) -> None:
    for ua in (BROWSER_A, BROWSER_B):
        assert (await post_hit(client, "https://demo.local/tin-tuc/1", ua=ua)).status_code == 200
    assert (await post_hit(client, "https://demo.local/tin-tuc/2")).status_code == 200
    urls = ["/tin-tuc/1", "https://demo.local/tin-tuc/2", "/tin-tuc/2?utm_source=x", "/never"]

    before = await store_calls(client)
    answer = await client.get(PAGES, params={"site": site.id, "url": urls})
    assert await store_calls(client) - before == 1

    assert answer.status_code == 200, answer.text
    assert answer.json() == {
        "site": "demo.local",
        "page_views": {
            "/tin-tuc/1": 2,
            "https://demo.local/tin-tuc/2": 1,
            "/tin-tuc/2?utm_source=x": 1,  # normalised as a hit of it would be
            "/never": 0,
        },
    }
    assert answer.headers["access-control-allow-origin"] == "*"


async def test_reading_never_counts_and_the_answer_is_cacheable(
    client: httpx.AsyncClient, store: Store, site: Site
) -> None:
    assert (await post_hit(client, "https://demo.local/a")).status_code == 200
    params = {"site": site.id, "url": ["/a"]}
    first = await client.get(PAGES, params=params)
    assert first.status_code == 200
    assert first.headers["cache-control"].startswith("public, max-age=5")
    etag = first.headers["etag"]
    again = await client.get(PAGES, params=params, headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""
    views = await store.redis.hget(store.keys.site(site.id).page_views, "/a")
    assert int(views) == 1  # two reads later, still the one hit
    assert (await client.get(PAGES, params=params)).json()["page_views"] == {"/a": 1}


async def test_bad_input_is_a_4xx_with_a_detail(client: httpx.AsyncClient, site: Site) -> None:
    too_many = [f"/p{i}" for i in range(MAX_PAGES + 1)]
    cases = [
        ({"site": "nowhere.example", "url": ["/a"]}, 404, "unknown site"),
        ({"site": site.id, "url": too_many}, 400, f"at most {MAX_PAGES} urls"),
        ({"site": site.id, "url": ["/a", "https://evil.example/a"]}, 400, "evil.example"),
        ({"site": site.id}, 400, "at least one url"),
        ({"url": ["/a"]}, 400, "site"),
        ({"site": [site.id, "other.local"], "url": ["/a"]}, 400, "one site"),
        ({"site": site.id, "url": ["/a\x00"]}, 400, "NUL"),
    ]
    for params, status, detail in cases:
        answer = await client.get(PAGES, params=params)
        assert answer.status_code == status, (params, answer.text)
        assert detail in answer.json()["detail"], answer.json()
    # Exactly the limit is fine.
    answer = await client.get(PAGES, params={"site": site.id, "url": too_many[:MAX_PAGES]})
    assert answer.status_code == 200
    assert len(answer.json()["page_views"]) == MAX_PAGES


async def test_other_methods_are_405(client: httpx.AsyncClient, site: Site) -> None:
    answer = await client.post(PAGES, params={"site": site.id, "url": "/a"})
    assert answer.status_code == 405
    assert "GET" in answer.json()["detail"]
