from __future__ import annotations

import asyncio
from typing import Any

import pytest

from aggregator.rollup import run_pass
from counter.clock import FakeClock
from counter.errors import UnknownSite
from counter.figures.stats import StatsReader, read_stats
from counter.record.recorder import Recorder
from counter.sites import Site
from counter.storage.store import Store
from tests.helpers import BROWSER_A, hit


async def test_stats_are_read_from_the_store_once_per_cache_window(
    store: Store, recorder: Recorder, reader: StatsReader, site: Site, clock: FakeClock
) -> None:
    first = await reader.read(site.id)
    assert first["today"] == 0
    await hit(recorder)
    await run_pass(store, clock.now())
    # Within the window the worker gives its last read again, without asking the store.
    clock.advance(seconds=store.settings.stats_cache_s / 2)
    assert await reader.read(site.id) == first
    clock.advance(seconds=store.settings.stats_cache_s / 2)
    assert (await reader.read(site.id))["today"] == 1


async def test_a_copy_past_the_stale_window_waits_for_the_store(
    store: Store, recorder: Recorder, reader: StatsReader, site: Site, clock: FakeClock
) -> None:
    assert (await reader.read(site.id, "/a"))["page_views"] == 0
    await hit(recorder, "/a")
    await run_pass(store, clock.now())
    clock.advance(seconds=store.settings.stats_stale_s)
    assert (await reader.read(site.id, "/a"))["page_views"] == 1


async def test_stale_copies_of_one_turn_are_read_anew_together_once(
    store: Store, recorder: Recorder, reader: StatsReader, site: Site, clock: FakeClock
) -> None:
    urls = [f"/p{n}" for n in range(10)]
    for url in urls:
        await reader.read(site.id, url)
    for url in urls:
        await hit(recorder, url)
    await run_pass(store, clock.now())
    clock.advance(seconds=store.settings.stats_cache_s)
    before = await store.redis.info("commandstats")
    # Each stale page asked three times in the turn: its old figures at once, with the box
    # of the new pass (read once, before), and one read of the pages after.
    stale = await asyncio.gather(*(reader.read(site.id, url) for url in urls * 3))
    await reader.drain()
    after = await store.redis.info("commandstats")
    assert [a["page_views"] for a in stale] == [0] * 30
    now = await read_stats(store, site.id)
    assert now["today"] > 0 and [a["today"] for a in stale] == [now["today"]] * 30
    assert len({id(a) for a in stale}) == 10  # one answer a page: encoded once
    assert _calls(after, "hmget") - _calls(before, "hmget") == 1
    fresh = await asyncio.gather(*(reader.read(site.id, url) for url in urls))
    assert [a["page_views"] for a in fresh] == [1] * 10


async def test_an_unchanged_answer_stays_the_same_object_through_its_reads_anew(
    store: Store, recorder: Recorder, reader: StatsReader, site: Site, clock: FakeClock
) -> None:
    """What is made of an answer (its encoding, ETag, the protocol's ready response) is made
    once while the figures stand: the answer given stays the very same object whether the
    page's copy is fresh, stale with the box, or read anew with equal figures."""
    await hit(recorder, "/b")
    await run_pass(store, clock.now())
    first = await reader.read(site.id, "/a")
    given = [first]
    for _ in range(3):
        clock.advance(seconds=store.settings.stats_cache_s)
        await reader.read(site.id)  # the box read anew, equal
        given.append(await reader.read(site.id, "/a"))  # stale: with the box
        await reader.drain()  # the page read anew, equal
        given.append(await reader.read(site.id, "/a"))  # fresh again
    assert all(answer is first for answer in given)
    await hit(recorder, "/a")
    clock.advance(seconds=store.settings.stats_cache_s)
    await reader.read(site.id, "/a")
    await reader.drain()
    changed = await reader.read(site.id, "/a")
    assert changed is not first and changed["page_views"] == first["page_views"] + 1


async def test_a_copy_found_stale_while_another_is_read_anew_is_read_anew_too(
    store: Store, recorder: Recorder, reader: StatsReader, site: Site, clock: FakeClock
) -> None:
    for url in ("/a", "/b"):
        await reader.read(site.id, url)
        await hit(recorder, url)
    clock.advance(seconds=store.settings.stats_cache_s)
    assert (await reader.read(site.id, "/a"))["page_views"] == 0
    for _ in range(3):
        await asyncio.sleep(0)  # the read of /a anew is under way, waiting for the store
    assert (await reader.read(site.id, "/b"))["page_views"] == 0
    await asyncio.wait_for(reader.drain(), timeout=10)
    assert [(await reader.read(site.id, url))["page_views"] for url in ("/a", "/b")] == [1, 1]


async def test_copies_found_stale_while_a_read_anew_is_under_way_go_in_one_read_after(
    store: Store, recorder: Recorder, reader: StatsReader, site: Site, clock: FakeClock
) -> None:
    urls = ["/a", "/b", "/c"]
    for url in urls:
        await reader.read(site.id, url)
        await hit(recorder, url)
    clock.advance(seconds=store.settings.stats_cache_s)
    await reader.read(site.id)  # the box at hand: the pages' stale copies are given at once
    before = await store.redis.info("commandstats")
    # The store holds every command a moment, so /a's read anew is surely under way (sent,
    # unanswered) while the others are found stale, each in a turn of its own.
    await store.redis.execute_command("CLIENT", "PAUSE", 300, "ALL")
    await reader.read(site.id, "/a")
    for url in urls[1:]:
        for _ in range(3):
            await asyncio.sleep(0)
        await reader.read(site.id, url)
    await asyncio.wait_for(reader.drain(), timeout=10)
    after = await store.redis.info("commandstats")
    assert _calls(after, "hmget") - _calls(before, "hmget") == 2
    assert [(await reader.read(site.id, url))["page_views"] for url in urls] == [1, 1, 1]


async def test_a_read_anew_that_fails_leaves_no_copy_waiting_for_it(
    store: Store, recorder: Recorder, reader: StatsReader, site: Site, clock: FakeClock
) -> None:
    """Whatever a background read anew raises, the copies found stale while it ran are not
    left waiting for a read that will not come: later ones are read anew, drain() ends."""
    for url in ("/a", "/b"):
        await reader.read(site.id, url)
        await hit(recorder, url)
    clock.advance(seconds=store.settings.stats_cache_s)
    await reader.read(site.id)  # the box at hand
    summary = store.keys.site(site.id).summary
    kept = await store.redis.get(summary)
    await store.redis.set(summary, b"{not json")  # the read anew raises on it
    await store.redis.execute_command("CLIENT", "PAUSE", 300, "ALL")
    await reader.read(site.id, "/a")
    for _ in range(3):
        await asyncio.sleep(0)
    await reader.read(site.id, "/b")  # found stale while the failing read is under way
    await asyncio.wait_for(reader.drain(), timeout=10)
    if kept is None:
        await store.redis.delete(summary)
    else:
        await store.redis.set(summary, kept)
    await reader.read(site.id, "/b")  # a new read anew starts, and gives the new figures
    await asyncio.wait_for(reader.drain(), timeout=10)
    assert (await reader.read(site.id, "/b"))["page_views"] == 1


async def test_no_stale_window_reads_the_store_once_the_copy_is_old(
    store: Store, recorder: Recorder, reader: StatsReader, site: Site, clock: FakeClock
) -> None:
    store.settings = store.settings.model_copy(update={"stats_stale_s": 0})
    await reader.read(site.id, "/a")
    await hit(recorder, "/a")
    clock.advance(seconds=store.settings.stats_cache_s)
    assert (await reader.read(site.id, "/a"))["page_views"] == 1


async def test_a_removed_site_is_unknown_once_its_box_is_old_though_pages_are_not(
    store: Store, reader: StatsReader, site: Site, clock: FakeClock
) -> None:
    await reader.read(site.id, "/a")
    await store.registry.remove(site.id)
    store.sites.forget(site.id)
    clock.advance(seconds=store.settings.stats_cache_s)
    with pytest.raises(UnknownSite):
        await reader.read(site.id, "/a")


async def test_stats_cache_never_outlives_one_aggregation_interval(
    store: Store, recorder: Recorder, reader: StatsReader, site: Site, clock: FakeClock
) -> None:
    store.settings = store.settings.model_copy(
        update={"stats_cache_s": 60, "aggregate_interval_s": 2}
    )
    await reader.read(site.id)
    await hit(recorder)
    await run_pass(store, clock.now())
    clock.advance(seconds=2)
    assert (await reader.read(site.id))["today"] == 1


def _calls(stats: dict[str, Any], command: str) -> int:
    calls: int = stats.get(f"cmdstat_{command}", {}).get("calls", 0)
    return calls


async def test_reads_of_many_pages_in_one_turn_share_one_round_trip(
    store: Store, recorder: Recorder, reader: StatsReader, site: Site, clock: FakeClock
) -> None:
    for n in range(10):
        for _ in range(n + 1):
            await hit(recorder, f"/p{n}", ua=f"{BROWSER_A} v{n}")
    await run_pass(store, clock.now())
    singles = [await read_stats(store, site.id, f"/p{n}") for n in range(10)]

    before = await store.redis.info("commandstats")
    # Each page asked twice in the turn, and the site's box once: one read for all of them.
    urls = [f"/p{n}" for n in range(10)] * 2 + [None]
    answers = await asyncio.gather(*(reader.read(site.id, url) for url in urls))
    after = await store.redis.info("commandstats")

    assert [a["page_views"] for a in answers[:10]] == list(range(1, 11))
    assert answers[:10] == singles and answers[10:20] == singles
    assert "page_views" not in answers[20] and answers[20]["total"] == singles[0]["total"]
    for command in ("get", "hmget", "zmscore"):
        assert _calls(after, command) - _calls(before, command) == 1, command
    assert _calls(after, "hget") == _calls(before, "hget")


async def test_a_reader_who_leaves_does_not_take_the_read_from_others_of_that_page(
    store: Store, recorder: Recorder, reader: StatsReader, site: Site, clock: FakeClock
) -> None:
    await hit(recorder, "/a")
    await run_pass(store, clock.now())
    leaving = asyncio.ensure_future(reader.read(site.id, "/a"))
    staying = asyncio.ensure_future(reader.read(site.id, "/a"))
    await asyncio.sleep(0)  # both wait for this turn's read (no time passes on the clock)
    leaving.cancel()
    assert (await staying)["page_views"] == 1
    assert leaving.cancelled()
