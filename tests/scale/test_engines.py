"""Scale-out engines: Redis Cluster (three masters) and Sentinel, started here on loopback."""

from __future__ import annotations

import inspect
import secrets
from collections.abc import AsyncIterator, Iterator
from datetime import date
from pathlib import Path

import pytest
import redis
from redis.crc import key_slot

from aggregator.rollup import run_pass
from counter.clock import FakeClock
from counter.figures.stats import read_stats
from counter.keys import Keys, SiteKeys
from counter.periods import SPANS, Periods, WeekStart
from counter.record.recorder import Recorder
from counter.record.replay import tick
from counter.record.spool import Spool
from counter.settings import RedisMode, Settings
from counter.sites import make_site
from counter.storage.connection import open_store
from counter.storage.store import Store
from tests.helpers import BROWSER_A, BROWSER_B, hit
from tests.servers import ValkeyCluster, ValkeySentinel


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ValkeyCluster]:
    nodes = ValkeyCluster(tmp_path_factory.mktemp("cluster")).start()
    try:
        yield nodes
    finally:
        nodes.stop()


@pytest.fixture(scope="module")
def sentinel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ValkeySentinel]:
    watched = ValkeySentinel(tmp_path_factory.mktemp("sentinel")).start()
    try:
        yield watched
    finally:
        watched.stop()


async def _store(
    url: str, mode: RedisMode, clock: FakeClock, tmp_path: Path, **options: float
) -> AsyncIterator[Store]:
    settings = Settings(
        redis_url=url,
        redis_mode=mode,
        key_prefix=f"t{secrets.token_hex(6)}",
        data_dir=tmp_path,
        **options,
    )
    async with open_store(settings, clock, settings.redis_batch_timeout_s) as store:
        await store.registry.put(make_site(id="demo.local", domains=["demo.local"]))
        yield store


async def _two_visitors_are_two(store: Store, clock: FakeClock) -> None:
    recorder = Recorder(store)
    await hit(recorder, "/a", ua=BROWSER_A)
    await hit(recorder, "/a", ua=BROWSER_A)
    await hit(recorder, "/b", ua=BROWSER_B)
    report = await run_pass(store, clock.now())
    assert report.mismatches == {}
    stats = await read_stats(store, "demo.local", "/a")
    assert (stats["today"], stats["pageviews"]["today"], stats["online"], stats["page_views"]) == (
        2,
        3,
        2,
        2,
    )


async def test_cluster_counts_two_visitors_as_two(
    cluster: ValkeyCluster, clock: FakeClock, tmp_path: Path
) -> None:
    async for store in _store(cluster.url, RedisMode.cluster, clock, tmp_path):
        await _two_visitors_are_two(store, clock)
        recorder = Recorder(store)
        for n in range(20):  # sites spread over the three masters
            await store.registry.put(make_site(id=f"site{n}.vn", domains=[f"site{n}.vn"]))
            await hit(recorder, site=f"site{n}.vn", origin=f"https://site{n}.vn")
        report = await run_pass(store, clock.now())
        assert report.sites == 21
        assert all(s["today"] == 1 for k, s in report.summaries.items() if k != "demo.local")


async def test_hits_while_a_cluster_slot_has_no_master_are_spooled_and_counted_after(
    clock: FakeClock, tmp_path: Path
) -> None:
    # A cluster of the test's own: the test takes the site's slot away from its master, as a
    # failover does for a moment (redis-py answers CLUSTERDOWN, then SlotNotCoveredError).
    cluster = ValkeyCluster(tmp_path / "cluster").start()
    try:
        # A budget longer than redis-py's own retries: the hit sees the cluster's error itself.
        async for store in _store(cluster.url, RedisMode.cluster, clock, tmp_path, hit_budget_s=10):
            recorder = Recorder(store, Spool(tmp_path / "spool", 1 << 20))
            assert (await hit(recorder, ip="198.51.100.1")).counted
            owner = cluster.owner_of(b"demo.local")
            slot = key_slot(b"{demo.local}")
            admin = redis.Redis(port=owner.port, socket_timeout=2)
            try:
                admin.execute_command("CLUSTER", "DELSLOTS", slot)
                results = [await hit(recorder, ip=f"198.51.100.{n}") for n in range(2, 5)]
                assert all(r.spooled for r in results), results
                admin.execute_command("CLUSTER", "ADDSLOTS", slot)
            finally:
                admin.close()
            cluster.wait_ok()
            await tick(recorder)
            keys = store.keys.site("demo.local")
            assert int(await store.redis.hget(keys.totals, "pageviews")) == 4
    finally:
        cluster.stop()


async def test_sentinel_counts_two_visitors_as_two(
    sentinel: ValkeySentinel, clock: FakeClock, tmp_path: Path
) -> None:
    async for store in _store(sentinel.url, RedisMode.sentinel, clock, tmp_path):
        await _two_visitors_are_two(store, clock)


def _all_site_keys(keys: SiteKeys) -> list[str]:
    """Every key a site has: its properties, its dated keys, and each script's KEYS list."""
    day = date(2026, 11, 25)
    periods = Periods.of_day(day, WeekStart.monday)
    arguments = {
        "day": day,
        "minute": 29_400_000,
        "periods": periods,
        "today": day,
        "key": keys.visitors_hll(day),
        "hlls": keys.snapshot_hll_keys(periods),
        "period": "week",
        "pass_id": "5e1f0a2b",
    }
    names = []
    for name, member in inspect.getmembers(type(keys)):
        if isinstance(member, property):
            names.append(getattr(keys, name))
        elif name in ("visitors_of", "top_of"):
            names += [getattr(keys, name)(span, day) for span in SPANS]
        elif inspect.isfunction(member) and not name.startswith("_"):
            wanted = list(inspect.signature(member).parameters)[1:]
            made = getattr(keys, name)(*(arguments[p] for p in wanted))
            names += [made] if isinstance(made, str) else list(made)
    return names


def test_every_key_of_a_site_is_in_one_cluster_slot() -> None:
    for site in ("demo.local", "svhttdl.travinh.gov.vn", "a", "x-y_z.9"):
        names = _all_site_keys(Keys("vs").site(site))
        assert len(names) >= 15
        assert {key_slot(n.encode()) for n in names} == {key_slot(site.encode())}, names
