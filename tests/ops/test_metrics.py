"""/metrics of one app over ASGI: a fresh registry per app, a real store, real scrapes."""

from __future__ import annotations

import platform
import shutil
from pathlib import Path

import httpx
import pytest

from api.app import create_app
from counter.clock import FakeClock
from counter.settings import Settings
from counter.sites import Site
from tests.helpers import GOOGLEBOT, post_hit
from tests.ops.conftest import promtool_check_metrics, samples, value
from tests.servers import ValkeyProcess

HITS = "visitor_stats_hits_total"
DURATION = "visitor_stats_http_request_duration_seconds_count"


async def test_every_hit_is_counted_by_configured_site_and_outcome(
    client: httpx.AsyncClient, site: Site
) -> None:
    assert (await post_hit(client)).status_code == 200
    assert (await post_hit(client, ua=GOOGLEBOT)).status_code == 200
    assert (await post_hit(client, origin="https://elsewhere.example")).status_code == 403
    assert (await post_hit(client, site="nobody.example")).status_code == 404
    bad = await client.post(
        "/api/hit", content=b"{not json", headers={"Origin": "https://demo.local"}
    )
    assert bad.status_code == 400

    found = samples((await client.get("/metrics")).text)
    assert value(found, HITS, site="demo.local", outcome="counted") == 1
    assert value(found, HITS, site="demo.local", outcome="bot") == 1
    assert value(found, HITS, site="demo.local", outcome="origin_rejected") == 1
    # A site nobody configured never becomes a label value: it is counted under site="".
    assert value(found, HITS, site="", outcome="unknown_site") == 1
    assert value(found, HITS, site="", outcome="invalid") == 1
    assert not any("nobody.example" in str(key) for key in found)


async def test_requests_are_timed_by_route_template_and_status_class(
    client: httpx.AsyncClient, site: Site
) -> None:
    await post_hit(client)
    await client.get("/api/stats", params={"site": "demo.local"})
    await client.get("/no/such/path/42")
    await client.delete("/api/admin/sites/demo.local")  # no token: 401
    await client.options(
        "/api/hit",
        headers={"Origin": "https://demo.local", "Access-Control-Request-Method": "POST"},
    )
    found = samples((await client.get("/metrics")).text)
    labels = {dict(k[1]).get("route") for k in found if k[0] == DURATION}
    assert labels == {"/api/hit", "/api/stats", "unmatched", "/api/admin/sites/{site}", "preflight"}
    assert value(found, DURATION, route="/api/hit", method="POST", status_class="2xx") == 1
    assert value(found, DURATION, route="unmatched", method="GET", status_class="4xx") == 1
    route = "/api/admin/sites/{site}"
    assert value(found, DURATION, route=route, method="DELETE", status_class="4xx") == 1
    assert value(found, "visitor_stats_http_requests_in_flight") == 0


async def test_a_scrape_changes_nothing_the_next_scrape_reads(
    client: httpx.AsyncClient, site: Site
) -> None:
    await post_hit(client)
    first = (await client.get("/metrics")).text
    second = (await client.get("/metrics")).text
    # Only the store-call histogram may move (none happens during a scrape either).
    assert samples(first) == samples(second)


async def test_store_calls_are_timed_and_the_store_is_up(
    client: httpx.AsyncClient, site: Site
) -> None:
    await post_hit(client)
    found = samples((await client.get("/metrics")).text)
    assert value(found, "visitor_stats_redis_call_duration_seconds_count") >= 1
    assert value(found, "visitor_stats_redis_up") == 1
    python = platform.python_version()
    assert value(found, "visitor_stats_build_info", version="0.1.0", python=python) == 1


async def test_an_unreachable_store_is_counted_as_errors_and_down(
    tmp_path: Path, clock: FakeClock
) -> None:
    """A real server, stopped under the app: the errors and redis_up come from real calls."""
    server = ValkeyProcess(tmp_path / "valkey").start()
    settings = Settings(redis_url=server.url, key_prefix="tdeadstore01", data_dir=tmp_path / "var")
    app = create_app(settings, clock)
    try:
        async with app.fastapi.router.lifespan_context(app.fastapi):
            transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 50000))
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
                assert (
                    value(samples((await http.get("/metrics")).text), "visitor_stats_redis_up") == 1
                )
                server.stop()
                assert (await post_hit(http)).status_code == 202  # acknowledged, spooled
                found = samples((await http.get("/metrics")).text)
    finally:
        server.stop()
    assert value(found, "visitor_stats_redis_up") == 0
    assert value(found, "visitor_stats_redis_errors_total", error="connection") >= 1
    assert value(found, "visitor_stats_spool_hits") == 1
    assert value(found, "visitor_stats_spool_replayed_total") == 0
    # The app never saw the site before the store went: no label from an unchecked id.
    assert value(found, "visitor_stats_hits_total", site="", outcome="spooled") == 1
    assert value(found, DURATION, route="/api/hit", method="POST", status_class="2xx") == 1


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool (Debian prometheus) missing")
async def test_promtool_finds_nothing_to_lint_in_a_scrape(
    client: httpx.AsyncClient, site: Site
) -> None:
    await post_hit(client)
    await post_hit(client, ua=GOOGLEBOT)
    text = (await client.get("/metrics")).text
    checked = promtool_check_metrics(text)
    assert checked.returncode == 0, checked.stdout + checked.stderr
