"""Inflation within the flood caps: what one address can add to the box in a minute."""

from __future__ import annotations

from aggregator.rollup import prune_pages, run_pass
from counter.clock import FakeClock
from counter.record.hit import Event
from counter.record.recorder import Recorder
from counter.sites import Site
from counter.storage.store import Store
from tests.helpers import BROWSER_A, hit

FLOODER = "198.51.100.66"


async def totals(store: Store, site: Site) -> dict[str, int]:
    raw = await store.redis.hgetall(store.keys.site(site.id).totals)
    return {k.decode(): int(v) for k, v in raw.items()}


async def test_a_user_agent_rotated_on_every_hit_brings_at_most_the_cap_of_visitors(
    store: Store, recorder: Recorder, site: Site, clock: FakeClock
) -> None:
    clock.set(clock.now().replace(second=0))
    assert store.settings.rate_visitors_per_address_per_min == 100
    results = [await hit(recorder, ua=f"{BROWSER_A} r{n}", ip=FLOODER) for n in range(300)]
    assert sum(r.counted for r in results) == 60  # one page, one address: its page cap first
    store.settings.rate_per_page_per_address_per_min = 0
    clock.advance(minutes=1)
    results = [
        await hit(recorder, f"/p{n % 5}", ua=f"{BROWSER_A} s{n}", ip=FLOODER) for n in range(300)
    ]
    assert sum(r.counted for r in results) == 100
    assert (await totals(store, site))["visits"] == 160
    assert results[-1].box["online"] == 160  # the shed ones left no presence
    clock.advance(minutes=1)
    assert (await hit(recorder, ua=f"{BROWSER_A} new", ip=FLOODER)).counted


async def test_an_address_views_one_page_at_most_the_page_cap_a_minute(
    store: Store, recorder: Recorder, site: Site, clock: FakeClock
) -> None:
    clock.set(clock.now().replace(second=0))
    store.settings.rate_per_page_per_address_per_min = 5
    results = [await hit(recorder, "/a", ua=f"{BROWSER_A} r{n}", ip=FLOODER) for n in range(8)]
    assert [r.counted for r in results] == [True] * 5 + [False] * 3
    # Answered as if counted: the flood cannot read the cap off the page's views.
    assert [r.box["page_views"] for r in results] == list(range(1, 9))
    assert int(await store.redis.hget(store.keys.site(site.id).page_views, "/a")) == 5
    assert (await hit(recorder, "/b", ua=f"{BROWSER_A} r9", ip=FLOODER)).counted


async def test_a_heartbeat_without_a_pageview_makes_nobody_online(
    store: Store, recorder: Recorder, site: Site, clock: FakeClock
) -> None:
    beats = [await hit(recorder, event=Event.heartbeat, ua=f"{BROWSER_A} b{n}") for n in range(20)]
    assert beats[-1].box["online"] == 0
    await hit(recorder)  # a pageview: now its heartbeats keep it online
    clock.advance(minutes=4)
    assert (await hit(recorder, event=Event.heartbeat)).box["online"] == 1
    clock.advance(minutes=4)  # 8 minutes after the pageview, past the 5-minute window
    assert (await hit(recorder, event=Event.heartbeat)).box["online"] == 1
    await run_pass(store, clock.now())
    assert (await store.redis.zcard(store.keys.site(site.id).last_seen)) == 1


async def test_past_half_the_site_cap_the_flooding_address_is_shed_not_the_newcomer(
    store: Store, recorder: Recorder, site: Site, clock: FakeClock
) -> None:
    clock.set(clock.now().replace(second=0))
    store.settings.rate_per_site_per_min = 40
    store.settings.rate_per_visitor_per_min = 0
    flood = [await hit(recorder, ua=f"{BROWSER_A} f{n % 3}", ip=FLOODER) for n in range(100)]
    assert sum(r.counted for r in flood) == 20  # half the cap; the rest is shed
    newcomers = [await hit(recorder, ip=f"203.0.113.{n}") for n in range(20)]
    assert all(r.counted for r in newcomers)
    assert not (await hit(recorder, ip="203.0.113.200")).counted  # the cap holds for all


async def test_an_address_adds_at_most_the_new_page_cap_of_pages_a_minute(
    store: Store, recorder: Recorder, site: Site, clock: FakeClock
) -> None:
    clock.set(clock.now().replace(second=0))
    assert store.settings.rate_new_pages_per_address_per_min == 30
    results = [await hit(recorder, f"/random/{n}", ip=FLOODER) for n in range(29)]
    store.settings.rate_per_visitor_per_min = 0
    results += [
        await hit(recorder, f"/random/{n}", ua=f"{BROWSER_A} x{n}", ip=FLOODER)
        for n in range(29, 100)
    ]
    assert sum(r.counted for r in results) == 30
    assert await store.redis.hlen(store.keys.site(site.id).page_views) == 30
    assert (await hit(recorder, "/random/1", ua=f"{BROWSER_A} y", ip=FLOODER)).counted  # known


async def test_the_aggregator_keeps_the_most_viewed_pages_of_a_site_over_the_bound(
    store: Store, recorder: Recorder, site: Site, clock: FakeClock
) -> None:
    key = store.keys.site(site.id).page_views
    await store.redis.hset(key, mapping={f"/p{n}": n + 1 for n in range(150)})
    store.settings.max_pages_per_site = 100
    report = await run_pass(store, clock.now())
    assert report.pages_pruned == 50
    kept = {k.decode() for k in await store.redis.hkeys(key)}
    assert kept == {f"/p{n}" for n in range(50, 150)}
    assert await prune_pages(store, site.id) == 0  # a second run removes nothing more
