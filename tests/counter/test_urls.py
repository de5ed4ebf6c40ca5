"""Page URLs normalised into one path per article; hostile ones refused."""

from __future__ import annotations

from datetime import date

import httpx
import pytest

from counter.errors import InvalidInput
from counter.sites import Site
from counter.storage.store import Store
from counter.urls import MAX_PATH_CHARS, host_of, normalize_path
from tests.helpers import BROWSER_A


@pytest.mark.parametrize(
    ("url", "path"),
    [
        ("https://DEMO.Local/a", "/a"),  # the host goes, whatever its case
        ("HTTPS://demo.local/a", "/a"),
        ("https://demo.local:8443/a", "/a"),
        ("https://demo.local/a#comments", "/a"),  # the fragment goes
        ("/a?utm_source=zalo&fbclid=x", "/a"),  # the query goes
        ("https://demo.local/tin-tuc/index.html", "/tin-tuc/"),
        ("/index.htm", "/"),
        ("/index.php?id=3", "/"),
        ("/tin-tuc/index.html.bak", "/tin-tuc/index.html.bak"),
        ("/tin-tu\u0301c", "/tin-t\u00fac"),  # NFD -> NFC: one article, one key
        ("/tin-tu%CC%81c", "/tin-t\u00fac"),  # percent-encoded NFD too
        ("/tin%20t%E1%BB%A9c", "/tin t\u1ee9c"),
        ("/a/./b/../c", "/a/c"),
        ("/../../etc/passwd", "/etc/passwd"),
        ("/a/b/..", "/a/"),
        ("https://demo.local", "/"),
        ("https://demo.local//tin-tuc//1", "/tin-tuc/1"),  # one article, however many slashes
        ("/tin-tuc//1/", "/tin-tuc/1/"),
        ("/", "/"),
        ("/" + "x" * 2000, "/" + "x" * (MAX_PATH_CHARS - 1)),
    ],
)
def test_urls_are_normalised(url: str, path: str) -> None:
    assert normalize_path(url) == path


def test_the_query_is_kept_only_when_the_site_keeps_it() -> None:
    assert normalize_path("/xem?id=7#top", keep_query=True) == "/xem?id=7"
    assert normalize_path("/xem?id=7#top", keep_query=False) == "/xem"


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "data:text/html,x",
        "ftp://demo.local/a",
        "relative/path",
        "",
        "/a\x00b",
        "/a\r\nb",
        "/a\x7fb",
        "/a\u0085b",  # a C1 control
        "/a%00b",
        "/a%0D%0Ab",
        "/%C0%AF",  # overlong UTF-8
        "/%ff",
        "/" + "a" * 3000,
    ],
)
def test_hostile_urls_are_refused(url: str) -> None:
    with pytest.raises(InvalidInput):
        normalize_path(url)


@pytest.mark.parametrize(
    ("value", "host"),
    [
        ("https://WWW.Demo.Local/x", "www.demo.local"),
        ("https://demo.local:8443", "demo.local"),
        ("null", None),
        ("", None),
        ("http://[::1", None),
        ("https://demo.local/" + "x" * 3000, None),
    ],
)
def test_origin_hosts_are_lowercased_or_none(value: str, host: str | None) -> None:
    assert host_of(value) == host


async def test_views_of_one_article_land_on_one_path_through_the_api(
    client: httpx.AsyncClient, store: Store, site: Site
) -> None:
    variants = [
        "https://DEMO.local/tin-tu\u0301c/index.html#binh-luan",
        "https://demo.local/tin-t\u00fac/?utm_source=facebook",
        "https://demo.local/tin-tuc/../tin-t%C3%BAc/",
    ]
    for n, url in enumerate(variants):
        answer = await client.post(
            "/api/hit",
            json={"site": "demo.local", "url": url},
            headers={"Origin": "https://demo.local", "User-Agent": f"{BROWSER_A} v{n}"},
        )
        assert answer.status_code == 200
    views = await store.redis.hgetall(store.keys.site(site.id).page_views)
    assert views == {"/tin-t\u00fac/".encode(): b"3"}


async def test_a_url_on_another_host_is_refused_and_counted_invalid(
    client: httpx.AsyncClient, store: Store, site: Site
) -> None:
    for url in ("https://evil.example/a", "//evil.example/a", "https://demo.local.evil.example/a"):
        answer = await client.post(
            "/api/hit",
            json={"site": "demo.local", "url": url},
            headers={"Origin": "https://demo.local", "User-Agent": BROWSER_A},
        )
        assert answer.status_code == 400
        assert "evil.example" in answer.json()["detail"]
    # The site's own hosts, subdomains included (its domains say *.demo.local), still count.
    for url in ("https://www.demo.local/a", "https://DEMO.local./a", "/a"):
        answer = await client.post(
            "/api/hit",
            json={"site": "demo.local", "url": url},
            headers={"Origin": "https://demo.local", "User-Agent": BROWSER_A},
        )
        assert answer.status_code == 200, url
    keys = store.keys.site(site.id)
    assert await store.redis.hgetall(keys.page_views) == {b"/a": b"3"}
    excluded = await store.redis.hgetall(keys.excluded(date(2026, 11, 25)))
    assert excluded == {b"invalid": b"3"}


async def test_head_on_the_pixel_is_405_and_records_nothing(
    client: httpx.AsyncClient, store: Store, site: Site
) -> None:
    answer = await client.head(
        "/api/hit.gif",
        params={"site": "demo.local", "url": "/a"},
        headers={"Origin": "https://demo.local", "User-Agent": BROWSER_A},
    )
    assert answer.status_code == 405  # link checkers and monitors: no image shown, no view
    assert await store.redis.hget(store.keys.site(site.id).totals, "pageviews") is None
