"""Data loss in the store: the aggregator's snapshot brings every figure back, once."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from aggregator.rollup import run_pass
from aggregator.snapshot import Snapshots
from counter.access import KeyScope, issue_key, revoke_key
from counter.clock import FakeClock
from counter.figures.adjustments import adjust_total
from counter.figures.imports import DayRow, import_rows
from counter.figures.pages import carry_pages, set_pages
from counter.record.recorder import Recorder
from counter.replies import text
from counter.sites import Site, make_site
from counter.storage.store import Store
from tests.conftest import VN
from tests.helpers import hit


async def wipe(store: Store) -> None:
    """What FLUSHALL does to this test's namespace (the server is shared: only our keys)."""
    keys = [k async for k in store.redis.scan_iter(match=f"{store.keys.prefix}:*")]
    await store.redis.delete(*keys)


async def visits(recorder: Recorder, start: int, count: int, url: str = "/a") -> None:
    for n in range(start, start + count):
        await hit(recorder, url, ip=f"198.51.100.{n}")


async def totals(store: Store, clock: FakeClock, snapshots: Snapshots) -> dict[str, Any]:
    return (await run_pass(store, clock.now(), snapshots=snapshots)).summaries["demo.local"]


@pytest.fixture
def snapshots(store: Store, tmp_path: Path) -> Snapshots:
    store.settings.snapshot_interval_s = 0  # every change, every pass (the spreading is below)
    return Snapshots(store, tmp_path / "snapshot")


async def test_a_flushed_store_gets_every_figure_back_and_keeps_what_came_after(
    store: Store, recorder: Recorder, site: Site, clock: FakeClock, snapshots: Snapshots
) -> None:
    await visits(recorder, 0, 5)
    await adjust_total(store, "demo.local", 1000, "old counter")
    before = await totals(store, clock, snapshots)
    assert before["total"] == 1000
    await wipe(store)
    await visits(recorder, 100, 2, "/b")  # counted after the loss (the API still knew the site)
    restoring = await run_pass(store, clock.now(), snapshots=snapshots)
    assert restoring.restored is not None
    assert restoring.restored.sites_added == ["demo.local"]
    assert "demo.local" not in restoring.summaries  # held a pass, for the workers' journals
    after = await totals(store, clock, snapshots)
    assert after["total"] == 1002
    assert after["pageviews"]["today"] == 7
    assert await store.registry.ids() == ["demo.local"]
    views = await store.redis.hgetall(store.keys.site(site.id).page_views)
    assert views == {b"/a": b"5", b"/b": b"2"}
    ledger = await store.redis.lrange(store.keys.site(site.id).adjustments, 0, -1)
    assert len(ledger) == 1
    again = await run_pass(store, clock.now(), snapshots=snapshots)  # restored once, not twice
    assert again.restored is not None
    assert again.restored.sites_added == []
    assert again.summaries["demo.local"]["total"] == 1002
    assert again.mismatches == {}


async def test_a_store_rewound_to_an_old_backup_keeps_the_larger_figures(
    store: Store, recorder: Recorder, site: Site, clock: FakeClock, snapshots: Snapshots
) -> None:
    await visits(recorder, 0, 3)
    await totals(store, clock, snapshots)
    backup = {
        k: await store.redis.dump(k)
        async for k in store.redis.scan_iter(match=f"{store.keys.prefix}:*")
    }
    await visits(recorder, 10, 4)
    newer = await totals(store, clock, snapshots)
    assert newer["total"] == 7
    await wipe(store)
    for key, value in backup.items():  # restore the old backup
        await store.redis.restore(key, 0, value)
    report = await run_pass(store, clock.now(), snapshots=snapshots)
    assert report.restored is not None
    assert report.restored.sites_raised == ["demo.local"]
    assert report.summaries["demo.local"]["total"] == 7


async def test_a_snapshot_of_another_store_is_never_merged(
    store: Store, recorder: Recorder, site: Site, clock: FakeClock, snapshots: Snapshots
) -> None:
    await visits(recorder, 0, 3)
    await totals(store, clock, snapshots)
    await store.redis.hset(store.keys.epoch, "id", "somebody-else")
    await wipe(store)
    await store.redis.hset(store.keys.epoch, mapping={"id": "somebody-else", "generation": 0})
    report = await run_pass(store, clock.now(), snapshots=snapshots)
    assert report.sites == 0
    assert report.restored is not None
    assert not report.restored.registry_restored


async def test_snapshots_are_written_atomically_and_only_when_figures_change(
    store: Store,
    recorder: Recorder,
    site: Site,
    clock: FakeClock,
    snapshots: Snapshots,
    tmp_path: Path,
) -> None:
    await visits(recorder, 0, 2)
    first = await run_pass(store, clock.now(), snapshots=snapshots)
    unchanged = await run_pass(store, clock.now(), snapshots=snapshots)
    await visits(recorder, 5, 1)
    changed = await run_pass(store, clock.now(), snapshots=snapshots)
    assert (first.snapshots_written, unchanged.snapshots_written, changed.snapshots_written) == (
        1,
        0,
        1,
    )
    files = sorted(p.name for p in (tmp_path / "snapshot").rglob("*"))
    assert files == ["demo.local.json", "manifest.json", "sites"]
    snap = snapshots.site_snapshot("demo.local")
    assert snap is not None
    assert snap["totals"]["pageviews"] == 3


async def test_snapshots_are_spread_over_the_interval_on_a_busy_network(
    store: Store, recorder: Recorder, clock: FakeClock, tmp_path: Path
) -> None:
    store.settings.snapshot_interval_s = 30
    store.settings.aggregate_interval_s = 5
    snapshots = Snapshots(store, tmp_path / "snapshot")
    for n in range(60):
        await store.registry.put(make_site(id=f"s{n}.vn", domains=[f"s{n}.vn"]))
        await hit(recorder, site=f"s{n}.vn", origin=f"https://s{n}.vn")
    # A new site is written in its first pass, however many there are (no journal has its
    # config); from then on only hits change, which the journals cover meanwhile.
    assert (await run_pass(store, clock.now(), snapshots=snapshots)).snapshots_written == 60
    clock.advance(seconds=30)
    for n in range(60):
        await hit(recorder, site=f"s{n}.vn", origin=f"https://s{n}.vn", ip="198.51.100.2")
    written = []
    for _ in range(4):
        written.append((await run_pass(store, clock.now(), snapshots=snapshots)).snapshots_written)
        clock.advance(seconds=5)
    assert written == [25, 25, 10, 0]  # at least 25 a pass, every site once
    await hit(recorder, site="s0.vn", origin="https://s0.vn")  # changed, but written 20 s ago
    assert (await run_pass(store, clock.now(), snapshots=snapshots)).snapshots_written == 0
    clock.advance(seconds=10)
    assert (await run_pass(store, clock.now(), snapshots=snapshots)).snapshots_written == 1


async def _issue(store: Store) -> None:
    await issue_key(
        store.redis, store.keys, "demo.local", KeyScope.ingest, "cms", store.clock.now()
    )


async def _revoke(store: Store) -> None:
    (key_id,) = [text(k) for k in await store.redis.hkeys(store.keys.site("demo.local").access)]
    await revoke_key(store.redis, store.keys, "demo.local", key_id, store.clock.now())


async def _import_day(store: Store) -> None:
    yesterday = (store.clock.now() - timedelta(days=1)).astimezone(VN).date()
    await import_rows(store, "demo.local", [DayRow(yesterday, 70, 50, 40)])


async def _reconfigure(store: Store) -> None:
    site = await store.registry.get("demo.local")
    await store.registry.put(site.model_copy(update={"online_window_s": 120}))


NOT_REPLAYED: dict[str, Callable[[Store], Awaitable[Any]]] = {
    "adjustment": lambda store: adjust_total(store, "demo.local", 1000, "old counter"),
    "page set": lambda store: set_pages(store, "demo.local", [("/b", 40)], "old CMS figure"),
    "page carried": lambda store: carry_pages(store, "demo.local", "nukeviet", {"/c": 7}),
    "site key": _issue,
    "site config": _reconfigure,
    "history import": _import_day,
}


@pytest.mark.parametrize("change", NOT_REPLAYED)
async def test_what_no_journal_replays_is_snapshotted_in_the_next_pass_whatever_the_interval(
    store: Store, recorder: Recorder, site: Site, clock: FakeClock, tmp_path: Path, change: str
) -> None:
    store.settings.snapshot_interval_s = 30
    snapshots = Snapshots(store, tmp_path / "snapshot")
    await visits(recorder, 0, 2)
    assert (await run_pass(store, clock.now(), snapshots=snapshots)).snapshots_written == 1
    clock.advance(seconds=5)
    await visits(recorder, 10, 1)  # hits alone wait for the interval (the journals hold them)
    assert (await run_pass(store, clock.now(), snapshots=snapshots)).snapshots_written == 0
    clock.advance(seconds=5)
    before = snapshots.site_snapshot(site.id)
    await NOT_REPLAYED[change](store)
    assert (await run_pass(store, clock.now(), snapshots=snapshots)).snapshots_written == 1
    assert snapshots.site_snapshot(site.id) != before
    clock.advance(seconds=5)
    assert (await run_pass(store, clock.now(), snapshots=snapshots)).snapshots_written == 0


async def test_a_revoked_site_key_is_snapshotted_in_the_next_pass(
    store: Store, recorder: Recorder, site: Site, clock: FakeClock, tmp_path: Path
) -> None:
    store.settings.snapshot_interval_s = 30
    snapshots = Snapshots(store, tmp_path / "snapshot")
    await _issue(store)
    await run_pass(store, clock.now(), snapshots=snapshots)
    clock.advance(seconds=5)
    await _revoke(store)  # the hash keeps its length: the record itself changed
    assert (await run_pass(store, clock.now(), snapshots=snapshots)).snapshots_written == 1
    snap = snapshots.site_snapshot(site.id)
    assert snap is not None
    assert all('"revoked_at":null' not in record for record in snap["access"].values())


async def test_an_aggregator_that_restarts_still_sees_what_changed_since_the_last_snapshot(
    store: Store, recorder: Recorder, clock: FakeClock, tmp_path: Path
) -> None:
    store.settings.snapshot_interval_s = 30
    store.settings.aggregate_interval_s = 5
    for n in range(30):
        await store.registry.put(make_site(id=f"s{n:02}.vn", domains=[f"s{n:02}.vn"]))
        await hit(recorder, site=f"s{n:02}.vn", origin=f"https://s{n:02}.vn")
    await run_pass(store, clock.now(), snapshots=Snapshots(store, tmp_path / "snapshot"))
    clock.advance(seconds=5)
    await adjust_total(store, "s29.vn", 1000, "old counter")  # while the aggregator restarts
    # The new aggregator rewrites every site in its turn (it knows not what they had), 25 a
    # pass; the marks in the manifest put the adjusted one, last in line, in the first.
    again = Snapshots(store, tmp_path / "snapshot")
    assert (await run_pass(store, clock.now(), snapshots=again)).snapshots_written == 26
    snap = again.site_snapshot("s29.vn")
    assert snap is not None and snap["offsets"]["visits"] == 999


async def test_midnight_alone_does_not_make_every_site_due_at_once(
    store: Store, recorder: Recorder, site: Site, clock: FakeClock, snapshots: Snapshots
) -> None:
    store.settings.snapshot_interval_s = 30
    clock.advance(hours=13, minutes=59, seconds=50)  # 23:59:50 in Hà Nội
    await visits(recorder, 0, 2)
    assert (await run_pass(store, clock.now(), snapshots=snapshots)).snapshots_written == 1
    clock.advance(seconds=5)
    await visits(recorder, 10, 1)  # today's row, a past day's at midnight
    clock.advance(seconds=10)
    midnight = await run_pass(store, clock.now(), snapshots=snapshots)
    assert (midnight.days_closed, midnight.snapshots_written) == (1, 0)
    clock.advance(seconds=15)  # the interval since the last snapshot
    assert (await run_pass(store, clock.now(), snapshots=snapshots)).snapshots_written == 1
    clock.advance(seconds=5)
    await _import_day(store)  # but an import of a past day, on the same day, at once
    assert (await run_pass(store, clock.now(), snapshots=snapshots)).snapshots_written == 1


async def test_a_site_removed_while_a_pass_runs_is_dropped_from_the_snapshot_not_a_loss(
    store: Store, recorder: Recorder, site: Site, clock: FakeClock, snapshots: Snapshots
) -> None:
    await visits(recorder, 0, 2)
    await totals(store, clock, snapshots)
    await visits(recorder, 10, 1)
    sites = await store.registry.all()
    in_flight = await run_pass(store, clock.now())
    await store.registry.remove(site.id)  # by its operator, before the pass's snapshot
    assert await snapshots.write(sites, in_flight.fingerprints) == 0  # no StoreLost
    manifest = snapshots.manifest()
    assert manifest is not None and manifest["sites"] == []
    assert snapshots.site_snapshot(site.id) is None
    assert await store.redis.exists(store.keys.epoch)
