from __future__ import annotations

from datetime import timedelta

import httpx

from aggregator.rollup import run_pass
from counter.clock import FakeClock
from counter.record.recorder import Recorder
from counter.sites import Site
from counter.storage.store import Store
from tests.helpers import hit


async def test_stats_reads_are_cacheable_and_revalidate_with_304(
    client: httpx.AsyncClient, site: Site
) -> None:
    for path, params in (
        ("/api/stats", {"site": site.id}),
        ("/api/stats/history", {"site": site.id, "from": "2026-11-20", "to": "2026-11-25"}),
    ):
        first = await client.get(path, params=params, headers={"Origin": "https://a.example"})
        assert first.status_code == 200
        assert first.headers["content-type"] == "application/json"
        assert first.headers["cache-control"].startswith("public, max-age=5")
        assert first.headers["access-control-allow-origin"] == "*"
        etag = first.headers["etag"]
        again = await client.get(path, params=params, headers={"If-None-Match": etag})
        assert again.status_code == 304, path
        assert again.content == b""
        assert again.headers["etag"] == etag
        other = await client.get(path, params=params, headers={"If-None-Match": '"stale"'})
        assert other.status_code == 200
        assert other.json() == first.json()


async def test_a_new_summary_gets_a_new_etag_and_body_though_each_answer_is_encoded_once(
    client: httpx.AsyncClient, store: Store, recorder: Recorder, site: Site, clock: FakeClock
) -> None:
    """The worker encodes an answer once and hands out those bytes while the answer is fresh;
    a new answer (after a pass, once the short copy expired) is encoded anew."""
    params = {"site": site.id}
    await run_pass(store, clock.now())
    first = await client.get("/api/stats", params=params)
    assert (await client.get("/api/stats", params=params)).headers["etag"] == first.headers["etag"]
    await hit(recorder, "/a")
    await run_pass(store, clock.now())
    clock.advance(timedelta(seconds=store.settings.stats_cache_s + 1))
    second = await client.get("/api/stats", params=params)
    assert second.json()["today"] == first.json()["today"] + 1
    assert second.headers["etag"] != first.headers["etag"]
    again = await client.get(
        "/api/stats", params=params, headers={"If-None-Match": first.headers["etag"]}
    )
    assert again.status_code == 200 and again.json() == second.json()
