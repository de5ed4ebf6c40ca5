"""Who reads which page now: kept by the hit script as visitors move, the visitors the online
cursor passes let go by each pass, counted afresh when there is no cursor; every step a chunk
of visitors a call, so no call holds the store for all of a large site's visitors."""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from datetime import timedelta

import pytest

from aggregator import rollup
from aggregator.rollup import live_pages, run_pass
from counter.clock import FakeClock
from counter.record.hit import Event
from counter.record.recorder import Recorder
from counter.sites import Site
from counter.storage.store import Store
from tests.helpers import GOOGLEBOT, hit

# 23 visitors on 4 pages; some share a millisecond, so chunks of 3 end inside a run of ties.
PAGES = ["/a", "/b", "/a", "/c", "/a", "/b", "/d", "/a", "/c", "/a", "/b", "/a"] * 2
SAME_MS = {3, 4, 5, 6, 7, 12, 13, 14}  # these visitors come in the millisecond before them


async def readers(recorder: Recorder, clock: FakeClock) -> dict[str, int]:
    """Visitors reading PAGES[n]; the counts the pass must find."""
    expected: dict[str, int] = {}
    for n, url in enumerate(PAGES[:23]):
        if n not in SAME_MS:
            clock.advance(timedelta(milliseconds=1))
        await hit(recorder, url, ip=f"198.51.100.{n}")
        expected[url] = expected.get(url, 0) + 1
    return expected


async def online_pages(store: Store, site: Site) -> dict[str, int]:
    ranked = await store.redis.zrange(store.keys.site(site.id).online_pages, 0, -1, withscores=True)
    return {path.decode(): int(score) for path, score in ranked}


@pytest.mark.parametrize("chunk", [1, 3, 5, 23, 1000])
async def test_any_chunk_size_counts_every_reader_once(
    store: Store,
    recorder: Recorder,
    site: Site,
    clock: FakeClock,
    monkeypatch: pytest.MonkeyPatch,
    chunk: int,
) -> None:
    expected = await readers(recorder, clock)
    await hit(recorder, "/a", ua=GOOGLEBOT, ip="66.249.66.1")
    monkeypatch.setattr(rollup, "PRESENCE_CHUNK", chunk)
    report = await run_pass(store, clock.now())
    assert await online_pages(store, site) == expected
    assert report.summaries[site.id]["online_bots"] == 1
    # What the pass counted is what stays: no half-counted set is left beside it.
    assert await store.redis.keys(f"{store.keys.site(site.id).online_pages}:*") == []


async def next_counts(store: Store, site: Site) -> dict[str, int]:
    ranked = await store.redis.zrange(store.keys.site(site.id).online_next, 0, -1, withscores=True)
    return {path.decode(): int(score) for path, score in ranked}


async def count_call(store: Store, site: Site, since: int, chunk: int) -> int:
    """One call of a count afresh, as a pass makes it; 1 when the counts are in place."""
    keys = store.keys.site(site.id).live_pages_keys()
    done: int = await store.scripts.live_pages(keys=keys, args=[since, chunk, 60, 3600])
    return done


async def test_a_count_afresh_takes_a_chunk_a_call_and_the_old_counts_stand_until_its_end(
    store: Store, recorder: Recorder, site: Site, clock: FakeClock
) -> None:
    await hit(recorder, "/old", ip="203.0.113.1")
    await run_pass(store, clock.now())
    clock.advance(timedelta(seconds=1))
    expected = await readers(recorder, clock)
    await store.redis.delete(store.keys.site(site.id).online_cursor)
    await store.redis.zincrby(store.keys.site(site.id).online_pages, 5, "/drifted")
    standing = await online_pages(store, site)
    since = int(clock.now().timestamp() * 1000) - site.online_window_s * 1000
    calls, counted = 0, 0
    while not await count_call(store, site, since, 3):
        calls += 1
        assert await online_pages(store, site) == standing  # meanwhile
        now_counted = sum((await next_counts(store, site)).values())
        # A chunk's worth, or one millisecond whole (six visitors share one).
        assert 0 < now_counted - counted <= 6
        counted = now_counted
    assert calls >= 24 // 6
    assert await online_pages(store, site) == dict(Counter(expected) + Counter({"/old": 1}))


async def test_a_visitor_who_moves_while_counted_afresh_counts_once_on_its_new_page(
    store: Store, recorder: Recorder, site: Site, clock: FakeClock
) -> None:
    expected = await readers(recorder, clock)
    since = int(clock.now().timestamp() * 1000) - site.online_window_s * 1000
    assert not await count_call(store, site, since, 5)  # visitors 0, 1 and 2..7 counted
    clock.advance(timedelta(seconds=1))
    await hit(recorder, "/e", ip="198.51.100.10")  # not counted yet: moves on to /e
    await hit(recorder, "/e", ip="198.51.100.0")  # counted on /a: moves on to /e too
    while not await count_call(store, site, since, 5):
        pass
    moved = Counter(expected) - Counter({"/a": 1, "/b": 1}) + Counter({"/e": 2})
    assert await online_pages(store, site) == dict(moved) == await truth(store, site)


async def test_presence_past_the_session_is_let_go_a_chunk_a_call_all_in_one_pass(
    store: Store, recorder: Recorder, site: Site, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    await readers(recorder, clock)
    clock.advance(timedelta(seconds=max(site.online_window_s, site.session_timeout_s) + 1))
    await hit(recorder, "/z", ip="203.0.113.9")
    monkeypatch.setattr(rollup, "PRESENCE_CHUNK", 4)
    await run_pass(store, clock.now())
    keys = store.keys.site(site.id)
    assert await store.redis.zcard(keys.last_seen) == 1
    assert await store.redis.hvals(keys.reading) == [b"/z"]
    assert await online_pages(store, site) == {"/z": 1}


async def test_passes_at_once_each_count_apart(
    store: Store, recorder: Recorder, site: Site, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    expected = await readers(recorder, clock)
    monkeypatch.setattr(rollup, "PRESENCE_CHUNK", 2)
    now_ms = int(clock.now().timestamp() * 1000)
    await asyncio.gather(*(live_pages(store, [site], now_ms) for _ in range(4)))
    assert await online_pages(store, site) == expected


async def counted_so_far(store: Store, site: Site) -> dict[str, int]:
    """A count afresh under way, as the definition has it: the visitors seen from its start
    to before where it has reached, by the page of their last hit."""
    keys = store.keys.site(site.id)
    since, upto = await store.redis.hmget(keys.online_next_at, ["since", "upto"])
    seen = await store.redis.zrangebyscore(keys.last_seen, int(since), f"({int(upto)}")
    pages = await store.redis.hmget(keys.reading, seen) if seen else []
    return dict(Counter(page.decode() for page in pages if page))


async def truth(store: Store, site: Site) -> dict[str, int]:
    """Each page's readers as the definition has them: the visitors seen since the cursor,
    by the page of their last hit."""
    keys = store.keys.site(site.id)
    cursor = await store.redis.get(keys.online_cursor)
    assert cursor is not None
    seen = await store.redis.zrangebyscore(keys.last_seen, int(cursor), "+inf")
    pages = await store.redis.hmget(keys.reading, seen) if seen else []
    return dict(Counter(page.decode() for page in pages if page))


@pytest.mark.parametrize("seed", range(4))
async def test_each_pages_readers_stay_what_the_visitors_seen_since_the_cursor_read(
    store: Store,
    recorder: Recorder,
    site: Site,
    clock: FakeClock,
    monkeypatch: pytest.MonkeyPatch,
    seed: int,
) -> None:
    """Visitors move between pages, beat, come back, leave the window, and old hits are
    replayed, with passes between; after every step the kept counts are the definition's."""
    monkeypatch.setattr(rollup, "PRESENCE_CHUNK", 2)
    rng = random.Random(seed)
    await hit(recorder, "/a", ip="198.51.100.200")
    await run_pass(store, clock.now())  # the first pass counts afresh and sets the cursor
    for _ in range(120):
        step = rng.random()
        visitor = f"198.51.100.{rng.randrange(12)}"
        page = f"/{rng.choice('abcde')}"
        if step < 0.12:
            await run_pass(store, clock.now())
        elif step < 0.15:  # the cursor's hour is up; a count afresh begins, a call or two
            await store.redis.delete(store.keys.site(site.id).online_cursor)
            since = int(clock.now().timestamp() * 1000) - site.online_window_s * 1000
            for _ in range(rng.randrange(1, 3)):
                await count_call(store, site, since, 2)
        elif step < 0.25:  # a spooled hit of a while ago, replayed now
            back = timedelta(seconds=rng.randrange(1, 400))
            clock.advance(-back)
            await hit(recorder, page, ip=visitor)
            clock.advance(back)
        elif step < 0.35:
            await hit(recorder, page, ip=visitor, event=Event.heartbeat)
        else:
            await hit(recorder, page, ip=visitor)
        clock.advance(timedelta(seconds=rng.randrange(0, 90)))
        keys = store.keys.site(site.id)
        if await store.redis.exists(keys.online_cursor):
            assert await online_pages(store, site) == await truth(store, site)
        elif await store.redis.exists(keys.online_next_at):
            assert await next_counts(store, site) == await counted_so_far(store, site)


async def test_with_no_cursor_hits_leave_the_counts_and_the_next_pass_counts_afresh(
    store: Store, recorder: Recorder, site: Site, clock: FakeClock
) -> None:
    expected = await readers(recorder, clock)
    await run_pass(store, clock.now())
    assert await online_pages(store, site) == expected
    keys = store.keys.site(site.id)
    await store.redis.delete(keys.online_cursor)  # as when its hour is up, or after a loss
    await hit(recorder, "/new", ip="198.51.100.0")  # visitor 0 moves from /a
    assert await online_pages(store, site) == expected  # untouched until counted afresh
    await run_pass(store, clock.now())
    moved = Counter(expected) - Counter({"/a": 1}) + Counter({"/new": 1})
    assert await online_pages(store, site) == dict(moved)
    assert 0 < await store.redis.ttl(keys.online_cursor) <= rollup.CURSOR_TTL_S * 7 // 6


async def test_a_pass_run_for_a_later_time_does_not_leave_the_hits_after_it_uncounted(
    store: Store, recorder: Recorder, site: Site, clock: FakeClock
) -> None:
    await run_pass(store, clock.now() + timedelta(days=1))  # `rollup --now tomorrow`
    await hit(recorder, "/a", ip="198.51.100.1")
    await hit(recorder, "/b", ip="198.51.100.2")
    await run_pass(store, clock.now())
    assert await online_pages(store, site) == {"/a": 1, "/b": 1}
    clock.advance(timedelta(seconds=1))
    await hit(recorder, "/c", ip="198.51.100.2")  # and kept as visitors move from then on
    assert await online_pages(store, site) == {"/a": 1, "/c": 1} == await truth(store, site)


async def test_presence_is_let_go_only_behind_the_cursor_and_not_while_counted_afresh(
    store: Store, recorder: Recorder, site: Site, clock: FakeClock
) -> None:
    expected = await readers(recorder, clock)
    keys = store.keys.site(site.id)
    now_ms = int(clock.now().timestamp() * 1000)
    since = now_ms - site.online_window_s * 1000
    prune = store.scripts.prune_presence
    later = now_ms + 10**9  # a pass for a much later time, whose window is past them all
    await store.redis.delete(keys.online_cursor)
    assert not await count_call(store, site, since, 3)  # a count afresh under way
    assert await prune(keys=keys.prune_presence_keys(), args=[later, later, 1000]) == [0, 0]
    while not await count_call(store, site, since, 3):
        pass
    assert await online_pages(store, site) == expected == await truth(store, site)
    # With the cursor at the third visitor's millisecond, only the two before it go.
    first_three = await store.redis.zrange(keys.last_seen, 0, 2, withscores=True)
    await store.redis.set(keys.online_cursor, int(first_three[2][1]))
    assert await prune(keys=keys.prune_presence_keys(), args=[later, later, 1000]) == [2, 0]
    assert await store.redis.zcard(keys.last_seen) == 21
