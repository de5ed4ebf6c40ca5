"""The site owner's dashboard over HTTP (issue 15): the page shell, its data behind a read token
unless the site is public, the CSV export, the most viewed pages, and the vendored chart."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import httpx
import pytest

from aggregator.rollup import run_pass
from counter.access import KeyScope, issue_key
from counter.errors import InvalidInput
from counter.figures.dashboard import top_pages
from counter.sites import Site, make_site
from counter.storage.store import Store
from tests.helpers import BROWSER_A, BROWSER_B, post_hit

ADMIN = "test-admin-token-0123456789"
VENDOR = Path(__file__).parents[2] / "api" / "static" / "vendor"


async def token(store: Store, site: str = "demo.local", scope: KeyScope = KeyScope.read) -> str:
    _, key = await issue_key(store.redis, store.keys, site, scope, "owner", store.clock.now())
    return key


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def test_the_page_is_a_shell_in_the_sites_language_with_nothing_from_elsewhere(
    client: httpx.AsyncClient, site: Site
) -> None:
    page = await client.get("/dashboard/demo.local")
    assert page.status_code == 200
    assert '<html lang="vi">' in page.text
    assert "Bảng thống kê" in page.text and "30 ngày" in page.text
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "connect-src 'self'" in csp
    # Every script and style is this service's own: no CDN, so the page works offline.
    sources = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert sources and all(s.startswith(("/", "?")) for s in sources), sources
    english = await client.get("/dashboard/demo.local", params={"lang": "en"})
    assert '<html lang="en">' in english.text and "Most viewed pages" in english.text
    assert (await client.get("/dashboard/nosuch.vn")).status_code == 404
    assert (await client.get("/dashboard/demo.local", params={"lang": "fr"})).status_code == 400


async def test_the_vendored_chart_is_the_pinned_file_named_beside_it(
    client: httpx.AsyncClient, site: Site
) -> None:
    readme = (VENDOR / "README.md").read_text()
    [name] = [p.name for p in VENDOR.glob("uplot-*.iife.min.js")]
    version = name.removeprefix("uplot-").removesuffix(".iife.min.js")
    body = (VENDOR / name).read_bytes()
    assert hashlib.sha256(body).hexdigest() in readme
    assert f"(v{version})" in body[:200].decode()  # the banner uPlot's build writes
    assert (VENDOR / f"uplot-{version}.LICENSE").read_text().startswith("The MIT License")
    served = await client.get(f"/vendor/{name}")
    assert served.status_code == 200 and served.content == body
    assert served.headers["content-type"].startswith("text/javascript")
    again = await client.get(f"/vendor/{name}", headers={"If-None-Match": served.headers["etag"]})
    assert again.status_code == 304
    for asset in ("/dashboard.js", "/dashboard.css"):
        assert (await client.get(asset)).status_code == 200


async def test_the_data_of_a_private_dashboard_needs_the_sites_read_token(
    client: httpx.AsyncClient, store: Store, site: Site
) -> None:
    await store.registry.put(make_site(id="other.vn", domains=["other.vn"]))
    read = await token(store)
    other = await token(store, "other.vn")
    ingest = await token(store, scope=KeyScope.ingest)
    url = "/api/dashboard/demo.local"
    missing = await client.get(url)
    assert missing.status_code == 401 and "read token" in missing.json()["detail"]
    assert (await client.get(url, headers=bearer(read + "x"))).status_code == 401
    assert (await client.get(url, headers=bearer(other))).status_code == 403
    assert (await client.get(url, headers=bearer(ingest))).status_code == 403
    assert (await client.get(url, headers=bearer(read))).status_code == 200
    assert (await client.get(url, headers=bearer(ADMIN))).status_code == 200
    export = await client.get(f"{url}/export")
    assert export.status_code == 401


async def test_a_public_dashboard_opens_without_a_token(
    client: httpx.AsyncClient, store: Store, site: Site
) -> None:
    await store.registry.put(site.model_copy(update={"public_dashboard": True}))
    store.sites.forget(site.id)
    answer = await client.get("/api/dashboard/demo.local", params={"days": 7})
    assert answer.status_code == 200
    assert len(answer.json()["rows"]) == 7


async def test_the_data_holds_the_days_asked_the_top_pages_and_the_exclusions(
    client: httpx.AsyncClient, store: Store, site: Site
) -> None:
    for url, ua in (("/a", BROWSER_A), ("/a", BROWSER_B), ("/b", BROWSER_A)):
        assert (await post_hit(client, f"https://demo.local{url}", ua=ua)).status_code == 200
    await post_hit(client, "https://demo.local/a", ua="")  # a bot
    await run_pass(store, store.clock.now())
    answer = await client.get(
        "/api/dashboard/demo.local", params={"days": 3}, headers=bearer(await token(store))
    )
    data = answer.json()
    assert answer.headers["cache-control"] == "private, no-store"
    assert [r["date"] for r in data["rows"]] == ["2026-11-23", "2026-11-24", "2026-11-25"]
    assert data["rows"][-1] == {"date": "2026-11-25", "pageviews": 3, "visits": 2, "visitors": 2}
    assert data["excluded"]["bot"] == 1
    assert data["summary"]["today"] == 2
    assert data["top_pages"] == [{"path": "/a", "views": 2}, {"path": "/b", "views": 1}]
    assert {"from": data["from"], "to": data["to"]} == {"from": "2026-11-23", "to": "2026-11-25"}
    ranged = await client.get(
        "/api/dashboard/demo.local",
        params={"from": "2026-11-01", "to": "2026-11-30"},
        headers=bearer(ADMIN),
    )
    assert len(ranged.json()["rows"]) == 30
    backwards = await client.get(
        "/api/dashboard/demo.local",
        params={"from": "2026-11-30", "to": "2026-11-01"},
        headers=bearer(ADMIN),
    )
    assert backwards.status_code == 400 and "from" in backwards.json()["detail"]


async def test_top_pages_keeps_only_the_most_viewed_of_many(store: Store, site: Site) -> None:
    views = {f"/p/{n}": n for n in range(1, 2501)}  # more than one HSCAN page
    await store.redis.hset(store.keys.site(site.id).page_views, mapping=views)
    top = await top_pages(store, site.id, 3)
    assert top == [
        {"path": "/p/2500", "views": 2500},
        {"path": "/p/2499", "views": 2499},
        {"path": "/p/2498", "views": 2498},
    ]
    with pytest.raises(InvalidInput, match="limit"):
        await top_pages(store, site.id, 0)


async def test_the_export_is_a_csv_download_of_the_range(
    client: httpx.AsyncClient, store: Store, site: Site
) -> None:
    await post_hit(client, "https://demo.local/a")
    answer = await client.get(
        "/api/dashboard/demo.local/export", params={"days": 2}, headers=bearer(ADMIN)
    )
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/csv")
    assert (
        'filename="demo.local-2026-11-24-2026-11-25.csv"' in answer.headers["content-disposition"]
    )
    assert answer.text == ("date,pageviews,visits,visitors\n2026-11-24,0,0,0\n2026-11-25,1,1,1\n")
    as_json = await client.get(
        "/api/dashboard/demo.local/export",
        params={"days": 1, "format": "json"},
        headers=bearer(ADMIN),
    )
    assert as_json.json()["rows"] == [
        {"date": "2026-11-25", "pageviews": 1, "visits": 1, "visitors": 1}
    ]
