"""Floods from one visitor: acknowledged, never a 5xx, counted within the cap."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import httpx

from aggregator.rollup import run_pass
from counter.clock import FakeClock
from counter.figures.stats import read_stats
from counter.record.recorder import Recorder
from counter.sites import Site
from counter.storage.store import Store
from tests.helpers import BROWSER_A, hit

CAP = 30  # the default VISITOR_STATS_RATE_PER_VISITOR_PER_MIN


async def pageviews(store: Store, site: Site) -> int:
    return int(await store.redis.hget(store.keys.site(site.id).totals, "pageviews") or 0)


async def test_ten_thousand_hits_from_one_visitor_are_counted_within_the_cap(
    store: Store, recorder: Recorder, site: Site, clock: FakeClock
) -> None:
    """10,000 pageviews over ten minutes (1,000 a minute, 100 at a time): 30 a minute count."""
    assert store.settings.rate_per_visitor_per_min == CAP
    clock.set(clock.now().replace(second=0, microsecond=0))
    results = []
    for _ in range(100):
        results += await asyncio.gather(*(hit(recorder, "/a") for _ in range(100)))
        clock.advance(timedelta(seconds=6))
    counted = sum(r.counted for r in results)
    assert counted == CAP * 10
    assert {r.excluded for r in results if not r.counted} == {"rate_limited"}
    assert await pageviews(store, site) == CAP * 10
    await run_pass(store, clock.now())
    stats = await read_stats(store, site.id)
    assert stats["excluded"]["rate_limited"] == 10_000 - CAP * 10
    assert stats["visits"]["today"] == 1


async def test_a_1500_hit_flood_over_http_is_never_a_5xx_and_counted_at_most_150_times(
    client: httpx.AsyncClient, store: Store, site: Site, clock: FakeClock
) -> None:
    clock.set(clock.now().replace(second=0, microsecond=0))
    headers = {"Origin": "https://demo.local", "User-Agent": BROWSER_A}
    statuses: dict[int, int] = {}
    for step in range(15):  # 1,500 hits in 100-hit bursts, 12 s apart: three minutes
        answers = await asyncio.gather(
            *(
                client.post("/api/hit", json={"site": "demo.local", "url": "/a"}, headers=headers)
                for _ in range(100)
            )
        )
        for answer in answers:
            statuses[answer.status_code] = statuses.get(answer.status_code, 0) + 1
        if step % 5 == 4:
            clock.advance(minutes=1)
    assert statuses == {200: 1500}
    counted = await pageviews(store, site)
    assert counted <= 150
    assert counted == CAP * 3
    last = answers[-1].json()
    # Over the cap the box answers as if the hit had counted (issue 12: the flood must not see
    # the cap in the page's views), while the store holds only what counted.
    assert last["page_views"] > counted
