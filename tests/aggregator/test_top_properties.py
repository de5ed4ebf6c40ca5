"""Most viewed: the ranking equals a brute-force count of the same hits, and the aggregator
keeps the top sets and the titles bounded."""

from __future__ import annotations

import asyncio
import secrets
from collections import Counter
from datetime import date, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aggregator.rollup import prune_titles, run_pass
from counter.clock import FakeClock
from counter.figures.top import MAX_LIMIT, TOP_KEEP, TOP_PERIODS, read_top
from counter.periods import TOTAL, Periods, local_date
from counter.record.hit import Hit
from counter.record.recorder import Recorder
from counter.settings import Settings
from counter.sites import Site, make_site
from counter.storage.connection import connect
from counter.storage.store import Store
from tests.conftest import START, _delete_prefix
from tests.helpers import BROWSER_A

PAGES = 8  # far fewer than TOP_KEEP: no trim ever decides the ranking
steps = st.lists(
    st.one_of(
        st.tuples(st.just("hit"), st.integers(0, PAGES - 1), st.sampled_from(["", "A", "B"])),
        st.tuples(st.just("advance"), st.integers(1, 40 * 24 * 60), st.just("")),
        st.tuples(st.just("pass"), st.just(0), st.just("")),
    ),
    min_size=1,
    max_size=40,
)


def expected(
    counted: list[tuple[date, str]], periods: Periods, period: str
) -> list[tuple[str, int]]:
    """Every counted pageview of the period, counted by page; ranked as the sorted set ranks
    (most views first, ties: the later path first)."""
    if period == TOTAL:
        views = Counter(path for _, path in counted)
    else:
        first, last = periods.ranges[period]
        views = Counter(path for day, path in counted if first <= day <= last)
    return sorted(views.items(), key=lambda item: (item[1], item[0]), reverse=True)


async def scenario(redis_url: str, actions: list[tuple[str, int, str]], tz: str) -> None:
    config = Settings(redis_url=redis_url, key_prefix=f"t{secrets.token_hex(6)}")
    clock = FakeClock(START)
    store = Store(connect(config, redis_url), config, clock)
    recorder = Recorder(store)
    try:
        site = make_site(id="demo.local", domains=["demo.local"], timezone=tz)
        await store.registry.put(site)
        counted: list[tuple[date, str]] = []
        titles: dict[str, str] = {}
        for n, (action, value, title) in enumerate(actions):
            if action == "hit":
                path = f"/p{value}"
                result = await recorder.record(
                    Hit(
                        site=site.id,
                        url=path,
                        client_ip=f"198.51.100.{n}",
                        user_agent=BROWSER_A,
                        origin="https://demo.local",
                        title=title or None,
                    )
                )
                assert result.counted
                counted.append((local_date(clock.now(), site.tz), path))
                if title:
                    titles[path] = title
            elif action == "advance":
                clock.advance(timedelta(minutes=value))
            else:
                await run_pass(store, clock.now())
        periods = Periods.of(clock.now(), site.tz, site.first_weekday)
        for period in TOP_PERIODS:
            top = await read_top(store, site.id, period, MAX_LIMIT)
            got = [(p["url"], p["page_views"]) for p in top["pages"]]
            assert got == expected(counted, periods, period), period
            assert all(p["title"] == titles.get(p["url"]) for p in top["pages"])
    finally:
        await store.aclose()
        await _delete_prefix(redis_url, config.key_prefix)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(actions=steps, tz=st.sampled_from(["Asia/Ho_Chi_Minh", "America/New_York"]))
def test_the_ranking_of_every_period_equals_a_brute_force_count(
    redis_url: str, actions: list[tuple[str, int, str]], tz: str
) -> None:
    asyncio.run(scenario(redis_url, actions, tz))


async def test_a_pass_trims_every_top_set_to_its_bound_keeping_the_highest(
    store: Store, clock: FakeClock, site: Site
) -> None:
    keys = store.keys.site(site.id)
    periods = Periods.of(clock.now(), site.tz, site.first_weekday)
    sets = keys.top_keys(periods)
    # More pages than the bound in every set (seeded directly: a thousand browsers' hits
    # would only be slower); page n has n views.
    pages = {f"/p{n}": n for n in range(1, TOP_KEEP + 51)}
    for key in sets:
        await store.redis.zadd(key, pages)
    await run_pass(store, clock.now())
    for key in sets:
        assert await store.redis.zcard(key) == TOP_KEEP
        assert await store.redis.zscore(key, "/p51") == 51  # the lowest one kept
        assert await store.redis.zscore(key, "/p50") is None
    second = await run_pass(store, clock.now())  # idempotent: nothing more goes
    assert second.titles_pruned == 0
    assert all([await store.redis.zcard(key) == TOP_KEEP for key in sets])


async def test_titles_of_pages_in_no_top_set_go_and_ranked_ones_keep_their_latest(
    store: Store, recorder: Recorder, clock: FakeClock, site: Site
) -> None:
    keys = store.keys.site(site.id)
    periods = Periods.of(clock.now(), site.tz, site.first_weekday)
    for n, title in enumerate(["Bản cũ", "Bản mới"]):
        await recorder.record(
            Hit(
                site=site.id,
                url="/ranked",
                client_ip=f"198.51.100.{n}",
                user_agent=BROWSER_A,
                origin="https://demo.local",
                title=title,
            )
        )
    # Titles of pages long trimmed out of every set: more than the sets could ever name.
    bound = TOP_KEEP * len(keys.top_keys(periods))
    await store.redis.hset(keys.page_titles, mapping={f"/gone{n}": "x" for n in range(bound)})
    report = await run_pass(store, clock.now())
    assert report.titles_pruned == bound
    assert await store.redis.hgetall(keys.page_titles) == {b"/ranked": "Bản mới".encode()}
    top = await read_top(store, site.id, "today", 10)
    assert top["pages"] == [{"url": "/ranked", "title": "Bản mới", "page_views": 2}]
    # Below the bound a pass leaves the titles alone; pruning by hand drops the orphans.
    await store.redis.hset(keys.page_titles, "/orphan", "y")
    assert (await run_pass(store, clock.now())).titles_pruned == 0
    assert await prune_titles(store, site.id, periods) == 1
    assert await store.redis.hkeys(keys.page_titles) == [b"/ranked"]


async def test_a_page_trimmed_from_all_time_comes_back_with_its_true_count(
    store: Store, recorder: Recorder, clock: FakeClock, site: Site
) -> None:
    keys = store.keys.site(site.id)
    await store.redis.hset(keys.page_views, "/old", 500)  # its views, kept in page_views
    await recorder.record(
        Hit(
            site=site.id,
            url="/old",
            client_ip="198.51.100.9",
            user_agent=BROWSER_A,
            origin="https://demo.local",
        )
    )
    top = await read_top(store, site.id, TOTAL, 10)
    assert top["pages"] == [{"url": "/old", "title": None, "page_views": 501}]
