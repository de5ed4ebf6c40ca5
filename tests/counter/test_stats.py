from __future__ import annotations

from aggregator.rollup import run_pass
from counter.clock import FakeClock
from counter.sites import Site
from counter.stats import read_stats
from counter.store import Store
from tests.helpers import hit


async def test_stats_are_read_from_the_store_once_per_cache_window(
    store: Store, site: Site, clock: FakeClock
) -> None:
    first = await read_stats(store, site.id)
    assert first["today"] == 0
    await hit(store)
    await run_pass(store, clock.now())
    # Within the window the worker gives its last read again, without asking the store.
    clock.advance(seconds=store.settings.stats_cache_s / 2)
    assert await read_stats(store, site.id) == first
    clock.advance(seconds=store.settings.stats_cache_s / 2)
    assert (await read_stats(store, site.id))["today"] == 1


async def test_stats_cache_never_outlives_one_aggregation_interval(
    store: Store, site: Site, clock: FakeClock
) -> None:
    store.settings = store.settings.model_copy(
        update={"stats_cache_s": 60, "aggregate_interval_s": 2}
    )
    await read_stats(store, site.id)
    await hit(store)
    await run_pass(store, clock.now())
    clock.advance(seconds=2)
    assert (await read_stats(store, site.id))["today"] == 1
