from __future__ import annotations

import asyncio

import httpx
import orjson
import pytest
from starlette.types import Message

from aggregator.rollup import run_pass
from api.app import create_app
from counter.clock import FakeClock
from counter.settings import Settings
from counter.sites import Site
from counter.storage.store import Store
from tests.helpers import BROWSER_A, BROWSER_B, GOOGLEBOT, post_hit
from tests.ops.conftest import samples, value

STORE_CALLS = "visitor_stats_redis_call_duration_seconds_count"


async def pageviews_today(store: Store, site: Site) -> int:
    return int(await store.redis.hget(store.keys.site(site.id).totals, "pageviews") or 0)


async def test_pageview_answers_the_box_and_its_page_views(
    client: httpx.AsyncClient, site: Site
) -> None:
    for _ in range(3):
        answer = await post_hit(client, "https://demo.local/a", ua=BROWSER_A)
    assert answer.status_code == 200
    assert answer.json() == {
        "page_views": 3,
        "online": 1,
        "today": 1,
        "week": 1,
        "month": 1,
        "year": 1,
        "total": 1,
    }
    assert answer.headers["cache-control"] == "no-store"


async def store_calls(client: httpx.AsyncClient) -> float:
    """Round trips the app made to the store: every command or pipeline it sent, as timed by
    its own instrumentation of the client (a scrape makes none)."""
    return value(samples((await client.get("/metrics")).text), STORE_CALLS)


async def test_a_hit_is_one_round_trip_and_hits_arriving_together_share_one(
    client: httpx.AsyncClient, store: Store, site: Site
) -> None:
    assert (await post_hit(client)).status_code == 200  # the site's config and salt, cached
    before = await store_calls(client)
    assert (await post_hit(client, ua=BROWSER_B)).status_code == 200
    assert await store_calls(client) - before == 1

    before = await store_calls(client)
    answers = await asyncio.gather(
        *(post_hit(client, f"https://demo.local/p{i}", ua=f"{BROWSER_A} n{i}") for i in range(20))
    )
    assert {a.status_code for a in answers} == {200}
    assert sorted(a.json()["page_views"] for a in answers) == [1] * 20
    assert await store_calls(client) - before < 20
    assert await pageviews_today(store, site) == 22


async def test_a_client_gone_before_its_body_ended_is_neither_answered_nor_counted(
    settings: Settings, clock: FakeClock, store: Store, site: Site
) -> None:
    # The part that came is valid JSON on its own: it must still not count.
    messages: list[Message] = [
        {"type": "http.request", "body": b'{"site": "demo.local", "url": "/a"}', "more_body": True},
        {"type": "http.disconnect"},
    ]
    sent: list[Message] = []

    async def receive() -> Message:
        return messages.pop(0)

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/api/hit",
        "query_string": b"",
        "headers": [(b"origin", b"https://demo.local"), (b"content-type", b"text/plain")],
        "client": ("203.0.113.7", 50000),
    }
    app = create_app(settings, clock)
    async with app.fastapi.router.lifespan_context(app.fastapi):
        await app(scope, receive, send)
    assert sent == []
    assert messages == []
    assert await pageviews_today(store, site) == 0


async def test_send_beacon_text_plain_body_is_accepted(
    client: httpx.AsyncClient, store: Store, site: Site
) -> None:
    answer = await client.post(
        "/api/hit",
        content=orjson.dumps({"site": "demo.local", "url": "/a"}),
        headers={
            "Content-Type": "text/plain;charset=UTF-8",
            "Origin": "https://demo.local",
            "User-Agent": BROWSER_A,
        },
    )
    assert answer.status_code == 200
    assert await pageviews_today(store, site) == 1


async def test_heartbeat_answers_204(client: httpx.AsyncClient, store: Store, site: Site) -> None:
    answer = await post_hit(client, event="heartbeat")
    assert answer.status_code == 204
    assert await pageviews_today(store, site) == 0


async def test_bot_is_answered_normally_but_not_counted(
    client: httpx.AsyncClient, store: Store, site: Site
) -> None:
    answer = await post_hit(client, ua=GOOGLEBOT)
    assert answer.status_code == 200
    assert await pageviews_today(store, site) == 0


async def test_hit_gif_records_a_pageview_from_the_referer(
    client: httpx.AsyncClient, store: Store, site: Site
) -> None:
    answer = await client.get(
        "/api/hit.gif",
        params={"site": "demo.local"},
        headers={"Referer": "https://demo.local/khong-js", "User-Agent": BROWSER_B},
    )
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "image/gif"
    assert answer.content.startswith(b"GIF89a")
    assert await pageviews_today(store, site) == 1


async def test_a_pixel_without_referer_counts_by_its_own_url_on_the_sites_domain(
    client: httpx.AsyncClient, store: Store, site: Site
) -> None:
    """A page with <meta name="referrer" content="no-referrer"> sends neither Origin nor
    Referer: the pixel's absolute url is checked against the site's domains instead."""
    own = {"site": "demo.local", "url": "https://demo.local/tin-tuc/4"}
    answer = await client.get("/api/hit.gif", params=own, headers={"User-Agent": BROWSER_B})
    assert answer.status_code == 200
    assert await pageviews_today(store, site) == 1
    for url in ("https://evil.example/tin-tuc/4", "/tin-tuc/4"):  # foreign, or no host at all
        refused = await client.get(
            "/api/hit.gif", params={**own, "url": url}, headers={"User-Agent": BROWSER_B}
        )
        assert refused.status_code == 403, url
        assert "not one of the domains" in refused.json()["detail"]
    assert await pageviews_today(store, site) == 1


BAD_HITS = [
    ("unknown site", {"json": {"site": "nope.local", "url": "/a"}}, 404, "unknown site"),
    (
        "foreign origin",
        {"json": {"site": "demo.local", "url": "/a"}, "origin": "https://evil.example"},
        403,
        "not one of the domains",
    ),
    ("broken json", {"content": b'{"site": "demo.local", "url": '}, 400, "not valid JSON"),
    ("1 MB body", {"content": b"x" * 1_000_000}, 413, "larger than"),
    ("brace in site id", {"json": {"site": "demo{x}", "url": "/a"}}, 400, "site id"),
    ("number for url", {"json": {"site": "demo.local", "url": 5}}, 400, "url must be a string"),
    ("missing url", {"json": {"site": "demo.local"}}, 400, "url is required"),
    ("empty body", {"content": b""}, 400, "empty"),
    ("json array", {"json": ["demo.local"]}, 400, "JSON object"),
    ("invalid utf-8", {"content": b'{"site": "demo.local", "url": "/\xff"}'}, 400, "JSON"),
    ("nul in url", {"json": {"site": "demo.local", "url": "/a\u0000b"}}, 400, "NUL"),
    ("bad event", {"json": {"site": "demo.local", "url": "/a", "event": "click"}}, 400, "event"),
    ("javascript url", {"json": {"site": "demo.local", "url": "javascript:alert(1)"}}, 400, "url"),
]


@pytest.mark.parametrize(
    ("name", "request_args", "status", "detail"), BAD_HITS, ids=[b[0] for b in BAD_HITS]
)
async def test_bad_input_gets_its_4xx_with_a_detail_and_counts_nothing(
    client: httpx.AsyncClient,
    store: Store,
    site: Site,
    name: str,
    request_args: dict[str, object],
    status: int,
    detail: str,
) -> None:
    args = dict(request_args)
    headers = {"Origin": str(args.pop("origin", "https://demo.local")), "User-Agent": BROWSER_A}
    answer = await client.post("/api/hit", headers=headers, **args)  # type: ignore[arg-type]
    assert answer.status_code == status, answer.text
    assert detail in answer.json()["detail"]
    assert await pageviews_today(store, site) == 0


async def test_wrong_method_is_405_with_a_detail(client: httpx.AsyncClient) -> None:
    answer = await client.put("/api/hit", json={})
    assert answer.status_code == 405
    assert answer.json()["detail"]


async def test_cors_preflight_allows_the_snippet(client: httpx.AsyncClient) -> None:
    answer = await client.options(
        "/api/hit",
        headers={
            "Origin": "https://demo.local",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
    )
    assert answer.status_code == 200
    assert answer.headers["access-control-allow-origin"] == "*"


async def test_stats_is_cacheable_and_answers_304_to_its_etag(
    client: httpx.AsyncClient, store: Store, site: Site, clock: FakeClock
) -> None:
    await post_hit(client)
    await run_pass(store, clock.now())
    answer = await client.get(
        "/api/stats", params={"site": "demo.local", "url": "https://demo.local/a"}
    )
    assert answer.status_code == 200
    body = answer.json()
    assert (body["today"], body["page_views"], body["measure"], body["stale"]) == (
        1,
        1,
        "visits",
        False,
    )
    assert body["definitions"]["week_start"] == "monday"
    assert "max-age=5" in answer.headers["cache-control"]
    again = await client.get(
        "/api/stats",
        params={"site": "demo.local", "url": "https://demo.local/a"},
        headers={"If-None-Match": answer.headers["etag"]},
    )
    assert again.status_code == 304


async def test_stats_before_any_pass_is_zero_and_stale(
    client: httpx.AsyncClient, site: Site
) -> None:
    body = (await client.get("/api/stats", params={"site": "demo.local"})).json()
    assert (body["total"], body["stale"]) == (0, True)


@pytest.mark.parametrize(
    ("params", "status"),
    [({"site": "nope.local"}, 404), ({"site": "a b"}, 400), ({}, 400), ({"site": "x" * 200}, 400)],
)
async def test_stats_errors(
    client: httpx.AsyncClient, site: Site, params: dict[str, str], status: int
) -> None:
    answer = await client.get("/api/stats", params=params)
    assert answer.status_code == status
    assert isinstance(answer.json()["detail"], str)


async def test_history_rows(
    client: httpx.AsyncClient, store: Store, site: Site, clock: FakeClock
) -> None:
    await post_hit(client)
    answer = await client.get(
        "/api/stats/history",
        params={"site": "demo.local", "from": "2026-11-24", "to": "2026-11-25"},
    )
    assert answer.json()["rows"] == [
        {"date": "2026-11-24", "pageviews": 0, "visits": 0, "visitors": 0},
        {"date": "2026-11-25", "pageviews": 1, "visits": 1, "visitors": 1},
    ]
    bad = await client.get(
        "/api/stats/history",
        params={"site": "demo.local", "from": "2026-11-26", "to": "2026-11-25"},
    )
    assert bad.status_code == 400
    bad = await client.get(
        "/api/stats/history", params={"site": "demo.local", "from": "yesterday", "to": "2026-11-25"}
    )
    assert bad.status_code == 400 and "YYYY-MM-DD" in bad.json()["detail"]


async def test_admin_writes_need_the_token(
    client: httpx.AsyncClient, store: Store, site: Site
) -> None:
    body = {"id": "new.vn", "domains": ["new.vn"]}
    assert (await client.post("/api/admin/sites", json=body)).status_code == 401
    wrong = {"Authorization": "Bearer wrong-token-wrong-token"}
    assert (await client.post("/api/admin/sites", json=body, headers=wrong)).status_code == 401
    good = {"Authorization": "Bearer test-admin-token-0123456789"}
    assert (await client.post("/api/admin/sites", json=body, headers=good)).status_code == 201
    assert "new.vn" in await store.registry.ids()
    bad_tz = await client.post(
        "/api/admin/sites", json={**body, "timezone": "Mars/Olympus"}, headers=good
    )
    assert bad_tz.status_code == 400 and "IANA" in bad_tz.json()["detail"]
    adjusted = await client.post(
        "/api/admin/sites/demo.local/adjustments",
        json={"total": 1000, "reason": "import"},
        headers=good,
    )
    assert adjusted.status_code == 201
    ledger = (await client.get("/api/stats/adjustments", params={"site": "demo.local"})).json()
    assert ledger["adjustments"][0]["after"] == 1000


async def test_health_and_readiness(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    assert (await client.get("/readyz")).json() == {"status": "ready", "spooled": 0}


async def test_openapi_documents_every_route_and_its_errors(client: httpx.AsyncClient) -> None:
    schema = (await client.get("/openapi.json")).json()
    hit = schema["paths"]["/api/hit"]["post"]
    assert {"400", "403", "404", "413"} <= set(hit["responses"])
    assert "text/plain" in hit["requestBody"]["content"]
    for path in ("/api/stats", "/api/stats/history", "/api/hit.gif", "/healthz", "/readyz"):
        assert path in schema["paths"]


async def test_the_site_chooses_how_the_box_prints_numbers(
    client: httpx.AsyncClient, store: Store, clock: FakeClock
) -> None:
    good = {"Authorization": "Bearer test-admin-token-0123456789"}
    body = {"id": "en.example", "domains": ["en.example"], "locale": "en", "grouping": ","}
    assert (await client.post("/api/admin/sites", json=body, headers=good)).status_code == 201
    await run_pass(store, clock.now())
    stats = (await client.get("/api/stats", params={"site": "en.example"})).json()
    assert stats["display"] == {"locale": "en", "grouping": ","}
    bad = await client.post("/api/admin/sites", json={**body, "grouping": "_"}, headers=good)
    assert bad.status_code == 400
