"""The site owner's dashboard over HTTP (issue 15): the page shell, its data behind a read token
unless the site is public, the CSV export, the most viewed pages, and the vendored chart."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import httpx

from aggregator.rollup import run_pass
from counter.access import KeyScope, issue_key
from counter.clock import FakeClock
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
    assert data["top_period"] == "week"  # 23 to 25 November 2026: this week, Monday on
    assert [(p["url"], p["page_views"]) for p in data["top_pages"]] == [("/a", 2), ("/b", 1)]
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


async def dashboard(client: httpx.AsyncClient, **params: str | int) -> dict[str, object]:
    answer = await client.get("/api/dashboard/demo.local", params=params, headers=bearer(ADMIN))
    assert answer.status_code == 200, answer.text
    data: dict[str, object] = answer.json()
    return data


def ranked(data: dict[str, object]) -> list[tuple[str, int]]:
    pages = data["top_pages"]
    assert isinstance(pages, list)
    return [(p["url"], p["page_views"]) for p in pages]


async def test_the_top_pages_are_the_ranked_set_of_the_period_holding_the_range(
    client: httpx.AsyncClient, store: Store, site: Site, clock: FakeClock
) -> None:
    # An old counter's all-time views, in the page-views hash only: never a period's ranking.
    await store.redis.hset(store.keys.site(site.id).page_views, mapping={"/old": 5000})
    for url, ua in (("/a", BROWSER_A), ("/a", BROWSER_B), ("/b", BROWSER_A)):
        assert (await post_hit(client, f"https://demo.local{url}", ua=ua)).status_code == 200
    clock.advance(days=1)  # Thursday 26 November 2026
    assert (await post_hit(client, "https://demo.local/c")).status_code == 200
    today = await dashboard(client, days=1)
    assert (today["top_period"], ranked(today)) == ("today", [("/c", 1)])
    two = await dashboard(client, days=2)
    assert (two["top_period"], ranked(two)) == ("week", [("/a", 2), ("/c", 1), ("/b", 1)])
    # 28 October to 26 November: no month holds it, this year does.
    month = await dashboard(client, days=30)
    assert month["top_period"] == "year" and ("/old", 5000) not in ranked(month)
    last_year = await dashboard(client, **{"from": "2025-03-01", "to": "2025-03-31"})
    assert last_year["top_period"] == "last_year" and ranked(last_year) == []
    older = await dashboard(client, **{"from": "2024-12-01", "to": "2025-01-31"})
    assert older["top_period"] == "total"
    # The owner may pick the period; it is one of the ranked ones.
    yesterday = await dashboard(client, days=30, top="yesterday")
    assert (yesterday["top_period"], ranked(yesterday)) == ("yesterday", [("/a", 2), ("/b", 1)])
    wrong = await client.get(
        "/api/dashboard/demo.local", params={"top": "decade"}, headers=bearer(ADMIN)
    )
    assert wrong.status_code == 400 and "period" in wrong.json()["detail"]


async def test_the_exclusions_are_todays_and_say_so_whatever_the_range(
    client: httpx.AsyncClient, store: Store, site: Site, clock: FakeClock
) -> None:
    await post_hit(client, "https://demo.local/a", ua="")  # a bot, on Wednesday
    clock.advance(days=1)
    await post_hit(client, "https://demo.local/a", ua="")
    await post_hit(client, "https://demo.local/a", ua="")
    await run_pass(store, clock.now())
    for days in (1, 7, 90):
        data = await dashboard(client, days=days)
        excluded = data["excluded"]
        assert isinstance(excluded, dict)
        assert (data["excluded_period"], excluded["bot"]) == ("today", 2), days
    # Both panels are labelled on the page by the periods the data names.
    page = (await client.get("/dashboard/demo.local")).text
    assert 'id="vs-top-period"' in page and 'id="vs-excluded-period"' in page
    assert "Không tính hôm nay" not in page  # the heading no longer hard-codes it


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
