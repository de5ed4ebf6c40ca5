"""Who reads which page now, counted a chunk of visitors a call: the same counts as one call
over them all, and no call holding the store for all of a large site's visitors."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import timedelta

import pytest

from aggregator import rollup
from aggregator.rollup import live_pages, run_pass
from counter.clock import FakeClock
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


async def read_all(store: Store, site: Site, since: int, chunk: int) -> tuple[Counter[str], int]:
    """live_pages.lua called as a pass calls it: the pages read, and the calls it took."""
    keys = store.keys.site(site.id).live_pages_keys()
    pages: Counter[str] = Counter()
    start: object = since
    skip, calls = 0, 0
    while True:
        start, skip, read, *found = await store.scripts.live_pages(
            keys=keys, args=[start, skip, chunk]
        )
        calls += 1
        assert read <= chunk and len(found) <= read
        pages.update(page.decode() for page in found)
        if read < chunk:
            return pages, calls


async def test_a_call_reads_at_most_its_chunk_and_the_old_counts_stand_until_written(
    store: Store, recorder: Recorder, site: Site, clock: FakeClock
) -> None:
    await hit(recorder, "/old", ip="203.0.113.1")
    await run_pass(store, clock.now())
    clock.advance(timedelta(seconds=1))
    expected = await readers(recorder, clock)
    since = int(clock.now().timestamp() * 1000) - site.online_window_s * 1000
    pages, calls = await read_all(store, site, since, 3)
    assert pages == Counter(expected) + Counter({"/old": 1})
    assert calls == 24 // 3 + 1  # 24 visitors, 3 a call, and the call that finds the end
    assert await online_pages(store, site) == {"/old": 1}  # the store only read


async def test_a_visitor_seen_again_while_a_pass_reads_is_not_lost(
    store: Store, recorder: Recorder, site: Site, clock: FakeClock
) -> None:
    expected = await readers(recorder, clock)
    keys = store.keys.site(site.id).live_pages_keys()
    since = int(clock.now().timestamp() * 1000) - site.online_window_s * 1000
    after, skip, _, *first = await store.scripts.live_pages(keys=keys, args=[since, 0, 5])
    # Visitor 10, not read yet, moves on to /e; visitor 0, read, reads /e too.
    clock.advance(timedelta(seconds=1))
    await hit(recorder, "/e", ip="198.51.100.10")
    await hit(recorder, "/e", ip="198.51.100.0")
    rest: Counter[str] = Counter()
    while True:
        after, skip, read, *found = await store.scripts.live_pages(keys=keys, args=[after, skip, 5])
        rest.update(page.decode() for page in found)
        if read < 5:
            break
    # Visitor 10 counts on /e only, where the pass found it; visitor 0 on /a, where it
    # was when read, and on /e again (twice in this pass, none lost).
    counted = Counter(page.decode() for page in first) + rest
    assert counted == Counter(expected) - Counter({"/b": 1}) + Counter({"/e": 2})


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
