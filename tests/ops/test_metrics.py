"""/metrics of one app over ASGI: a fresh registry per app, a real store, real scrapes."""

from __future__ import annotations

import asyncio
import platform
import shutil
from pathlib import Path

import httpx
import pytest
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

from api.app import create_app
from api.metrics import HTTP_BUCKETS
from counter.clock import FakeClock
from counter.settings import Settings
from counter.sites import Site
from counter.telemetry import LocalCounter, LocalHistogram
from tests.helpers import BROWSER_A, GOOGLEBOT, post_hit
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


async def test_hits_sent_are_the_hits_scraped_and_none_touch_prometheus_on_the_way(
    settings: Settings, clock: FakeClock, site: Site
) -> None:
    """Many hits at once: the scrape counts each once; before it, the registry has none."""
    app = create_app(settings, clock)
    metrics = app.fastapi.state.metrics
    publications = []
    original = metrics.publish

    def publish_and_count() -> None:
        publications.append(1)
        original()

    metrics.publish = publish_and_count
    async with app.fastapi.router.lifespan_context(app.fastapi):
        transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 50000))
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            answers = []
            for start in range(0, 300, 50):
                answers += await asyncio.gather(
                    *(
                        post_hit(http, ua=GOOGLEBOT if n % 3 == 0 else f"{BROWSER_A} n{n}")
                        for n in range(start, start + 50)
                    )
                )
            assert {a.status_code for a in answers} == {200}
            before = metrics.registry.get_sample_value(
                HITS, {"site": "demo.local", "outcome": "bot"}
            )
            published_before = len(publications)
            found = samples((await http.get("/metrics")).text)
    # Counted in the process only: unless the publisher ticked meanwhile (once a second of
    # real time), nothing reached prometheus_client.
    assert before is None or published_before > 0
    outcomes = {dict(k[1])["outcome"]: v for k, v in found.items() if k[0] == HITS}
    assert value(found, HITS, site="demo.local", outcome="bot") == 100
    assert sum(outcomes.values()) == 300  # counted, or rate limited (one client address)
    assert value(found, DURATION, route="/api/hit", method="POST", status_class="2xx") == 300
    assert value(found, "visitor_stats_http_requests_in_flight") == 0


async def test_the_publisher_ticks_while_the_app_runs(
    settings: Settings, clock: FakeClock, site: Site
) -> None:
    metrics = create_app(settings, clock).fastapi.state.metrics
    metrics.observe_hit("demo.local", "counted")
    published = asyncio.Event()
    original = metrics.publish

    def publish_and_tell() -> None:
        original()
        published.set()

    metrics.publish = publish_and_tell
    async with metrics.publishing(interval_s=0.01):
        await asyncio.wait_for(published.wait(), timeout=5)
        labels = {"site": "demo.local", "outcome": "counted"}
        assert metrics.registry.get_sample_value(HITS, labels) == 1


def test_local_observations_publish_as_prometheus_observations_would() -> None:
    """LocalHistogram writes the histogram's own bucket and sum values: same text as observe."""
    values = [0.0, 0.0004, 0.001, 0.0011, 0.003, 0.02, 0.3, 4.9, 5.0, 7.5, 120.0]
    direct_registry, local_registry = CollectorRegistry(), CollectorRegistry()
    direct = Histogram("t_seconds", "t", ["route"], buckets=HTTP_BUCKETS, registry=direct_registry)
    via = Histogram("t_seconds", "t", ["route"], buckets=HTTP_BUCKETS, registry=local_registry)
    local = LocalHistogram(HTTP_BUCKETS)
    for n, seconds in enumerate(values):
        direct.labels("/a").observe(seconds)
        local.observe(seconds)
        if n % 4 == 0:
            local.publish_to(via.labels("/a"))  # several publications add up
    local.publish_to(via.labels("/a"))
    local.publish_to(via.labels("/a"))  # nothing new: changes nothing

    def without_created(registry: CollectorRegistry) -> dict[object, float]:
        found = samples(generate_latest(registry).decode(), "t_")
        return {k: v for k, v in found.items() if not k[0].endswith("_created")}

    published, observed = without_created(local_registry), without_created(direct_registry)
    assert published.keys() == observed.keys()
    assert published == pytest.approx(observed)  # the sum, added in parts, to rounding


def test_local_counts_publish_only_what_is_new() -> None:
    registry = CollectorRegistry()
    counter = Counter("t_hits_total", "t", ["site"], registry=registry)
    local = LocalCounter()
    for _ in range(3):
        local.inc("a")
    local.publish_to(counter)
    local.inc("a")
    local.inc("b")
    local.publish_to(counter)
    local.publish_to(counter)
    assert registry.get_sample_value("t_hits_total", {"site": "a"}) == 4
    assert registry.get_sample_value("t_hits_total", {"site": "b"}) == 1
