from __future__ import annotations

from aggregator.rollup import run_pass
from counter.clock import FakeClock
from counter.figures.stats import StatsReader
from counter.record.recorder import Recorder
from counter.sites import Site
from counter.storage.store import Store
from tests.helpers import hit


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
